// What a crashed run or test may leave behind, found and removed in one
// place: `flowcorder clean` (and make clean-leftovers, through it) and the
// run's own refusal to start beside another run or its leftovers.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

namespace fc::harness {

// Every process but this one, with its command line split at the NULs.
std::vector<std::pair<pid_t, std::vector<std::string>>> proc_cmdlines();

// Another `flowcorder run` or `flowcorder explore` on this machine (its pid), or 0.
pid_t other_run();

// Kills Flowcorder's own processes (agents, collectors, links, captures,
// workloads, runs; `ip -n fc-* mptcp monitor`; with `test_binaries`, the
// project's test and bench binaries too, which a test calling this must
// not ask for), deletes fc-* network namespaces with what still runs in
// them and their /etc/netns entries, and the control sockets tests leave.
// Returns how many things it removed; `verbose` says each.
int clean_leftovers(bool verbose, bool test_binaries = false);

}  // namespace fc::harness
