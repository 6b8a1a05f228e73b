#include "sys.hpp"

#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace fc::impair {

bool netns_exists(const std::string& name) {
    return name.find('/') == std::string::npos &&
           access(("/var/run/netns/" + name).c_str(), F_OK) == 0;
}

int socket_in_netns(const std::string& name) {
    int result = -1;
    std::string err;
    std::thread t([&] {
        const int nsfd = open(("/var/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC);
        if (nsfd < 0) {
            err = "cannot open network namespace " + name + ": " + std::strerror(errno);
            return;
        }
        if (setns(nsfd, CLONE_NEWNET) < 0) {
            err = "setns(" + name + "): " + std::strerror(errno);
            close(nsfd);
            return;
        }
        close(nsfd);
        result = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (result < 0) err = std::string("socket: ") + std::strerror(errno);
    });
    t.join();
    if (result < 0) throw std::runtime_error(err);
    return result;
}

namespace {
bool ethtool(int fd, const std::string& dev, uint32_t cmd, uint32_t* data) {
    ethtool_value ev{};
    ev.cmd = cmd;
    ev.data = data ? *data : 0;
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, dev.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = reinterpret_cast<char*>(&ev);
    if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) return false;
    if (data) *data = ev.data;
    return true;
}
}  // namespace

std::string disable_offloads(int fd, const std::string& dev) {
    std::string failed;
    // Order matters: TSO depends on SG and checksumming.
    const struct {
        uint32_t cmd;
        const char* name;
    } sets[] = {{ETHTOOL_STSO, "tso"},
                {ETHTOOL_SGSO, "gso"},
                {ETHTOOL_SGRO, "gro"},
                {ETHTOOL_SSG, "sg"},
                {ETHTOOL_STXCSUM, "tx-csum"}};
    for (const auto& s : sets) {
        uint32_t off = 0;
        if (!ethtool(fd, dev, s.cmd, &off))
            failed += std::string(failed.empty() ? "" : ",") + s.name;
    }
    return failed;
}

bool offloads_off(int fd, const std::string& dev) {
    for (uint32_t cmd : {ETHTOOL_GTSO, ETHTOOL_GGSO, ETHTOOL_GGRO, ETHTOOL_GTXCSUM}) {
        uint32_t v = 1;
        if (!ethtool(fd, dev, cmd, &v) || v != 0) return false;
    }
    return true;
}

int ifindex_of(const std::string& dev) { return static_cast<int>(if_nametoindex(dev.c_str())); }

uint64_t tx_dropped_of(const std::string& dev) {
    ifaddrs* ifa = nullptr;
    if (getifaddrs(&ifa) < 0) return 0;
    uint64_t v = 0;
    for (ifaddrs* p = ifa; p; p = p->ifa_next) {
        if (p->ifa_addr && p->ifa_addr->sa_family == AF_PACKET && p->ifa_data &&
            dev == p->ifa_name) {
            v = static_cast<const rtnl_link_stats*>(p->ifa_data)->tx_dropped;
            break;
        }
    }
    freeifaddrs(ifa);
    return v;
}

void write_sysctl(const std::string& path, const std::string& value) {
    std::ofstream f(path);
    f << value;
    if (!f) throw std::runtime_error("cannot write " + path);
}

int64_t realtime_ns() {
    timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

}  // namespace fc::impair
