// What the agent exported for one KPI of a connection, or why it did not: a
// comparison that was due fails as "column absent" or "NULL" instead of
// being left out, so a KPI that stops being exported is noticed.
#pragma once

#include <optional>
#include <string>

#include "validate/inputs.hpp"

namespace fc::validate {

struct Exported {
    std::optional<double> value;
    std::string missing;  // set when !value: "column absent", "NULL in profile 2", ...
};

// Σ over the connection's profiles.
Exported sum_of(const AgentConn& c, const std::string& kpi);
// The last profile's value (a level at the connection's end).
Exported last_of(const AgentConn& c, const std::string& kpi);
// The largest value over the windows (a per-window maximum).
Exported max_of(const AgentConn& c, const std::string& kpi);
// Σ mean·weight / Σ weight over the windows; "no samples" when Σ weight is 0.
Exported weighted_mean_of(const AgentConn& c, const std::string& mean, const std::string& weight);
// A DNS profile's column.
Exported value_of(const DnsProfile& p, const std::string& kpi);

// The Detail fields for an exported value: `exported`, or `missing` and a note.
void set_exported(Detail& d, const Exported& e);

}  // namespace fc::validate
