// A port on 127.0.0.1 that nothing is bound to at the moment of asking (the
// kernel's choice for an ephemeral bind), for a child told to listen there.
#pragma once

#include <cstdint>

namespace fc::common {

// socket_type: SOCK_STREAM or SOCK_DGRAM. Throws std::runtime_error if none.
uint16_t free_loopback_port(int socket_type);

}  // namespace fc::common
