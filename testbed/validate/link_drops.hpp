// What the impairment engines' logs say about one TCP connection's packets:
// the data they dropped, the ACKs they dropped, and whether they reordered
// it; the truth for lost_segs (validate.cpp, compare_logs).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "impair/log.hpp"

namespace fc::validate {

// One link's log reduced to what the comparison needs: per (4-tuple as
// sent, direction) the packets in arrival order.
struct LogIndex {
    struct Packet {
        uint64_t t_in_ns, t_out_ns;  // t_out 0 when dropped
        uint32_t dropped_data;       // packets with payload the engine dropped
        uint32_t dropped_any;        // packets of any kind (ACKs too) dropped
    };
    std::map<std::string, std::vector<Packet>> by_tuple_dir;
};

LogIndex index_log(const impair::LogFile& log);

struct LinkDrops {
    bool seen = false;           // a log carried the connection's outgoing packets
    bool reordered = false;      // an engine sent one of them out of arrival order
    double dropped = 0;          // outgoing data packets dropped or corrupted
    double reverse_dropped = 0;  // incoming packets (ACKs too) dropped or corrupted
};

// Over every link log, the packets of local:lport -> remote:rport (and
// back) that arrived in [from_ns, to_ns]: a drop on any hop is a loss to
// the sender, whichever direction its data takes there.
LinkDrops drops_of(const std::vector<const LogIndex*>& logs, const std::string& local,
                   int64_t lport, const std::string& remote, int64_t rport, int64_t from_ns,
                   int64_t to_ns);

}  // namespace fc::validate
