#include "workload/dns_client.hpp"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "workload/signals.hpp"
#include "workload/truth.hpp"

namespace fc::workload::dns {

namespace {

struct FreeAddrinfo {
    void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

// The same address whatever its spelling ("fd00:0::1" = "fd00::1").
std::string canonical_addr(const std::string& text) {
    unsigned char buf[16];
    char out[INET6_ADDRSTRLEN];
    const int af = text.find(':') != std::string::npos ? AF_INET6 : AF_INET;
    if (inet_pton(af, text.c_str(), buf) != 1 || !inet_ntop(af, buf, out, sizeof out)) return text;
    return out;
}

void add_distinct(std::vector<std::string>& v, const std::string& a) {
    if (std::find(v.begin(), v.end(), a) == v.end()) v.push_back(a);
}

}  // namespace

std::string rc_name(int rc) {
    switch (rc) {
        case 0:
            return "ok";
        case EAI_BADFLAGS:
            return "EAI_BADFLAGS";
        case EAI_NONAME:
            return "EAI_NONAME";
        case EAI_AGAIN:
            return "EAI_AGAIN";
        case EAI_FAIL:
            return "EAI_FAIL";
        case EAI_NODATA:
            return "EAI_NODATA";
        case EAI_FAMILY:
            return "EAI_FAMILY";
        case EAI_SOCKTYPE:
            return "EAI_SOCKTYPE";
        case EAI_SERVICE:
            return "EAI_SERVICE";
        case EAI_ADDRFAMILY:
            return "EAI_ADDRFAMILY";
        case EAI_MEMORY:
            return "EAI_MEMORY";
        case EAI_SYSTEM:
            return "EAI_SYSTEM";
        case EAI_OVERFLOW:
            return "EAI_OVERFLOW";
        default:
            return "EAI_" + std::to_string(rc);
    }
}

std::string rc_outcome(int rc) {
    if (rc == 0) return "answer";
    if (rc == EAI_NONAME) return "nxdomain";
    // glibc: the name exists but has no address of the family asked for.
    if (rc == EAI_NODATA || rc == EAI_ADDRFAMILY) return "nodata";
    // SERVFAIL, REFUSED and a resolver timeout all end here.
    if (rc == EAI_AGAIN) return "temporary";
    return "error";
}

std::vector<std::string> nameservers(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        std::istringstream f(line);
        std::string key, value;
        if (f >> key >> value && key == "nameserver") out.push_back(value);
    }
    return out;
}

nlohmann::ordered_json to_json(const Lookup& l, const std::string& host,
                               const std::string& workload) {
    return {{"host", host},
            {"workload", workload},
            {"lookup", l.index},
            {"name", l.name},
            {"family", to_string(l.family)},
            {"pid", l.pid},
            {"tid", l.tid},
            {"t_start_ns", l.t_start_ns},
            {"t_end_ns", l.t_end_ns},
            {"rc", l.rc},
            {"rc_name", rc_name(l.rc)},
            {"outcome", rc_outcome(l.rc)},
            {"expected",
             l.expected ? nlohmann::ordered_json(*l.expected) : nlohmann::ordered_json(nullptr)},
            {"errno", l.err},
            {"v4", l.v4},
            {"v6", l.v6},
            {"server", l.server}};
}

int run_dns_client(const ClientOptions& o) {
    if (o.names.empty()) throw std::runtime_error("no names to look up");
    // The resolver reads this file; make sure it is the one the harness wrote
    // (ip netns exec bind-mounts /etc/netns/<ns>/resolv.conf) before any
    // query leaves, so that no lookup goes to another server.
    std::ifstream rf(o.resolv_conf);
    if (!rf) throw std::runtime_error("cannot read " + o.resolv_conf + ": " + std::strerror(errno));
    const std::string text((std::istreambuf_iterator<char>(rf)), {});
    const auto servers = nameservers(text);
    if (servers.empty()) throw std::runtime_error(o.resolv_conf + ": no nameserver line");
    const std::string server = canonical_addr(servers.front());
    if (!o.server.empty() && server != canonical_addr(o.server))
        throw std::runtime_error(
            o.resolv_conf + ": first nameserver is " + servers.front() + ", expected " + o.server +
            " (run through `ip netns exec` with /etc/netns/<ns>/resolv.conf?)");
    for (const auto& n : o.names) expected_for(o.expect, n, o.family, o.servfail);  // validates

    TruthWriter writer(o.truth_path);
    StopSignals signals;
    std::map<std::string, uint32_t> outcomes;
    std::vector<std::string> mismatches;
    const int64_t pid = getpid(), tid = gettid();
    std::fprintf(stderr, "workload %s: %u lookups of %zu names via %s (family %s)\n",
                 o.workload.c_str(), o.lookups, o.names.size(), server.c_str(),
                 to_string(o.family));
    uint32_t done = 0;
    for (; done < o.lookups; ++done) {
        if (done > 0 && signals.wait(static_cast<int>(o.interval.count() / 1'000'000))) break;
        if (signals.take()) break;
        Lookup l;
        l.index = done;
        l.name = o.names[done % o.names.size()];
        l.family = o.family;
        l.pid = pid;
        l.tid = tid;
        l.server = server;
        l.expected = expected_for(o.expect, l.name, o.family, o.servfail);
        addrinfo hints{};
        hints.ai_family = to_af(o.family);
        hints.ai_socktype = SOCK_STREAM;  // each address once
        addrinfo* res = nullptr;
        l.t_start_ns = realtime_ns();
        l.rc = getaddrinfo(l.name.c_str(), nullptr, &hints, &res);
        l.t_end_ns = realtime_ns();
        if (l.rc == EAI_SYSTEM) l.err = errno;
        std::unique_ptr<addrinfo, FreeAddrinfo> owned(res);
        for (const addrinfo* a = res; a; a = a->ai_next) {
            char buf[INET6_ADDRSTRLEN] = "";
            if (a->ai_family == AF_INET) {
                inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a->ai_addr)->sin_addr, buf,
                          sizeof buf);
                add_distinct(l.v4, buf);
            } else if (a->ai_family == AF_INET6) {
                inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a->ai_addr)->sin6_addr,
                          buf, sizeof buf);
                add_distinct(l.v6, buf);
            }
        }
        writer.write(to_json(l, o.host, o.workload));
        const std::string outcome = rc_outcome(l.rc);
        ++outcomes[outcome];
        if (l.expected && *l.expected != outcome)
            mismatches.push_back("lookup " + std::to_string(done) + " " + l.name + ": " + outcome +
                                 " (" + rc_name(l.rc) + "), expected " + *l.expected);
    }
    std::string summary;
    for (const auto& [outcome, n] : outcomes)
        summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + outcome;
    std::fprintf(stderr, "workload %s: %u lookups: %s\n", o.workload.c_str(), done,
                 summary.empty() ? "none" : summary.c_str());
    if (done < o.lookups) {
        std::fprintf(stderr, "workload %s: stopped by a signal after %u of %u lookups\n",
                     o.workload.c_str(), done, o.lookups);
        return 1;
    }
    if (mismatches.empty()) return 0;
    std::fprintf(stderr, "workload %s: %zu of %u lookups differ from --expect %s:\n",
                 o.workload.c_str(), mismatches.size(), o.lookups, o.expect.c_str());
    for (size_t i = 0; i < mismatches.size() && i < 10; ++i)
        std::fprintf(stderr, "  %s\n", mismatches[i].c_str());
    if (mismatches.size() > 10) std::fprintf(stderr, "  ...\n");
    std::fprintf(stderr, "workload %s: %zu of %u lookups not as expected (%s)\n",
                 o.workload.c_str(), mismatches.size(), o.lookups, o.expect.c_str());
    return 1;
}

}  // namespace fc::workload::dns
