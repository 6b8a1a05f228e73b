// The validator's outputs: the two CSV files of FORMATS.md, the terminal
// summary, report.md and report.html (plots by plot_report.py).
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "common/data_dir.hpp"
#include "common/process.hpp"
#include "validate/validate.hpp"

namespace fc::validate {
namespace fs = std::filesystem;

namespace {

std::string num(double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", v);
    return buf;
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string join_csv(const std::vector<std::string>& fields) {
    std::string line;
    for (size_t i = 0; i < fields.size(); ++i) line += (i ? "," : "") + csv_field(fields[i]);
    return line + "\n";
}

void write_file(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::trunc);
    if (!out) throw std::runtime_error(path.string() + ": cannot write");
    out << text;
    if (!out.flush()) throw std::runtime_error(path.string() + ": write failed");
}

const char* verdict(const Row& r) { return r.pass ? "pass" : "fail"; }

// Coverage and skip rows are judged by presence, not against a tolerance.
std::string tolerance_text(const Row& r) {
    return r.experiment == "*" || r.source == "skipped" ? "" : r.tolerance.to_string();
}

std::string skip_text(const Skip& s) {
    return s.experiment + " rep-" + std::to_string(s.repetition) + " " + s.protocol + " " + s.key +
           ": " + s.what;
}

std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

// A table both reports share: markdown pipes or an HTML <table>.
struct Table {
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;

