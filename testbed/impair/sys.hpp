// Small system helpers for the link: sockets inside a named
// network namespace, turning offloads off (SIOCETHTOOL), device counters.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/process.hpp"

namespace fc::impair {

// Commands run to their end: common/process.hpp.
using common::CmdResult;
using common::must_run;
using common::run_cmd;

bool netns_exists(const std::string& name);  // /var/run/netns/NAME
// An AF_INET datagram socket living in the named namespace (for ioctls).
int socket_in_netns(const std::string& name);
// Turns tx checksumming, scatter-gather, TSO, GSO and GRO off on `dev`, seen
// through socket `fd`; returns a description of what could not be changed.
std::string disable_offloads(int fd, const std::string& dev);
// Whether `dev` (through `fd`) has TSO, GSO, GRO or tx checksumming on.
bool offloads_off(int fd, const std::string& dev);
int ifindex_of(const std::string& dev);  // in the calling thread's namespace; 0 if none
// tx_dropped of `dev` in the calling thread's namespace (rtnetlink stats).
uint64_t tx_dropped_of(const std::string& dev);
void write_sysctl(const std::string& path, const std::string& value);

int64_t realtime_ns();

}  // namespace fc::impair
