#include "runner.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <stdexcept>

#include "kernel_netem.hpp"
#include "sys.hpp"

namespace fc::impair {
namespace {

int64_t mono_ns() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

sockaddr_un unix_addr(const std::string& path) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (path.size() >= sizeof a.sun_path) throw std::runtime_error("socket path too long: " + path);
    std::strcpy(a.sun_path, path.c_str());
    return a;
}

int listen_control(const std::string& path) {
    const sockaddr_un a = unix_addr(path);
    struct stat st;
    if (stat(path.c_str(), &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) throw std::runtime_error(path + " exists and is no socket");
        const int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        const bool live = connect(probe, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
        close(probe);
        if (live) throw std::runtime_error("control socket " + path + " is in use");
        unlink(path.c_str());
    }
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0 || listen(fd, 8) < 0) {
        const std::string e = std::strerror(errno);
        close(fd);
        throw std::runtime_error("control socket " + path + ": " + e);
    }
    return fd;
}

std::string trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

std::vector<ScheduledChange> load_schedule(const std::string& path) {
    toml::table t;
    try {
        t = toml::parse_file(path);
    } catch (const toml::parse_error& e) {
        throw std::runtime_error("schedule " + path + ": " + std::string(e.description()));
    }
    std::vector<ScheduledChange> out;
    const auto* arr = t["change"].as_array();
    if (!arr) throw std::runtime_error("schedule " + path + ": no [[change]] tables");
    for (const auto& node : *arr) {
        const auto* tb = node.as_table();
        if (!tb) throw std::runtime_error("schedule " + path + ": [[change]] must be a table");
        ScheduledChange c{};
        const auto at = (*tb)["at"];
        if (auto s = at.value<std::string>())
            c.at_ns = parse_time_ns(*s);
        else if (auto d = at.value<double>())
            c.at_ns = static_cast<int64_t>(*d * 1e9);
        else
            throw std::runtime_error("schedule " + path + ": a change without 'at'");
        if (auto s = (*tb)["ab"].value<std::string>()) c.ab = *s;
        if (auto s = (*tb)["ba"].value<std::string>()) c.ba = *s;
        if (!c.ab && !c.ba)
            throw std::runtime_error("schedule " + path + ": a change with no ab/ba");
        for (const auto* s : {&c.ab, &c.ba})
            if (*s) parse_spec(**s);  // throws SpecError naming the token
        for (const auto& [k, v] : *tb)
            if (k != "at" && k != "ab" && k != "ba")
                throw std::runtime_error("schedule " + path + ": unknown key '" +
                                         std::string(k.str()) + "'");
        out.push_back(c);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.at_ns < b.at_ns; });
    return out;
}

std::string control_request(const std::string& socket_path, const std::string& line) {
    const sockaddr_un a = unix_addr(socket_path);
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) < 0) {
        const std::string e = std::strerror(errno);
        close(fd);
        throw std::runtime_error("cannot reach " + socket_path + ": " + e);
    }
    const std::string msg = line + "\n";
    if (write(fd, msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) {
        close(fd);
        throw std::runtime_error("write to " + socket_path + " failed");
    }
    std::string reply;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) reply.append(buf, size_t(n));
    close(fd);
    return trim(reply);
}

