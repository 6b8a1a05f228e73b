// The collector's acknowledgement, computed rather than assumed: an agent's
// exit line says how many records it exported; the store must hold that many
// rows of its observation domain before the repetition counts as recorded.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace fc::harness {

// "flowcorder agent: exit: N records exported, ..." in an agent's output.
std::optional<uint64_t> exported_at_exit(const std::string& agent_output);

// Rows of `observation_domain` over every table of the SQLite store at `db`.
uint64_t stored_rows(const std::string& db, uint32_t observation_domain);

// Waits until the store holds at least `exported` rows of the domain (the
// collector commits at least once a second); returns what it last counted.
uint64_t wait_stored(const std::string& db, uint32_t observation_domain, uint64_t exported,
                     std::chrono::milliseconds timeout);

}  // namespace fc::harness
