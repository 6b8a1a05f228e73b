#include "netns.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <tuple>

namespace fc::test {

namespace {
std::string run(const std::string& cmd, int* rc) {
    FILE* p = popen((cmd + " 2>&1").c_str(), "r");
    if (!p) throw std::runtime_error("popen failed: " + cmd);
    std::string out;
    std::array<char, 512> buf{};
    while (fgets(buf.data(), buf.size(), p)) out += buf.data();
    *rc = pclose(p);
    return out;
}
}  // namespace

uint64_t nft_counter_packets(const std::string& ns, const std::string& table) {
    int rc = 0;
    std::string out = run("ip netns exec " + ns + " nft list table inet " + table, &rc);
    if (rc != 0) throw std::runtime_error("nft list failed: " + out);
    uint64_t total = 0;
    for (size_t pos = 0; (pos = out.find("packets ", pos)) != std::string::npos;) {
        pos += 8;
        total += std::stoull(out.substr(pos));
    }
    return total;
}

uint64_t netstat_counter(const std::string& ns, const std::string& group, const std::string& name) {
    int rc = 0;
    std::string out = run("ip netns exec " + ns + " cat /proc/net/netstat /proc/net/snmp", &rc);
    if (rc != 0) throw std::runtime_error("reading MIB counters failed: " + out);
    // Pairs of lines: "Group: Name1 Name2 ..." then "Group: v1 v2 ...".
    std::istringstream in(out);
    std::string names, values;
    while (std::getline(in, names) && std::getline(in, values)) {
        if (names.rfind(group + ":", 0) != 0) continue;
        std::istringstream n(names), v(values);
        std::string key, val;
        while (n >> key && v >> val)
            if (key == name) return std::stoull(val);
    }
    throw std::runtime_error("no MIB counter " + group + ":" + name);
}

void sh(const std::string& cmd) {
    int rc = 0;
    std::string out = run(cmd, &rc);
    if (rc != 0)
        throw std::runtime_error("command failed (" + std::to_string(rc) + "): " + cmd + "\n" +
                                 out);
}

namespace {
uint32_t inode_of(const std::string& ns) {
    struct stat st {};
    if (stat(("/var/run/netns/" + ns).c_str(), &st) != 0)
        throw std::runtime_error("no namespace " + ns);
    return static_cast<uint32_t>(st.st_ino);
}
}  // namespace

namespace {
// Namespaces alive in this process, removable from a signal handler: a named
// namespace is a bind mount under /var/run/netns, and umount2 + unlink are
// async-signal-safe. Its veth and nftables rules go with it.
constexpr int kMaxLive = 16;
char g_live[kMaxLive][128];

void forget(const std::string& ns) {
    for (auto& slot : g_live)
        if (ns == slot) slot[0] = '\0';
}

void remember(const std::string& ns) {
    for (auto& slot : g_live)
        if (slot[0] == '\0') {
            std::snprintf(slot, sizeof(slot), "%s", ns.c_str());
            return;
        }
}

extern "C" void remove_live_namespaces(int sig) {
    for (auto& slot : g_live)
        if (slot[0] != '\0') {
            umount2(slot, MNT_DETACH);
            unlink(slot);
        }
    _exit(128 + sig);
}

void install_cleanup_handlers() {
    static bool installed = false;
    if (installed) return;
    installed = true;
    struct sigaction sa {};
    sa.sa_handler = remove_live_namespaces;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}
}  // namespace

VethPair::VethPair() {
    install_cleanup_handlers();
    prefix_ = "fc-t" + std::to_string(getpid());
    const std::string& prefix = prefix_;
    client_ = prefix + "-c";
    server_ = prefix + "-s";
    try {
        sh("ip netns add " + client_);
        remember("/var/run/netns/" + client_);
        sh("ip netns add " + server_);
        remember("/var/run/netns/" + server_);
        sh("ip link add " + prefix + "c type veth peer name " + prefix + "s");
        sh("ip link set " + prefix + "c netns " + client_);
        sh("ip link set " + prefix + "s netns " + server_);
        for (const auto& [ns, dev, v4, v6] :
             {std::tuple{client_, prefix + "c", kClientV4, kClientV6},
              std::tuple{server_, prefix + "s", kServerV4, kServerV6}}) {
            const std::string in = "ip -n " + ns + " ";
            sh(in + "link set lo up");
            sh(in + "addr add " + v4 + "/24 dev " + dev);
            sh(in + "addr add " + v6 + "/64 dev " + dev + " nodad");
            sh(in + "link set " + dev + " up");
        }
    } catch (...) {
        sh("ip netns del " + client_ + " || true");
        sh("ip netns del " + server_ + " || true");
        throw;
    }
}

VethPair::~VethPair() {
    forget("/var/run/netns/" + client_);
    forget("/var/run/netns/" + server_);
    // Deleting a namespace deletes the veth end inside it, and the peer with it.
    std::system(("ip netns del " + client_ + " 2>/dev/null").c_str());
    std::system(("ip netns del " + server_ + " 2>/dev/null").c_str());
}

TwoPaths::TwoPaths() {
    install_cleanup_handlers();
    prefix_ = "fc-m" + std::to_string(getpid());
    client_ = prefix_ + "-c";
    server_ = prefix_ + "-s";
    try {
        sh("ip netns add " + client_);
        remember("/var/run/netns/" + client_);
        sh("ip netns add " + server_);
        remember("/var/run/netns/" + server_);
        for (int path : {1, 2}) {
            const std::string p = std::to_string(path);
            const std::string c = prefix_ + "c" + p, s = prefix_ + "s" + p;
            sh("ip link add " + c + " type veth peer name " + s);
            sh("ip link set " + c + " netns " + client_);
            sh("ip link set " + s + " netns " + server_);
            sh("ip -n " + client_ + " addr add 198.18." + p + ".1/24 dev " + c);
            sh("ip -n " + server_ + " addr add 198.18." + p + ".2/24 dev " + s);
            sh("ip -n " + client_ + " addr add fd00:fc" + p + "::1/64 dev " + c + " nodad");
            sh("ip -n " + server_ + " addr add fd00:fc" + p + "::2/64 dev " + s + " nodad");
            sh("ip -n " + client_ + " link set " + c + " up");
            sh("ip -n " + server_ + " link set " + s + " up");
        }
        for (const std::string& ns : {client_, server_}) {
            sh("ip -n " + ns + " link set lo up");
            sh("ip netns exec " + ns + " sysctl -qw net.mptcp.enabled=1");
            sh("ip -n " + ns + " mptcp limits set subflows 2 add_addr_accepted 2");
        }
        sh("ip -n " + client_ + " mptcp endpoint add " + kClientV4Path2 + " id " +
           std::to_string(kClientEndpointId) + " dev " + prefix_ + "c2 subflow");
    } catch (...) {
        sh("ip netns del " + client_ + " || true");
        sh("ip netns del " + server_ + " || true");
        throw;
    }
}

TwoPaths::~TwoPaths() {
    forget("/var/run/netns/" + client_);
    forget("/var/run/netns/" + server_);
    std::system(("ip netns del " + client_ + " 2>/dev/null").c_str());
    std::system(("ip netns del " + server_ + " 2>/dev/null").c_str());
}

uint32_t TwoPaths::client_inode() const { return inode_of(client_); }
uint32_t TwoPaths::server_inode() const { return inode_of(server_); }

uint32_t VethPair::client_inode() const { return inode_of(client_); }
uint32_t VethPair::server_inode() const { return inode_of(server_); }

InNetns::InNetns(const std::string& name) {
    self_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    int target = open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
    if (self_ < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
        int err = errno;
        if (target >= 0) close(target);
        throw std::runtime_error("cannot enter namespace " + name + ": " + std::strerror(err));
    }
    close(target);
}

InNetns::~InNetns() {
    if (self_ >= 0) {
        setns(self_, CLONE_NEWNET);
        close(self_);
    }
}

Fd::~Fd() {
    if (fd_ >= 0) close(fd_);
}

Fd& Fd::operator=(Fd&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0) close(fd_);
        fd_ = o.release();
    }
    return *this;
}

tcp_info read_tcp_info(int fd) {
    tcp_info ti{};
    socklen_t len = sizeof(ti);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
        throw std::runtime_error(std::string("TCP_INFO: ") + std::strerror(errno));
    return ti;
}

bool wait_tcp_closed(int fd, int timeout_ms) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
        if (read_tcp_info(fd).tcpi_state == 7 /* TCP_CLOSE */) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return false;
}

}  // namespace fc::test
