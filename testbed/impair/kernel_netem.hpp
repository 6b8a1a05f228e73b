// The kernel-netem fallback, kept small and apart: where the kernel has
// sch_netem, the same specification can drive `tc qdisc ... netem` on a veth
// pair joining A and B directly (no per-packet log then). The choice between
// this and the user-space engine is made at start-up by probing and reported.
#pragma once

#include <string>

namespace fc::impair {

struct NetemProbe {
    bool available = false;
    std::string detail;  // tc's answer when unavailable
};
// Tries `tc qdisc add dev lo root netem delay 1ms` in a throwaway namespace.
NetemProbe probe_kernel_netem();

class KernelNetemLink {
  public:
    KernelNetemLink(const std::string& ns_a, const std::string& dev_a, const std::string& ns_b,
                    const std::string& dev_b, const std::string& ab, const std::string& ba,
                    unsigned long long seed);
    ~KernelNetemLink();
    void set(int dir, const std::string& spec);  // tc qdisc change

  private:
    std::string ns_[2], dev_[2];
    unsigned long long seed_;
};

}  // namespace fc::impair
