#include "validate/fsm.hpp"

namespace fc::validate {

namespace {

bool terminal(int64_t state) {
    return state == kFinished || state == kNetErr || state == kProtoErr;
}

}  // namespace

std::vector<std::string> chain_defects(const AgentConn& c) {
    std::vector<std::string> d;
    const auto& ps = c.profiles;
    for (size_t k = 0; k < ps.size(); ++k) {
        if (ps[k].profile_seq != static_cast<int64_t>(k))
            d.push_back("profile_seq " + std::to_string(ps[k].profile_seq) + " where " +
                        std::to_string(k) + " expected");
        if (ps[k].end_state == kDesync) d.push_back("DESYNC at profile " + std::to_string(k));
        if (k + 1 < ps.size() && ps[k].window_end_ns != ps[k + 1].window_start_ns)
            d.push_back("window gap between profiles " + std::to_string(k) + " and " +
                        std::to_string(k + 1));
    }
    if (ps.front().start_state != kNew) d.push_back("first profile does not start in NEW");
    if (!terminal(ps.back().end_state))
        d.push_back("last profile ends in state " + std::to_string(ps.back().end_state) +
                    ", not terminal");
    return d;
}

std::optional<std::pair<int64_t, int64_t>> expected_close(const TruthConn& t) {
    if (t.outcome == "refused") return std::pair{kProtoErr, kRefused};
    if (t.outcome == "unreachable") return std::pair{kNetErr, kUnreachable};
    if (t.outcome == "timeout") return std::pair{kNetErr, kTimeout};
    if (t.outcome == "aborted" || t.closed_by == "rst_sent") return std::pair{kProtoErr, kRstSent};
    if (t.outcome == "reset" || t.closed_by == "rst_received")
        return std::pair{kProtoErr, kRstReceived};
    if (t.outcome == "ok" && t.closed_by == "fin") return std::pair{kFinished, kFin};
    if (t.outcome == "error") return std::pair{int64_t{0}, kOther};
    return std::nullopt;
}

int64_t close_category_of_cause(int64_t cause) {
    if (cause == kFin) return 1;
    if (cause == kRstSent || cause == kRstReceived || cause == kRefused) return 2;
    return 0;
}

}  // namespace fc::validate