    std::string markdown() const {
        auto line = [](const std::vector<std::string>& cells) {
            std::string s = "|";
            for (const auto& c : cells) {
                std::string cell;
                for (char ch : c) cell += ch == '|' ? std::string("\\|") : std::string(1, ch);
                s += " " + cell + " |";
            }
            return s + "\n";
        };
        std::string s = line(header) + "|";
        for (size_t i = 0; i < header.size(); ++i) s += "---|";
        s += "\n";
        for (const auto& r : rows) s += line(r);
        return s;
    }
    std::string html() const {
        std::string s = "<table>\n<tr>";
        for (const auto& h : header) s += "<th>" + html_escape(h) + "</th>";
        s += "</tr>\n";
        for (const auto& r : rows) {
            s += "<tr>";
            for (const auto& c : r) {
                const bool v = c == "pass" || c == "fail";
                s += v ? "<td class=\"" + c + "\">" + c + "</td>"
                       : "<td>" + html_escape(c) + "</td>";
            }
            s += "</tr>\n";
        }
        return s + "</table>\n";
    }
};

Table validation_table(const Result& r, const std::string& experiment, bool full) {
    Table t;
    if (full)
        t.header = {"experiment", "protocol",        "kpi",         "source",  "compared",
                    "within",     "median abs err",  "p95 abs err", "verdict", "tolerance",
                    "note",       "tolerance reason"};
    else
        t.header = {"kpi", "source", "compared", "within", "verdict", "note"};
    for (const auto& row : r.rows) {
        if (!experiment.empty() && row.experiment != experiment) continue;
        if (full)
            t.rows.push_back({row.experiment, row.protocol, row.kpi, row.source,
                              std::to_string(row.compared), std::to_string(row.within_tolerance),
                              num(row.median_abs_error), num(row.p95_abs_error), verdict(row),
                              tolerance_text(row), row.note, row.tolerance_reason});
        else
            t.rows.push_back({row.kpi, row.source, std::to_string(row.compared),
                              std::to_string(row.within_tolerance), verdict(row), row.note});
    }
    return t;
}

Table summary(const Result& r) {
    int pass = 0, fail = 0;
    for (const auto& row : r.rows) (row.pass ? pass : fail)++;
    Table t;
    t.header = {"item", "value"};
    t.rows = {{"run directory", r.run_dir},
              {"experiments", std::to_string(r.experiments)},
              {"repetitions", std::to_string(r.repetitions)},
              {"truth connections", std::to_string(r.truth_connections)},
              {"agent connections", std::to_string(r.agent_connections)},
              {"comparisons", std::to_string(r.details.size())},
              {"rows passed", std::to_string(pass)},
              {"rows failed", std::to_string(fail)},
              {"verdict", r.all_pass() ? "pass" : "fail"}};
    return t;
}

// environment.json flattened to key/value rows ("kernel.release": "6.1").
Table environment(const fs::path& path) {
    Table t;
    t.header = {"key", "value"};
    std::ifstream in(path);
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(in);
    } catch (const std::exception& e) {
        t.rows.push_back({"(unreadable)", e.what()});
        return t;
    }
    std::function<void(const std::string&, const nlohmann::json&)> walk =
        [&](const std::string& prefix, const nlohmann::json& v) {
            if (v.is_object()) {
                for (const auto& [k, sub] : v.items())
                    walk(prefix.empty() ? k : prefix + "." + k, sub);
            } else {
                t.rows.push_back({prefix, v.is_string() ? v.get<std::string>() : v.dump()});
            }
        };
    walk("", doc);
    return t;
}

std::set<std::string> experiments_of(const Result& r) {
    std::set<std::string> out;
    for (const auto& row : r.rows)
        if (row.experiment != "*") out.insert(row.experiment);
    return out;
}

struct PlotOutcome {
    bool ok = false;
    std::string message;
};

std::string env_or(const char* name, const std::string& fallback) {
    const char* v = std::getenv(name);
    return v && *v ? v : fallback;
}

// Runs plot_report.py; its output goes to plots/plot.log.
PlotOutcome run_plotter(const Result& r, const OutputOptions& o) {
    const std::string python =
        o.python.empty() ? env_or("FC_PYTHON", "/usr/bin/python3") : o.python;
    const std::string script =
        o.plotter.empty()
            ? env_or("FC_PLOT_SCRIPT", common::data_dir() + "/testbed/validate/plot_report.py")
            : o.plotter;
    if (access(python.c_str(), X_OK) != 0) return {false, python + " not found: no plots"};
    if (!fs::exists(script)) return {false, script + " not found: no plots"};
    const fs::path plots = fs::path(r.run_dir) / "plots";
    fs::create_directories(plots);
    const std::string log = (plots / "plot.log").string();

    const int rc = common::run_to_end({python, script, r.run_dir}, log);
    if (rc == 0) return {true, ""};
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    std::string tail = text.str();
    if (tail.size() > 400) tail = "..." + tail.substr(tail.size() - 400);
    return {false, "plotting failed (python or matplotlib missing?): " + tail};
}

// Plots plot_report.py draws, in the order the report shows them.
const std::vector<std::pair<std::string, std::string>> kPlots = {
    {"rtt.png", "Exported vs true RTT (y = x)"},
    {"retrans.png", "Retransmissions per connection, exported vs true"},
    {"abs_error_cdf.png", "Absolute error CDF per KPI"},
    {"verdicts.png", "Verdicts, experiment x KPI"},
};

void write_markdown(const Result& r, const fs::path& dir, const PlotOutcome& plots) {
    std::string md = "# Flowcorder validation report\n\n## Summary\n\n" + summary(r).markdown();
    if (!r.skips.empty()) {
        md += "\n## Skipped (each fails its row unless the experiment declares it)\n\n";
        for (const auto& k : r.skips) md += "- " + skip_text(k) + "\n";
    }
    md += "\n## Validation\n\n" + validation_table(r, "", true).markdown();
    for (const auto& e : experiments_of(r))
        md += "\n### " + e + "\n\n" + validation_table(r, e, false).markdown();
    if (!plots.ok) md += "\n## Plots\n\n" + plots.message + "\n";
    if (fs::exists(dir / "environment.json"))
        md += "\n## Environment\n\n" + environment(dir / "environment.json").markdown();
    write_file(dir / "report.md", md);
}

void write_html(const Result& r, const fs::path& dir, const PlotOutcome& plots) {
    std::string h =
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Flowcorder "
        "validation</title>\n"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}"
        ".pass{background:#cfc}.fail{background:#fcc}img{max-width:48%;margin:4px}</style>\n"
        "</head><body>\n<h1>Flowcorder validation report</h1>\n<h2>Summary</h2>\n" +
        summary(r).html();
    if (!r.skips.empty()) {
        h += "<h2>Skipped (each fails its row unless the experiment declares it)</h2>\n<ul>\n";
        for (const auto& k : r.skips) h += "<li>" + html_escape(skip_text(k)) + "</li>\n";
        h += "</ul>\n";
    }
    h += "<h2>Validation</h2>\n" + validation_table(r, "", true).html();
    h += "<h2>Plots</h2>\n";
    if (!plots.ok) h += "<p>" + html_escape(plots.message) + "</p>\n";
    for (const auto& [file, title] : kPlots)
        if (plots.ok && fs::exists(dir / "plots" / file))
            h += "<figure><img src=\"plots/" + file + "\" alt=\"" + title + "\"><figcaption>" +
                 title + "</figcaption></figure>\n";
    for (const auto& e : experiments_of(r))
        h += "<h3>" + html_escape(e) + "</h3>\n" + validation_table(r, e, false).html();
    if (fs::exists(dir / "environment.json"))
        h += "<h2>Environment</h2>\n" + environment(dir / "environment.json").html();
    h += "</body></html>\n";
    write_file(dir / "report.html", h);
}

}  // namespace

