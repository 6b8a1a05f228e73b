#include "validate/link_drops.hpp"

#include <algorithm>

#include "validate/inputs.hpp"

namespace fc::validate {

namespace {
// A connection's 4-tuple as sent (sender first).
std::string tuple_key(const std::string& local, int64_t lport, const std::string& remote,
                      int64_t rport) {
    return local + "|" + std::to_string(lport) + "|" + remote + "|" + std::to_string(rport);
}
}  // namespace

LogIndex index_log(const impair::LogFile& log) {
    LogIndex idx;
    for (const auto& r : log.records) {
        if (r.proto != 6 || (r.ip_version != 4 && r.ip_version != 6)) continue;
        const std::string key = tuple_key(addr_text(r.ip_version, r.src), r.sport,
                                          addr_text(r.ip_version, r.dst), r.dport) +
                                "|" + std::to_string(r.dir);
        const bool dropped = r.action == static_cast<uint8_t>(impair::Action::dropped) ||
                             impair::lost_to_corruption(r);
        idx.by_tuple_dir[key].push_back({r.t_in_ns, dropped ? 0 : r.t_out_ns,
                                         dropped && r.payload_len > 0 ? r.count : 0,
                                         dropped ? r.count : 0});
    }
    // Records are written as decisions complete; order them by arrival so
    // that a departure earlier than a predecessor's shows reordering.
    for (auto& [k, v] : idx.by_tuple_dir)
        std::stable_sort(v.begin(), v.end(),
                         [](const auto& a, const auto& b) { return a.t_in_ns < b.t_in_ns; });
    return idx;
}

LinkDrops drops_of(const std::vector<const LogIndex*>& logs, const std::string& local,
                   int64_t lport, const std::string& remote, int64_t rport, int64_t from_ns,
                   int64_t to_ns) {
    LinkDrops d;
    const std::string out_key = tuple_key(local, lport, remote, rport);
    const std::string in_key = tuple_key(remote, rport, local, lport);
    auto scan = [&](const std::vector<LogIndex::Packet>& ps, bool outgoing) {
        uint64_t last_out = 0;
        for (const auto& p : ps) {
            const auto t_in = static_cast<int64_t>(p.t_in_ns);
            if (t_in < from_ns || t_in > to_ns) continue;
            if (outgoing) {
                d.seen = true;
                d.dropped += p.dropped_data;
            } else {
                d.reverse_dropped += p.dropped_any;
            }
            if (p.t_out_ns) {
                if (p.t_out_ns < last_out) d.reordered = true;
                last_out = std::max(last_out, p.t_out_ns);
            }
        }
    };
    for (const LogIndex* idx : logs)
        for (const char* dir : {"|0", "|1"}) {
            if (const auto out = idx->by_tuple_dir.find(out_key + dir);
                out != idx->by_tuple_dir.end())
                scan(out->second, true);
            if (const auto in = idx->by_tuple_dir.find(in_key + dir); in != idx->by_tuple_dir.end())
                scan(in->second, false);
        }
    return d;
}

}  // namespace fc::validate
