// The free-port helper, on the real loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/ports.hpp"

namespace {

bool can_bind(int type, uint16_t port) {
    const int fd = socket(AF_INET, type, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port);
    const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    close(fd);
    return ok;
}

}  // namespace

TEST(FreeLoopbackPort, GivesAPortThatCanBeBoundForEitherType) {
    for (int type : {SOCK_STREAM, SOCK_DGRAM}) {
        const uint16_t port = fc::common::free_loopback_port(type);
        EXPECT_GT(port, 0);
        EXPECT_TRUE(can_bind(type, port)) << port;
    }
}
