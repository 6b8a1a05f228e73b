#include "repeat.hpp"

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace fc::harness {

namespace fs = std::filesystem;

std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (quoted) {
            if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
                field += '"';
                ++i;
            } else if (c == '"') {
                quoted = false;
            } else {
                field += c;
            }
            continue;
        }
        any = true;
        if (c == '"') {
            quoted = true;
        } else if (c == ',') {
            row.push_back(std::move(field));
            field.clear();
        } else if (c == '\n') {
            row.push_back(std::move(field));
            field.clear();
            rows.push_back(std::move(row));
            row.clear();
            any = false;
        } else if (c != '\r') {
            field += c;
        }
    }
    if (quoted) throw std::runtime_error("CSV: a quoted field is not closed");
    if (any) {
        row.push_back(std::move(field));
        rows.push_back(std::move(row));
    }
    return rows;
}

void tally_round(const std::string& csv, std::map<std::string, VerdictRate>& tally) {
    const auto rows = parse_csv(csv);
    if (rows.empty()) throw std::runtime_error("validation.csv is empty");
    std::map<std::string, size_t> col;
    for (size_t i = 0; i < rows[0].size(); ++i) col[rows[0][i]] = i;
    for (const char* need : {"experiment", "protocol", "kpi", "truth_source", "verdict"})
        if (!col.count(need))
            throw std::runtime_error(std::string("validation.csv has no column '") + need + "'");
    for (size_t r = 1; r < rows.size(); ++r) {
        const auto& v = rows[r];
        if (v.size() != rows[0].size())
            throw std::runtime_error("validation.csv line " + std::to_string(r + 1) + ": " +
                                     std::to_string(v.size()) + " fields where the header has " +
                                     std::to_string(rows[0].size()));
        const std::string key = v[col["experiment"]] + "|" + v[col["protocol"]] + "|" +
                                v[col["kpi"]] + "|" + v[col["truth_source"]];
        VerdictRate& t = tally[key];
        ++t.rounds;
        t.passed += v[col["verdict"]] == "pass";
    }
}

int run_repeated(RunOptions o, unsigned rounds) {
    if (o.run_id.empty()) {
        char stamp[32];
        const std::time_t tt = std::time(nullptr);
        std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&tt));
        std::random_device rd;
        char tag[8];
        std::snprintf(tag, sizeof tag, "%04x", rd() & 0xffff);
        o.run_id = std::string(stamp) + "-" + tag + "-repeat";
    }
    const fs::path base = fs::path(o.results_dir) / o.run_id;
    if (fs::exists(base)) {
        std::fprintf(stderr, "flowcorder run: %s exists already\n", base.c_str());
        return 2;
    }
    std::map<std::string, VerdictRate> tally;
    int clean_rounds = 0, worst = 0;
    unsigned done = 0;
    const std::string id = o.run_id;
    for (unsigned k = 1; k <= rounds; ++k) {
        std::printf("\nflowcorder run: round %u of %u\n", k, rounds);
        std::fflush(stdout);
        o.run_id = id + "/round-" + std::to_string(k);
        const int rc = run_experiments(o);
        if (rc == 2 || rc == 3 || rc == 130) return rc;  // bad input, leftovers, Ctrl-C
        ++done;
        worst = std::max(worst, rc);
        clean_rounds += rc == 0;
        const fs::path dir = fs::path(o.results_dir) / o.run_id;
        // A round whose run had problems fails that verdict of its own.
        VerdictRate& ran = tally["*|*|run_problems|harness"];
        ++ran.rounds;
        ran.passed += !fs::exists(dir / "problems.txt");
        std::ifstream in(dir / "validation.csv");
        if (!o.validate) continue;
        if (!in) {
            VerdictRate& v = tally["*|*|validation|validator"];
            ++v.rounds;
            continue;
        }
        std::stringstream text;
        text << in.rdbuf();
        tally_round(text.str(), tally);
    }
    std::ofstream out(base / "repeat.csv");
    out << "experiment,protocol,kpi,truth_source,rounds,passed,pass_rate\n";
    std::vector<std::pair<std::string, VerdictRate>> flaky;
    for (const auto& [key, t] : tally) {
        std::string csv_key = key;
        for (char& c : csv_key)
            if (c == '|') c = ',';
        out << csv_key << "," << t.rounds << "," << t.passed << ","
            << static_cast<double>(t.passed) / t.rounds << "\n";
        if (t.passed < t.rounds || t.rounds < static_cast<int>(done)) flaky.emplace_back(key, t);
    }
    std::printf(
        "\nflowcorder run --repeat %u: %d of %u rounds passed every verdict; %zu "
        "verdicts, %zu not passed in every round (%s)\n",
        rounds, clean_rounds, done, tally.size(), flaky.size(), (base / "repeat.csv").c_str());
    for (const auto& [key, t] : flaky)
        std::printf("  %-70s passed %d of %d rounds (given in %d of %u)\n", key.c_str(), t.passed,
                    t.rounds, t.rounds, done);
    return clean_rounds == static_cast<int>(done) ? 0 : std::max(worst, 1);
}

}  // namespace fc::harness
