#include "sqlite_store.hpp"

#include <arpa/inet.h>
#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>

namespace fc::collector {

using namespace fc::ipfix;

namespace {

constexpr size_t kMaxTxRows = 5000;
constexpr auto kMaxTxAge = std::chrono::seconds(1);

const char* kMetaColumns[] = {"exporter_addr", "observation_domain", "template_id", "received_ns"};

bool is_text(FieldType t) { return t == FieldType::IPV4 || t == FieldType::IPV6 || is_string(t); }

// Columns of the tables whose rows come from templates matching `want`.
std::vector<std::string> columns_for(bool (*want)(const TemplateDef&)) {
    std::vector<std::string> cols;
    for (const FieldDef& f : kFields) {
        bool used = false;
        for (const TemplateDef& t : kTemplates)
            if (want(t) && template_has(t, f)) used = true;
        const std::string c(f.column);
        if (used && std::find(cols.begin(), cols.end(), c) == cols.end()) cols.push_back(c);
    }
    return cols;
}

bool is_profile_template(const TemplateDef& t) { return t.protocol != 0; }
bool is_stats_template(const TemplateDef& t) { return (t.scope & S_STATS) != 0; }

// The registry field behind `column` in template `t`, if it has one.
const FieldDef* field_for(TemplateKey t, const std::string& column) {
    for (const FieldDef* f : template_fields(t))
        if (f->column == column) return f;
    return nullptr;
}

// Declared SQLite type of a column (from the first registry field using it).
const char* column_type(const std::string& column) {
    for (const FieldDef& f : kFields)
        if (f.column == column) return is_text(f.type) ? "TEXT" : "INTEGER";
    return "INTEGER";
}

std::string create_table(const std::string& name, const std::vector<std::string>& cols) {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + name +
                      " (id INTEGER PRIMARY KEY, exporter_addr TEXT NOT NULL, "
                      "observation_domain INTEGER NOT NULL, template_id INTEGER NOT NULL, "
                      "received_ns INTEGER NOT NULL";
    for (const std::string& c : cols) sql += ", " + c + " " + column_type(c);
    return sql + ")";
}

const std::vector<std::string> kFlowColumns = {"src_addr", "dst_addr",       "src_port", "dst_port",
                                               "protocol", "octets",         "packets",  "start_ms",
                                               "end_ms",   "flow_end_reason"};

std::string insert_sql(const std::string& table, const std::vector<std::string>& cols) {
    std::string names, qs;
    for (const char* m : kMetaColumns) {
        names += std::string(names.empty() ? "" : ", ") + m;
        qs += std::string(qs.empty() ? "" : ", ") + "?";
    }
    for (const std::string& c : cols) {
        names += ", " + c;
        qs += ", ?";
    }
    return "INSERT INTO " + table + " (" + names + ") VALUES (" + qs + ")";
}

void bind_meta(sqlite3_stmt* st, const RecordMeta& m) {
    sqlite3_bind_text(st, 1, m.exporter_addr.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, m.observation_domain);
    sqlite3_bind_int64(st, 3, m.template_id);
    sqlite3_bind_int64(st, 4, static_cast<int64_t>(m.received_ns));
}

}  // namespace

std::string ipv4_str(uint32_t host_order) {
    in_addr a{htonl(host_order)};
    char buf[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &a, buf, sizeof buf);
    return buf;
}

std::string ipv6_str(const uint8_t* bytes16) {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(AF_INET6, bytes16, buf, sizeof buf);
    return buf;
}

std::vector<std::string> SqliteStore::profile_columns() { return columns_for(is_profile_template); }
std::vector<std::string> SqliteStore::stats_columns() { return columns_for(is_stats_template); }

std::vector<std::string> SqliteStore::schema() {
    std::string flows = create_table("flows", {});
    flows.pop_back();
    flows +=
        ", src_addr TEXT, dst_addr TEXT, src_port INTEGER, dst_port INTEGER, protocol INTEGER, "
        "octets INTEGER, packets INTEGER, start_ms INTEGER, end_ms INTEGER, "
        "flow_end_reason INTEGER)";
    return {create_table("profiles", profile_columns()),
            create_table("agent_stats", stats_columns()), flows,
            "CREATE INDEX IF NOT EXISTS profiles_flow ON profiles (flow_id)"};
}

SqliteStore::SqliteStore(const std::string& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) {
        std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw std::runtime_error("cannot open database " + path + ": " + msg);
    }
    try {
        sqlite3_busy_timeout(db_, 5000);
        exec("PRAGMA journal_mode=WAL");
        exec("PRAGMA synchronous=NORMAL");
        for (const std::string& s : schema()) exec(s);
        auto prep = [&](const std::string& sql, sqlite3_stmt** st) {
            if (sqlite3_prepare_v2(db_, sql.c_str(), -1, st, nullptr) != SQLITE_OK)
                throw std::runtime_error("database " + path + ": " + sqlite3_errmsg(db_) +
                                         " (an older schema? use a new file)");
        };
        prep(insert_sql("profiles", profile_columns()), &ins_profile_);
        prep(insert_sql("agent_stats", stats_columns()), &ins_stats_);
        prep(insert_sql("flows", kFlowColumns), &ins_flow_);
    } catch (...) {
        sqlite3_finalize(ins_profile_);
        sqlite3_finalize(ins_stats_);
        sqlite3_finalize(ins_flow_);
        sqlite3_close(db_);
        throw;
    }
}