int run_link(RunOptions& o) {
    // Everything that can be wrong with the input is checked before anything starts.
    std::vector<ScheduledChange> schedule;
    if (!o.schedule.empty()) schedule = load_schedule(o.schedule);
    for (const auto* ns : {&o.link.ns_a, &o.link.ns_b})
        if (!netns_exists(*ns)) throw std::runtime_error("no network namespace '" + *ns + "'");
    if (o.link.ns_a == o.link.ns_b)
        throw std::runtime_error("--ns-a and --ns-b must be different namespaces");

    const NetemProbe probe = probe_kernel_netem();
    bool use_netem = false;
    if (o.backend == "netem") {
        if (!probe.available)
            throw std::runtime_error("--backend netem: kernel netem unavailable: " + probe.detail);
        use_netem = true;
    } else if (o.backend == "auto") {
        use_netem = probe.available && o.link.log_path.empty();
    } else if (o.backend != "engine") {
        throw std::runtime_error("--backend must be auto, engine or netem");
    }
    std::printf("link %s: kernel netem %s; backend: %s\n", o.link.name.c_str(),
                probe.available ? "available" : ("unavailable (" + probe.detail + ")").c_str(),
                use_netem
                    ? "kernel netem (tc qdisc netem; no per-packet log)"
                    : (std::string("user-space engine, io=") + rx_kind_name(o.link.io)).c_str());

    // Signals arrive through a signalfd; every thread created from here on
    // inherits the blocked mask.
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&mask, s);
    sigprocmask(SIG_BLOCK, &mask, nullptr);
    signal(SIGPIPE, SIG_IGN);
    const int sfd = signalfd(-1, &mask, SFD_CLOEXEC);

    int ctl = -1;
    if (!o.control.empty()) ctl = listen_control(o.control);
    struct ControlGuard {
        int& fd;
        const std::string& path;
        ~ControlGuard() {
            if (fd >= 0) {
                close(fd);
                unlink(path.c_str());
            }
        }
    } ctl_guard{ctl, o.control};

    std::unique_ptr<Link> link;
    std::unique_ptr<KernelNetemLink> knetem;
    std::function<void(int, const std::string&)> apply;
    if (use_netem) {
        knetem = std::make_unique<KernelNetemLink>(o.link.ns_a, o.link.dev_a, o.link.ns_b,
                                                   o.link.dev_b, o.ab_text, o.ba_text, o.link.seed);
        apply = [&](int d, const std::string& s) { knetem->set(d, s); };
    } else {
        enter_private_netns();
        link = std::make_unique<Link>(o.link);
        apply = [&](int d, const std::string& s) {
            link->dir(d).set_spec(std::make_shared<const Spec>(parse_spec(s)));
        };
    }
    std::printf("link %s ready: %s/%s <-> %s/%s seed=%llu ab=\"%s\" ba=\"%s\"\n",
                o.link.name.c_str(), o.link.ns_a.c_str(), o.link.dev_a.c_str(), o.link.ns_b.c_str(),
                o.link.dev_b.c_str(), static_cast<unsigned long long>(o.link.seed),
                o.ab_text.c_str(), o.ba_text.c_str());
    std::fflush(stdout);

    const int64_t t0 = mono_ns();
    const int64_t end = o.duration_s > 0 ? t0 + static_cast<int64_t>(o.duration_s * 1e9) : 0;
    size_t next_change = 0;
    bool running = true;
    std::string why = "duration over";
    auto set_cmd = [&](const std::string& dir, const std::string& spec) -> std::string {
        try {
            parse_spec(spec);
        } catch (const SpecError& e) {
            return std::string("error: ") + e.what();
        }
        if (dir != "ab" && dir != "ba" && dir != "both")
            return "error: direction must be ab, ba or both";
        if (dir != "ba") apply(0, spec);
        if (dir != "ab") apply(1, spec);
        std::printf("link %s: %s set to \"%s\" at t=%.3fs\n", o.link.name.c_str(), dir.c_str(),
                    spec.c_str(), (mono_ns() - t0) / 1e9);
        std::fflush(stdout);
        return "ok";
    };
    while (running) {
        const int64_t now = mono_ns();
        while (next_change < schedule.size() && t0 + schedule[next_change].at_ns <= now) {
            const auto& c = schedule[next_change++];
            if (c.ab) set_cmd("ab", *c.ab);
            if (c.ba) set_cmd("ba", *c.ba);
        }
        if (end && now >= end) break;
        int64_t timeout = 200000000;
        if (next_change < schedule.size())
            timeout = std::min(timeout, t0 + schedule[next_change].at_ns - now);
        if (end) timeout = std::min(timeout, end - now);
        pollfd p[2] = {{sfd, POLLIN, 0}, {ctl, POLLIN, 0}};
        timespec ts{timeout / 1000000000, timeout % 1000000000};
        ppoll(p, ctl >= 0 ? 2 : 1, &ts, nullptr);
        if (link) link->poll_device_drops();
        if (p[0].revents & POLLIN) {
            signalfd_siginfo si;
            if (read(sfd, &si, sizeof si) == sizeof si) why = strsignal(int(si.ssi_signo));
            break;
        }
        if (ctl >= 0 && (p[1].revents & POLLIN)) {
            const int c = accept4(ctl, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0) continue;
            timeval tv{1, 0};
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            std::string line;
            char ch;
            while (read(c, &ch, 1) == 1 && ch != '\n') line += ch;
            line = trim(line);
            std::string reply;
            if (line == "stats") {
                reply = link ? link->stats_json() : "{}";
            } else if (line == "stop") {
                reply = "ok";
                running = false;
                why = "stop command";
            } else if (line.rfind("set ", 0) == 0) {
                const auto sp = line.find(' ', 4);
                if (sp == std::string::npos)
                    reply = "error: usage: set ab|ba|both SPEC";
                else
                    try {
                        reply = set_cmd(line.substr(4, sp - 4), line.substr(sp + 1));
                    } catch (const std::exception& e) {
                        reply = std::string("error: ") + e.what();
                    }
            } else {
                reply = "error: unknown command '" + line + "' (set, stats, stop)";
            }
            reply += "\n";
            if (write(c, reply.data(), reply.size()) < 0) {
            }
            close(c);
        }
    }
    if (link) {
        link->stop();
        std::printf("link %s stopped (%s): stats %s\n", o.link.name.c_str(), why.c_str(),
                    link->stats_json().c_str());
    } else {
        std::printf("link %s stopped (%s)\n", o.link.name.c_str(), why.c_str());
    }
    std::fflush(stdout);
    link.reset();
    knetem.reset();
    close(sfd);
    return 0;
}

}  // namespace fc::impair
