#include "kernel_netem.hpp"

#include <sstream>
#include <vector>

#include "sys.hpp"

namespace fc::impair {
namespace {
std::vector<std::string> words(const std::string& s) {
    std::istringstream in(s);
    std::vector<std::string> w;
    std::string t;
    while (in >> t) w.push_back(t);
    return w;
}
}  // namespace

NetemProbe probe_kernel_netem() {
    // In a throwaway namespace (unshare -n), so the probe touches no real link.
    const CmdResult r = run_cmd(
        {"unshare", "-n", "tc", "qdisc", "add", "dev", "lo", "root", "netem", "delay", "1ms"});
    NetemProbe p{r.status == 0, r.output};
    if (!p.available && p.detail.empty())
        p.detail = "tc failed (status " + std::to_string(r.status) + ")";
    return p;
}

KernelNetemLink::KernelNetemLink(const std::string& ns_a, const std::string& dev_a,
                                 const std::string& ns_b, const std::string& dev_b,
                                 const std::string& ab, const std::string& ba,
                                 unsigned long long seed)
    : ns_{ns_a, ns_b}, dev_{dev_a, dev_b}, seed_(seed) {
    must_run({"ip", "-n", ns_a, "link", "add", dev_a, "type", "veth", "peer", "name", dev_b,
              "netns", ns_b});
    try {
        set(0, ab);
        set(1, ba);
        must_run({"ip", "-n", ns_a, "link", "set", dev_a, "up"});
        must_run({"ip", "-n", ns_b, "link", "set", dev_b, "up"});
    } catch (...) {
        run_cmd({"ip", "-n", ns_a, "link", "del", dev_a});
        throw;
    }
}

KernelNetemLink::~KernelNetemLink() { run_cmd({"ip", "-n", ns_[0], "link", "del", dev_[0]}); }

void KernelNetemLink::set(int dir, const std::string& spec) {
    std::vector<std::string> cmd = {"tc",  "-n",      ns_[dir], "qdisc", "replace",
                                    "dev", dev_[dir], "root",   "netem"};
    for (auto& w : words(spec)) cmd.push_back(w);
    cmd.push_back("seed");
    cmd.push_back(std::to_string(seed_ * 2 + unsigned(dir)));
    must_run(cmd);
}

}  // namespace fc::impair