SqliteStore::~SqliteStore() {
    try {
        commit();
    } catch (...) {
    }
    sqlite3_finalize(ins_profile_);
    sqlite3_finalize(ins_stats_);
    sqlite3_finalize(ins_flow_);
    sqlite3_close(db_);
}

void SqliteStore::exec(const std::string& sql) {
    char* err = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
        std::string msg = err ? err : "unknown error";
        sqlite3_free(err);
        throw std::runtime_error("SQLite: " + msg + " in: " + sql);
    }
}

void SqliteStore::begin() {
    if (in_tx_) return;
    exec("BEGIN");
    in_tx_ = true;
    tx_rows_ = 0;
    tx_start_ = std::chrono::steady_clock::now();
}

void SqliteStore::commit() {
    if (!in_tx_) return;
    exec("COMMIT");
    in_tx_ = false;
}

void SqliteStore::maybe_commit() {
    if (in_tx_ &&
        (tx_rows_ >= kMaxTxRows || std::chrono::steady_clock::now() - tx_start_ >= kMaxTxAge))
        commit();
}

void SqliteStore::bind_record(sqlite3_stmt* st, const Record& r,
                              const std::vector<std::string>& cols, int first) {
    // Column -> registry field, once per (column list, template): looking it
    // up per row and column cost more than SQLite's insert itself.
    auto& fields = column_fields_[{&cols, r.tmpl}];
    if (fields.empty())
        for (const std::string& c : cols) fields.push_back(field_for(r.tmpl, c));
    int i = first;
    for (const FieldDef* f : fields) {
        if (!f) {
            sqlite3_bind_null(st, i++);
            continue;
        }
        switch (f->type) {
            case FieldType::IPV4:
                sqlite3_bind_text(st, i++, ipv4_str(static_cast<uint32_t>(r.get(f->key))).c_str(),
                                  -1, SQLITE_TRANSIENT);
                break;
            case FieldType::IPV6:
                sqlite3_bind_text(
                    st, i++,
                    ipv6_str(f->key == FieldKey::DST_V6 ? r.dst_v6.data() : r.src_v6.data())
                        .c_str(),
                    -1, SQLITE_TRANSIENT);
                break;
            case FieldType::STR16:
            case FieldType::STR128: {
                const std::string_view t = r.get_text(f->key);
                sqlite3_bind_text(st, i++, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
                break;
            }
            default:
                sqlite3_bind_int64(st, i++, static_cast<int64_t>(r.get(f->key)));
        }
    }
}

namespace {
void step(sqlite3* db, sqlite3_stmt* st) {
    // Every insert binds every parameter, so bindings need no clearing.
    const int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE)
        throw std::runtime_error(std::string("SQLite insert: ") + sqlite3_errmsg(db));
}
}  // namespace

void SqliteStore::add_profile(const Record& r, const RecordMeta& m) {
    begin();
    bind_meta(ins_profile_, m);
    static const std::vector<std::string> cols = profile_columns();
    bind_record(ins_profile_, r, cols, 5);
    step(db_, ins_profile_);
    ++tx_rows_;
    ++rows_;
}

void SqliteStore::add_stats(const Record& r, const RecordMeta& m) {
    begin();
    bind_meta(ins_stats_, m);
    static const std::vector<std::string> cols = stats_columns();
    bind_record(ins_stats_, r, cols, 5);
    step(db_, ins_stats_);
    ++tx_rows_;
    ++rows_;
}

void SqliteStore::add_flow(const FlowRow& f, const RecordMeta& m) {
    begin();
    sqlite3_stmt* st = ins_flow_;
    bind_meta(st, m);
    sqlite3_bind_text(st, 5, f.src_addr.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 6, f.dst_addr.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 7, f.src_port);
    sqlite3_bind_int64(st, 8, f.dst_port);
    sqlite3_bind_int64(st, 9, f.protocol);
    sqlite3_bind_int64(st, 10, static_cast<int64_t>(f.octets));
    sqlite3_bind_int64(st, 11, static_cast<int64_t>(f.packets));
    if (f.start_ms)
        sqlite3_bind_int64(st, 12, *f.start_ms);
    else
        sqlite3_bind_null(st, 12);
    if (f.end_ms)
        sqlite3_bind_int64(st, 13, *f.end_ms);
    else
        sqlite3_bind_null(st, 13);
    sqlite3_bind_int64(st, 14, f.flow_end_reason);
    step(db_, st);
    ++tx_rows_;
    ++rows_;
}

}  // namespace fc::collector