std::string summary_table(const Result& r, bool color) {
    std::string out;
    char line[512];
    std::snprintf(line, sizeof line, "%-24s %-8s %-26s %-15s %8s %8s %12s %12s  %s\n", "experiment",
                  "protocol", "kpi", "source", "compared", "within", "median|err|", "p95|err|",
                  "verdict");
    out += line;
    for (const auto& row : r.rows) {
        std::string v = verdict(row);
        if (color) v = (row.pass ? "\033[32m" : "\033[31m") + v + "\033[0m";
        std::snprintf(line, sizeof line, "%-24s %-8s %-26s %-15s %8lld %8lld %12s %12s  %s",
                      row.experiment.c_str(), row.protocol.c_str(), row.kpi.c_str(),
                      row.source.c_str(), static_cast<long long>(row.compared),
                      static_cast<long long>(row.within_tolerance),
                      num(row.median_abs_error).c_str(), num(row.p95_abs_error).c_str(), v.c_str());
        out += line;
        if (!row.pass && !row.note.empty()) out += "  (" + row.note + ")";
        out += "\n";
    }
    for (const auto& k : r.skips) out += "skipped: " + skip_text(k) + "\n";
    return out;
}

void write_outputs(const Result& r, const OutputOptions& o) {
    const fs::path dir(r.run_dir);
    std::string v = join_csv({"experiment", "protocol", "kpi", "truth_source", "compared",
                              "within_tolerance", "median_abs_error", "p95_abs_error", "verdict",
                              "tolerance", "note", "tolerance_reason"});
    for (const auto& row : r.rows)
        v += join_csv({row.experiment, row.protocol, row.kpi, row.source,
                       std::to_string(row.compared), std::to_string(row.within_tolerance),
                       num(row.median_abs_error), num(row.p95_abs_error), verdict(row),
                       tolerance_text(row), row.note, row.tolerance_reason});
    write_file(dir / "validation.csv", v);

    std::string d = join_csv({"experiment", "repetition", "protocol", "host", "workload", "conn",
                              "role", "agent_connection", "kpi", "truth_source", "exported", "true",
                              "abs_error", "within_tolerance", "note"});
    // A comparison without an exported value leaves `exported` and `abs_error` empty.
    for (const auto& x : r.details)
        d += join_csv({x.experiment, std::to_string(x.repetition), x.protocol, x.host, x.workload,
                       std::to_string(x.conn), x.role, x.agent_key, x.kpi, x.source,
                       x.missing ? "" : num(x.exported), num(x.truth),
                       x.missing ? "" : num(x.abs_error()), x.within ? "1" : "0", x.note});
    write_file(dir / "validation-details.csv", d);

    if (!o.report) return;
    const PlotOutcome plots = run_plotter(r, o);
    write_markdown(r, dir, plots);
    write_html(r, dir, plots);
}

}  // namespace fc::validate
