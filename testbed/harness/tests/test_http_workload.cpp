// The http workload's pieces that need no namespace: nginx's configuration,
// ab's command line and summary, and the access log -> truth conversion.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "experiment.hpp"
#include "http_workload.hpp"

using namespace fc::harness;
using json = nlohmann::json;

namespace {

Workload http_workload(const std::string& addr) {
    Workload w;
    w.name = "web6";
    w.type = WorkloadType::http;
    w.client = "client";
    w.server = "server";
    w.server_addr = addr;
    w.port = 8080;
    w.connections = 100;
    w.concurrency = 4;
    w.response = 100000;
    return w;
}

HttpPaths paths() { return {"/r/rep-0/http/web6", "/r/rep-0/logs/nginx-web6-error.log"}; }

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST(HttpWorkload, NginxConfigListensOnExactlyTheAddress) {
    const std::string v6 = nginx_config(http_workload("fd00:fc:1::2"), paths());
    EXPECT_TRUE(has(v6, "listen [fd00:fc:1::2]:8080 ipv6only=on;")) << v6;
    const std::string v4 = nginx_config(http_workload("198.18.1.2"), paths());
    EXPECT_TRUE(has(v4, "listen 198.18.1.2:8080;")) << v4;
    EXPECT_FALSE(has(v4, "ipv6only"));
    for (const char* part :
         {"daemon off;", "master_process on;", "worker_processes 1;", "user root;",
          "pid /r/rep-0/http/web6/nginx.pid;", "error_log /r/rep-0/logs/nginx-web6-error.log",
          "worker_connections 1024;", "keepalive_timeout 0;",
          "access_log /r/rep-0/http/web6/access.log fc;", "root /r/rep-0/http/web6/www;",
          "client_body_temp_path /r/rep-0/http/web6/tmp/client_body;",
          "'$remote_addr $remote_port $server_addr $server_port $connection $bytes_sent "
          "$status $msec $request_time $request_length'"})
        EXPECT_TRUE(has(v4, part)) << part << "\n" << v4;
    // Exactly one listener.
    EXPECT_EQ(v4.find("listen"), v4.rfind("listen"));
}

TEST(HttpWorkload, AbCommandLinesShareTheRequests) {
    Workload w = http_workload("fd00:fc:1::2");
    w.connections = 10;
    w.concurrency = 4;
    const auto argvs = ab_argvs(w);
    ASSERT_EQ(argvs.size(), 4u);
    EXPECT_EQ(argvs[0], (std::vector<std::string>{"ab", "-n", "3", "-c", "1", "-q", "-r", "-s",
                                                  "10", "http://[fd00:fc:1::2]:8080/web6.bin"}));
    uint32_t total = 0;
    for (const auto& a : argvs) total += static_cast<uint32_t>(std::stoul(a[2]));
    EXPECT_EQ(total, 10u);
    EXPECT_EQ(argvs[3][2], "2");
    EXPECT_EQ(ab_argvs(http_workload("198.18.1.2")).back().back(),
              "http://198.18.1.2:8080/web6.bin");
}

TEST(HttpWorkload, AbSummary) {
    const std::string out =
        "Concurrency Level:      4\n"
        "Time taken for tests:   1.234 seconds\n"
        "Complete requests:      100\n"
        "Failed requests:        3\n"
        "   (Connect: 0, Receive: 0, Length: 3, Exceptions: 0)\n"
        "Non-2xx responses:      2\n"
        "Total transferred:      10023400 bytes\n";
    const AbSummary s = parse_ab_output(out);
    ASSERT_TRUE(s.complete && s.failed && s.non_2xx);
    EXPECT_EQ(*s.complete, 100u);
    EXPECT_EQ(*s.failed, 3u);
    EXPECT_EQ(*s.non_2xx, 2u);
    EXPECT_FALSE(parse_ab_output("apr_socket_recv: Connection refused (111)\n").complete);
}

TEST(HttpWorkload, AccessLogBecomesMirroredTruth) {
    const Workload w = http_workload("fd00:fc:1::2");
    const std::string log =
        "fd00:fc:1::1 41000 fd00:fc:1::2 8080 7 100245 200 1700000000.250 0.030 95\n"
        "\n"
        "fd00:fc:1::1 41002 fd00:fc:1::2 8080 8 100245 404 1700000001.000 0.000 95\n";
    const HttpTruth t = access_log_to_truth(log, w);
    ASSERT_EQ(t.server.size(), 2u);
    ASSERT_EQ(t.client.size(), 2u);
    ASSERT_EQ(t.problems.size(), 1u);
    EXPECT_TRUE(has(t.problems[0], "line 3: HTTP status 404")) << t.problems[0];

    const json s = json::parse(t.server[0]), c = json::parse(t.client[0]);
    EXPECT_EQ(s["host"], "server");
    EXPECT_EQ(s["role"], "server");
    EXPECT_EQ(s["workload"], "web6");
    EXPECT_EQ(s["type"], "http");
    EXPECT_EQ(s["conn"], 0);
    EXPECT_EQ(s["family"], 6);
    EXPECT_EQ(s["local"], "fd00:fc:1::2");
    EXPECT_EQ(s["lport"], 8080);
    EXPECT_EQ(s["remote"], "fd00:fc:1::1");
    EXPECT_EQ(s["rport"], 41000);
    EXPECT_EQ(s["t_end_ns"], 1'700'000'000'250'000'000);
    EXPECT_EQ(s["t_start_ns"], 1'700'000'000'220'000'000);
    EXPECT_EQ(s["app_bytes_sent"], 100245);
    EXPECT_EQ(s["app_bytes_received"], 95);
    EXPECT_EQ(s["outcome"], "ok");
    EXPECT_EQ(s["closed_by"], "fin");
    EXPECT_EQ(s["tcp_info_at_close"], false);
    EXPECT_TRUE(s["tcp_info"].is_null());

    EXPECT_EQ(c["host"], "client");
    EXPECT_EQ(c["role"], "client");
    EXPECT_EQ(c["local"], "fd00:fc:1::1");
    EXPECT_EQ(c["lport"], 41000);
    EXPECT_EQ(c["remote"], "fd00:fc:1::2");
    EXPECT_EQ(c["rport"], 8080);
    EXPECT_EQ(c["t_start_ns"], 1'699'999'999'220'000'000);
    EXPECT_EQ(c["t_end_ns"], 1'700'000'001'250'000'000);
    EXPECT_EQ(c["t_start_connect"], false);
    EXPECT_EQ(c["app_bytes_sent"], 95);
    EXPECT_EQ(c["app_bytes_received"], 100245);
    EXPECT_EQ(json::parse(t.client[1])["conn"], 1);
}

TEST(HttpWorkload, MalformedAccessLogLineIsNamed) {
    const Workload w = http_workload("198.18.1.2");
    try {
        access_log_to_truth(
            "198.18.1.1 1 198.18.1.2 8080 1 10 200 17.25 0.0 5\n"
            "198.18.1.1 1 198.18.1.2 8080 1 10 200\n",
            w);
        FAIL() << "no error";
    } catch (const std::runtime_error& e) {
        EXPECT_TRUE(has(e.what(), "line 1")) << e.what();  // "17.25" is not S.mmm
    }
    EXPECT_THROW(access_log_to_truth("198.18.1.1 1 198.18.1.2 8080 1 10 200\n", w),
                 std::runtime_error);
}
