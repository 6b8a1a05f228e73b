// Where a TCP KPI becomes a profile field: per-window deltas of the probes'
// cumulative snapshots (probes/tcp_monitor.h), written into a Record.
#pragma once

#include <cstdint>

#include "ipfix/record.hpp"
#include "tcp_monitor.h"

namespace fc::tcp {

// KPI fields over the window [a, b]. In the opening window every
// retransmission is a SYN (or SYN-ACK) retransmission.
void fill_kpis(const fc_tcp_snapshot& a, const fc_tcp_snapshot& b, bool opening_window,
               ipfix::Record& r);

// Template, addresses, ports, protocol, flow id, namespace, role. `v4`/`v6`:
// the templates to use (TCP's by default; MPTCP connections use theirs).
void fill_identity(const fc_conn_key& key, uint64_t conn_id, uint8_t role, ipfix::Record& r,
                   ipfix::TemplateKey v4 = ipfix::TemplateKey::TCP_V4,
                   ipfix::TemplateKey v6 = ipfix::TemplateKey::TCP_V6);

// MPTCP subflow marking (all zero for plain TCP): connection id, token, kind.
void fill_subflow(const fc_mptcp_mark& mp, ipfix::Record& r);

}  // namespace fc::tcp
