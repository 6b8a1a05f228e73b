// The collector's database, read by column name: the profiles of every
// protocol grouped as the validators need them (inputs.hpp).
#include <sqlite3.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "ipfix/registry.hpp"
#include "validate/inputs.hpp"

namespace fc::validate {
namespace {

struct StmtCloser {
    void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
struct DbCloser {
    void operator()(sqlite3* db) const { sqlite3_close(db); }
};

// Columns that identify a profile (the validator's choice of what it needs).
const std::set<std::string> kIdentityColumns = {
    "observation_domain", "flow_id",     "profile_seq", "src_addr",   "dst_addr",
    "src_port",           "dst_port",    "protocol",    "role",       "window_start_ns",
    "window_end_ns",      "start_state", "end_state",   "close_cause"};
// The KPIs of TCP profiles and of MPTCP connection records, from the field
// registry, and the errno every profile may carry.
std::set<std::string> columns_of(uint32_t scope) {
    std::set<std::string> out;
    for (std::string_view c : ipfix::scope_columns(scope)) out.emplace(c);
    out.emplace(ipfix::field(ipfix::FieldKey::CLOSE_ERRNO).column);
    return out;
}
const std::set<std::string> kTcpKpis = columns_of(ipfix::S_TCP);
const std::set<std::string> kMptcpKpis = columns_of(ipfix::S_TCP | ipfix::S_MPTCP);

bool has_id(const std::vector<uint16_t>& ids, int64_t id) {
    return std::find(ids.begin(), ids.end(), id) != ids.end();
}

}  // namespace

namespace {
std::vector<AgentConn> read_grouped(const std::string& sqlite_path, bool mptcp);
}  // namespace

std::vector<AgentConn> read_profiles(const std::string& sqlite_path) {
    return read_grouped(sqlite_path, false);
}

std::vector<AgentConn> read_mptcp_profiles(const std::string& sqlite_path) {
    return read_grouped(sqlite_path, true);
}

namespace {
// The profiles table of a collector database, opened read-only: the
// statement `sql` prepared and its columns by name.
struct ProfileQuery {
    std::unique_ptr<sqlite3, DbCloser> db;
    std::unique_ptr<sqlite3_stmt, StmtCloser> stmt;
    std::map<std::string, int> col;
};

ProfileQuery query_profiles(const std::string& sqlite_path, const char* sql) {
    if (!std::filesystem::exists(sqlite_path)) throw InputError(sqlite_path + ": missing");
    sqlite3* raw = nullptr;
    if (sqlite3_open_v2(sqlite_path.c_str(), &raw, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        const std::string msg = raw ? sqlite3_errmsg(raw) : "out of memory";
        sqlite3_close(raw);
        throw InputError(sqlite_path + ": cannot open: " + msg);
    }
    ProfileQuery q;
    q.db.reset(raw);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(raw, sql, -1, &st, nullptr) != SQLITE_OK)
        throw InputError(sqlite_path + ": table profiles: " + sqlite3_errmsg(raw));
    q.stmt.reset(st);
    for (int i = 0; i < sqlite3_column_count(st); ++i) q.col[sqlite3_column_name(st, i)] = i;
    return q;
}

std::vector<AgentConn> read_grouped(const std::string& sqlite_path, bool mptcp) {
    ProfileQuery q = query_profiles(sqlite_path, "SELECT * FROM profiles");
    sqlite3* db_raw = q.db.get();
    sqlite3_stmt* st = q.stmt.get();
    const std::map<std::string, int>& col = q.col;
    for (const auto& name : kIdentityColumns)
        if (!col.count(name))
            throw InputError(sqlite_path + ": profiles." + name + ": no such column");

    std::map<std::pair<int64_t, int64_t>, AgentConn> conns;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        auto i64 = [&](const char* name) { return sqlite3_column_int64(st, col.at(name)); };
        // TCP connections or MPTCP connections, by template: DNS profiles
        // have a reader of their own.
        static const std::vector<uint16_t> kTcp = ipfix::template_ids(ipfix::S_TCP),
                                           kMptcp = ipfix::template_ids(ipfix::S_MPTCP);
        const int64_t tid = col.count("template_id") ? i64("template_id") : (mptcp ? 0 : kTcp[0]);
        if (!has_id(mptcp ? kMptcp : kTcp, tid)) continue;
        auto text = [&](const char* name) {
            const auto* s = sqlite3_column_text(st, col.at(name));
            return normalise_addr(s ? reinterpret_cast<const char*>(s) : "");
        };
        Profile p;
        p.observation_domain = i64("observation_domain");
        p.flow_id = i64("flow_id");
        p.profile_seq = i64("profile_seq");
        p.src = text("src_addr");
        p.dst = text("dst_addr");
        p.sport = i64("src_port");
        p.dport = i64("dst_port");
        p.protocol = i64("protocol");
        p.role = i64("role");
        p.window_start_ns = i64("window_start_ns");
        p.window_end_ns = i64("window_end_ns");
        p.start_state = i64("start_state");
        p.end_state = i64("end_state");
        p.close_cause = i64("close_cause");
        for (const auto& [name, idx] : col)
            if ((mptcp ? kMptcpKpis : kTcpKpis).count(name)) {
                if (sqlite3_column_type(st, idx) == SQLITE_NULL)
                    p.null_kpis.insert(name);
                else
                    p.kpi[name] = sqlite3_column_double(st, idx);
            }
        auto& c = conns[{p.observation_domain, p.flow_id}];
        c.observation_domain = p.observation_domain;
        c.flow_id = p.flow_id;
        c.profiles.push_back(std::move(p));
    }
    if (rc != SQLITE_DONE)
        throw InputError(sqlite_path + ": table profiles: " + sqlite3_errmsg(db_raw));

