#include "workload/signals.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace fc::workload {

StopSignals::StopSignals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    fd_ = Fd(signalfd(-1, &set_, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!fd_) {
        const int err = errno;
        pthread_sigmask(SIG_SETMASK, &old_, nullptr);
        throw std::runtime_error(std::string("signalfd: ") + std::strerror(err));
    }
}

StopSignals::~StopSignals() {
    fd_.reset();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
}

bool StopSignals::take() {
    signalfd_siginfo info{};
    return read(fd_.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info);
}

bool StopSignals::wait(int timeout_ms) {
    pollfd p{fd_.get(), POLLIN, 0};
    return poll(&p, 1, timeout_ms) > 0 && take();
}

}  // namespace fc::workload
