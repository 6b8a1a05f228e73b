#include "readiness.hpp"

#include <chrono>
#include <stdexcept>
#include <thread>

#include "impair/sys.hpp"

namespace fc::harness {

using nlohmann::json;

std::optional<std::string> not_ready_reason(const json& addrs, const json& multicast_routes) {
    for (const json& ifc : addrs) {
        const std::string name = ifc.value("ifname", "?");
        if (name == "lo" || !ifc.contains("addr_info")) continue;
        bool addressed = false, global6 = false, link_local6 = false;
        std::string tentative;
        for (const json& a : ifc["addr_info"]) {
            const std::string family = a.value("family", ""), scope = a.value("scope", "");
            if (family == "inet" || (family == "inet6" && scope == "global")) addressed = true;
            if (family != "inet6") continue;
            if (scope == "global") global6 = true;
            if (scope == "link") link_local6 = true;
            if (a.value("tentative", false)) tentative = a.value("local", "?");
        }
        if (!addressed) continue;
        const std::string state = ifc.value("operstate", "?");
        if (state != "UP") return name + " is " + state + ", not UP";
        if (!global6) continue;
        if (!link_local6) return name + " has no IPv6 link-local address yet";
        if (!tentative.empty()) return name + ": " + tentative + " is still tentative";
        bool mroute = false;
        for (const json& r : multicast_routes)
            if (r.value("dev", "") == name && r.value("dst", "") == "ff00::/8") mroute = true;
        if (!mroute) return name + " has no ff00::/8 multicast route yet";
    }
    return std::nullopt;
}

namespace {

json ip_json(const std::string& ns, std::vector<std::string> args) {
    std::vector<std::string> argv = {"ip", "-j", "-n", ns};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto r = impair::run_cmd(argv);
    if (r.status != 0)
        throw std::runtime_error("ip -n " + ns + " " + args.front() + " failed: " + r.output);
    // iproute2 prints nothing at all (not "[]") for an empty route list.
    if (r.output.find_first_not_of(" \n") == std::string::npos) return json::array();
    return json::parse(r.output);
}

std::optional<std::string> first_not_ready(const std::string& ns) {
    const json addrs = ip_json(ns, {"addr", "show"});
    const json routes = ip_json(ns, {"-6", "route", "show", "table", "local", "type", "multicast"});
    auto why = not_ready_reason(addrs, routes);
    if (why) *why = ns + ": " + *why;
    return why;
}

}  // namespace

double wait_until_ready(const std::vector<std::string>& netns, double timeout_s) {
    using clock = std::chrono::steady_clock;
    const auto t0 = clock::now();
    auto waited = [&] { return std::chrono::duration<double>(clock::now() - t0).count(); };
    for (const std::string& ns : netns) {
        for (;;) {
            const auto why = first_not_ready(ns);
            if (!why) break;
            if (waited() > timeout_s)
                throw std::runtime_error("the topology was not ready after " +
                                         std::to_string(timeout_s) + " s: " + *why);
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    return waited();
}

}  // namespace fc::harness