    std::vector<AgentConn> out;
    for (auto& [_, c] : conns) {
        std::stable_sort(
            c.profiles.begin(), c.profiles.end(),
            [](const Profile& x, const Profile& y) { return x.profile_seq < y.profile_seq; });
        out.push_back(std::move(c));
    }
    return out;
}
}  // namespace

std::vector<DnsProfile> read_dns_profiles(const std::string& sqlite_path) {
    std::string ids;
    for (uint16_t id : ipfix::template_ids(ipfix::S_DNS))
        ids += (ids.empty() ? "" : ", ") + std::to_string(id);
    ProfileQuery q = query_profiles(
        sqlite_path, ("SELECT * FROM profiles WHERE template_id IN (" + ids + ")").c_str());
    sqlite3_stmt* st = q.stmt.get();
    const std::map<std::string, int>& col = q.col;
    std::vector<DnsProfile> out;
    if (!col.count("dns_lookup_id")) return out;  // a schema from before DNS
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        auto i64 = [&](const char* name) { return sqlite3_column_int64(st, col.at(name)); };
        auto text = [&](const char* name) {
            const auto* s = sqlite3_column_text(st, col.at(name));
            return std::string(s ? reinterpret_cast<const char*>(s) : "");
        };
        DnsProfile p;
        p.observation_domain = i64("observation_domain");
        p.flow_id = i64("flow_id");
        p.template_id = i64("template_id");
        p.src = normalise_addr(text("src_addr"));
        p.dst = normalise_addr(text("dst_addr"));
        p.sport = i64("src_port");
        p.dport = i64("dst_port");
        p.pid = i64("pid");
        p.name = text("dns_name");
        p.lookup_id = i64("dns_lookup_id");
        p.window_start_ns = i64("window_start_ns");
        p.window_end_ns = i64("window_end_ns");
        p.start_state = i64("start_state");
        p.end_state = i64("end_state");
        p.close_cause = i64("close_cause");
        for (const auto& [name, idx] : col) {
            if (name.rfind("dns_", 0) != 0 || name == "dns_name") continue;
            if (sqlite3_column_type(st, idx) == SQLITE_NULL)
                p.null_kpis.insert(name);
            else
                p.kpi[name] = sqlite3_column_double(st, idx);
        }
        out.push_back(std::move(p));
    }
    if (rc != SQLITE_DONE)
        throw InputError(sqlite_path + ": table profiles: " + sqlite3_errmsg(q.db.get()));
    return out;
}

}  // namespace fc::validate
