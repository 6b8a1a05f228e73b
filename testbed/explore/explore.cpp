#include "explore.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "draw.hpp"
#include "repeat.hpp"
#include "runner.hpp"
#include "shrink.hpp"

namespace fc::explore {

namespace fs = std::filesystem;

namespace {

// Ctrl-C during a harness run: everything it started is gone; stop too.
struct Interrupted : std::runtime_error {
    Interrupted() : std::runtime_error("interrupted") {}
};

// The harness would not start a run (leftovers of another run, a bad file).
struct Refused : std::runtime_error {
    explicit Refused(const std::string& run_id, int rc)
        : std::runtime_error("the harness refused run " + run_id + " (exit " + std::to_string(rc) +
                             ")"),
          status(rc) {}
    int status;
};

std::string read_text(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
    std::ofstream out(p);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

// Column index by name; throws when the header lacks it.
size_t column(const std::vector<std::string>& header, const std::string& name) {
    for (size_t i = 0; i < header.size(); ++i)
        if (header[i] == name) return i;
    throw std::runtime_error("CSV has no column '" + name + "'");
}

int64_t to_int(const std::string& s) {
    try {
        return std::stoll(s);
    } catch (const std::exception&) {
        return 0;
    }
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string q = "\"";
    for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
    return q + "\"";
}

std::string verdicts_text(const std::vector<Failure>& fs) {
    std::string out;
    for (const auto& f : fs) {
        out += (out.empty() ? "" : ", ") + f.kpi + "/" + f.source;
        if (f.kpi != "run_problems")
            out += " (compared " + std::to_string(f.compared) + ", within " +
                   std::to_string(f.within) + ")";
    }
    return out;
}

// What one harness run found.
struct RunResult {
    size_t verdicts = 0, failing = 0, problem_runs = 0;
    Compared compared;
    std::map<std::string, std::vector<Failure>> failures;
    std::map<std::string, int> by_kpi, by_source;
};

RunResult read_run(const fs::path& dir) {
    RunResult r;
    const std::string csv = read_text(dir / "validation.csv");
    const std::string problems = read_text(dir / "problems.txt");
    r.failures = failures_of(csv, problems);
    if (!csv.empty()) r.verdicts = harness::parse_csv(csv).size() - 1;
    for (const auto& [x, fs] : r.failures)
        for (const auto& f : fs) {
            (f.kpi == "run_problems" ? r.problem_runs : r.failing)++;
            ++r.by_kpi[f.kpi];
            ++r.by_source[f.source];
        }
    if (csv.empty()) {  // no verdicts at all: the validator did not finish
        r.failures["*"].push_back({"validation", "validator", 0, 0, "no validation.csv"});
        ++r.failing;
    }
    r.compared = compared_of(read_text(dir / "validation-details.csv"));
    return r;
}

harness::RunOptions run_options(const ExploreOptions& o, const std::string& run_id,
                                std::vector<std::string> files) {
    harness::RunOptions ro;
    ro.files = std::move(files);
    ro.results_dir = o.results_dir;
    ro.run_id = run_id;
    ro.flowcorder = o.flowcorder;
    ro.source_dir = o.source_dir;
    ro.validate = true;
    return ro;
}

// One harness run; throws Interrupted on Ctrl-C, Refused when the harness
// would not start it.
RunResult run_once(const ExploreOptions& o, const std::string& run_id,
                   const std::vector<std::string>& files) {
    const int rc = harness::run_experiments(run_options(o, run_id, files));
    if (rc == 130) throw Interrupted();
    if (rc == 2 || rc == 3) throw Refused(run_id, rc);
    return read_run(fs::path(o.results_dir) / run_id);
}

struct Shrunk {
    std::string path;  // the regression file
    std::vector<Failure> still;
    int runs = 0, kept = 0;
};

Shrunk shrink_one(const ExploreOptions& o, const std::string& run_id, const std::string& name,
                  uint64_t seed, const std::string& text, const std::vector<Failure>& original) {
    std::set<std::pair<std::string, std::string>> wanted;
    for (const auto& f : original) wanted.insert({f.kpi, f.source});
    const fs::path dir = fs::path(o.results_dir) / run_id / "shrink";
    fs::create_directories(dir);
    Shrunk s;
    std::map<std::string, std::vector<Failure>> failing_texts;
    std::vector<std::string> kept_steps;
    auto still_fails = [&](const std::string& candidate) {
        ++s.runs;
        const std::string step = name + "-" + std::to_string(s.runs);
        const fs::path file = dir / (step + ".toml");
        write_text(file, candidate);
        const RunResult r = run_once(o, run_id + "/shrink-" + step, {file.string()});
        std::vector<Failure> same;
        if (const auto it = r.failures.find(name); it != r.failures.end())
            for (const auto& f : it->second)
                if (wanted.count({f.kpi, f.source})) same.push_back(f);
        if (!same.empty()) failing_texts[candidate] = same;
        return !same.empty();
    };
    std::string best = text;  // the smallest that still failed so far
    auto on_step = [&](const ShrinkStep& step, bool fails) {
        std::printf("flowcorder explore: shrink %s [%d/%d] %s: %s\n", name.c_str(), s.runs,
                    o.shrink_budget, step.what.c_str(), fails ? "still fails, kept" : "passes");
        std::fflush(stdout);
        if (!fails) return;
        kept_steps.push_back(step.what);
        best = step.text;
    };
    auto save = [&](bool interrupted) {
        s.kept = static_cast<int>(kept_steps.size());
        s.still = best == text ? original : failing_texts[best];
        std::ostringstream head;
        head << "# Regression found by flowcorder explore (run " << run_id << "): scenario seed "
             << seed << ";\n# `flowcorder explore --print " << seed
             << "` shows the experiment as drawn.\n"
             << "# Failed originally: " << verdicts_text(original) << "\n"
             << "# Still fails after shrinking (" << s.runs << " runs, " << s.kept << " steps kept"
             << (interrupted ? ", interrupted" : "") << "): " << verdicts_text(s.still) << "\n";
        for (const auto& k : kept_steps) head << "#   shrunk: " << k << "\n";
        fs::create_directories(o.regressions_dir);
        s.path = (fs::path(o.regressions_dir) / (name + ".toml")).string();
        write_text(s.path, head.str() + best);
    };
    try {
        best = shrink(text, still_fails, o.shrink_budget, on_step);
    } catch (const Interrupted&) {
        save(true);  // what was learnt so far is kept
        throw;
    }
    save(false);
    return s;
}

void write_summary(const fs::path& file, size_t scenarios, const RunResult& r,
                   const std::map<std::string, Shrunk>& shrunk) {
    std::ostringstream o;
    o << "metric,key,value\n"
      << "scenarios,," << scenarios << "\n"
      << "connections,," << r.compared.connections << "\n"
      << "dns_lookups,," << r.compared.lookups << "\n"
      << "verdicts,," << r.verdicts << "\n"
      << "failing_verdicts,," << r.failing << "\n"
      << "runs_with_problems,," << r.problem_runs << "\n"
      << "failing_scenarios,," << r.failures.size() << "\n";
    for (const auto& [k, n] : r.by_kpi) o << "failing_by_kpi," << csv_field(k) << "," << n << "\n";
    for (const auto& [k, n] : r.by_source)
        o << "failing_by_source," << csv_field(k) << "," << n << "\n";
    for (const auto& [x, fs] : r.failures)
        o << "failing," << csv_field(x) << "," << csv_field(verdicts_text(fs)) << "\n";
    for (const auto& [x, s] : shrunk)
        o << "regression," << csv_field(x) << "," << csv_field(s.path) << "\n";
    write_text(file, o.str());
}

void print_summary(const ExploreOptions& o, size_t scenarios, const RunResult& r,
                   const std::map<std::string, Shrunk>& shrunk, const fs::path& csv) {
    std::printf("\nflowcorder explore: seed %" PRIu64
                ", shard %u/%u: %zu scenario(s), %zu connection(s), "
                "%zu DNS lookup(s), %zu verdict(s), %zu failing, %zu run(s) with problems\n",
                o.seed, o.shard_k, o.shard_n, scenarios, r.compared.connections, r.compared.lookups,
                r.verdicts, r.failing, r.problem_runs);
    auto grouped = [](const char* what, const std::map<std::string, int>& m) {
        if (m.empty()) return;
        std::printf("  failing by %-7s", what);
        for (const auto& [k, n] : m) std::printf(" %s %d", k.c_str(), n);
        std::printf("\n");
    };
    grouped("kpi:", r.by_kpi);
    grouped("source:", r.by_source);
    for (const auto& [x, fs] : r.failures) {
        std::printf("  %-24s %s\n", x.c_str(), verdicts_text(fs).c_str());
        if (const auto it = shrunk.find(x); it != shrunk.end())
            std::printf("  %-24s shrunk in %d run(s), %d step(s): %s (still: %s)\n", "",
                        it->second.runs, it->second.kept, it->second.path.c_str(),
                        verdicts_text(it->second.still).c_str());
    }
    std::printf("summary: %s\n", csv.c_str());
}

}  // namespace

std::vector<uint64_t> shard_seeds(const ExploreOptions& o) {
    std::vector<uint64_t> out;
    for (unsigned i = 0; i < o.count; ++i)
        if (o.shard_n > 0 && i % o.shard_n == o.shard_k - 1) out.push_back(o.seed + i);
    return out;
}

std::map<std::string, std::vector<Failure>> failures_of(const std::string& validation_csv,
                                                        const std::string& problems_txt) {
    std::map<std::string, std::vector<Failure>> out;
    const auto rows = harness::parse_csv(validation_csv);
    if (!rows.empty()) {
        const auto& h = rows[0];
        const size_t cx = column(h, "experiment"), ck = column(h, "kpi"),
                     cs = column(h, "truth_source"), cc = column(h, "compared"),
                     cw = column(h, "within_tolerance"), cv = column(h, "verdict");
        const size_t cn = std::find(h.begin(), h.end(), "note") - h.begin();
        for (size_t i = 1; i < rows.size(); ++i) {
            const auto& v = rows[i];
            if (v.size() != h.size())
                throw std::runtime_error("validation.csv line " + std::to_string(i + 1) +
                                         ": fields do not match the header");
            if (v[cv] == "pass") continue;
            out[v[cx]].push_back(
                {v[ck], v[cs], to_int(v[cc]), to_int(v[cw]), cn < v.size() ? v[cn] : ""});
        }
    }
    std::istringstream in(problems_txt);
    std::set<std::string> seen;
    for (std::string line; std::getline(in, line);) {
        const std::string x = line.substr(0, line.find_first_of(": "));
        if (x.empty() || !seen.insert(x).second) continue;
        out[x].push_back({"run_problems", "harness", 0, 0, line});
    }
    return out;
}

Compared compared_of(const std::string& details_csv) {
    Compared c;
    const auto rows = harness::parse_csv(details_csv);
    if (rows.empty()) return c;
    const auto& h = rows[0];
    const size_t cx = column(h, "experiment"), cr = column(h, "repetition"),
                 cp = column(h, "protocol"), cw = column(h, "workload"), cc = column(h, "conn");
    std::set<std::string> conns, lookups;
    for (size_t i = 1; i < rows.size(); ++i) {
        const auto& v = rows[i];
        if (v.size() != h.size() || to_int(v[cc]) < 0) continue;  // orphans have no connection
        const std::string key = v[cx] + "|" + v[cr] + "|" + v[cw] + "|" + v[cc];
        (v[cp] == "dns" ? lookups : conns).insert(key);
    }
    c.connections = conns.size();
    c.lookups = lookups.size();
    return c;
}

int run_explore(const ExploreOptions& o) {
    const auto seeds = shard_seeds(o);
    if (seeds.empty()) {
        std::fprintf(stderr, "flowcorder explore: shard %u/%u of %u scenario(s) is empty\n",
                     o.shard_k, o.shard_n, o.count);
        return 2;
    }
    char stamp[32];
    const std::time_t tt = std::time(nullptr);
    std::strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", std::gmtime(&tt));
    std::string run_id = std::string(stamp) + "-explore-" + std::to_string(o.seed);
    if (o.shard_n > 1)
        run_id += "-shard-" + std::to_string(o.shard_k) + "-of-" + std::to_string(o.shard_n);
    const fs::path base = fs::path(o.results_dir) / run_id;
    if (fs::exists(base)) {
        std::fprintf(stderr, "flowcorder explore: %s exists already\n", base.c_str());
        return 2;
    }
    fs::create_directories(base / "scenarios");
    std::vector<std::string> files;
    std::map<std::string, std::pair<uint64_t, std::string>> drawn;  // name -> seed, text
    for (const uint64_t s : seeds) {
        const std::string name = "explore-" + std::to_string(s);
        const std::string text = draw_experiment(s, name);
        files.push_back((base / "scenarios" / (name + ".toml")).string());
        write_text(files.back(), text);
        drawn[name] = {s, text};
    }
    std::printf("flowcorder explore: %zu scenario(s), seeds %" PRIu64 "..%" PRIu64
                " (shard %u/%u) -> %s\n",
                seeds.size(), seeds.front(), seeds.back(), o.shard_k, o.shard_n, base.c_str());
    std::fflush(stdout);

    RunResult batch;
    try {
        batch = run_once(o, run_id + "/batch", files);
    } catch (const Interrupted&) {
        std::fprintf(stderr, "flowcorder explore: interrupted\n");
        return 130;
    } catch (const Refused& e) {
        std::fprintf(stderr, "flowcorder explore: %s\n", e.what());
        return e.status;
    }
    std::printf("flowcorder explore: batch done, %zu of %zu scenario(s) failing\n",
                batch.failures.size(), seeds.size());
    std::map<std::string, Shrunk> shrunk;
    int status = batch.failures.empty() ? 0 : 1;
    try {
        size_t k = 0;
        for (const auto& [name, fails] : batch.failures) {
            ++k;
            if (!o.shrink || !drawn.count(name)) continue;
            std::printf("flowcorder explore: shrinking %s (%zu of %zu failing): %s\n", name.c_str(),
                        k, batch.failures.size(), verdicts_text(fails).c_str());
            std::fflush(stdout);
            shrunk[name] =
                shrink_one(o, run_id, name, drawn[name].first, drawn[name].second, fails);
        }
    } catch (const Interrupted&) {
        std::fprintf(stderr, "flowcorder explore: interrupted while shrinking\n");
        status = 130;
    } catch (const std::exception& e) {  // refused, or a file we could not write
        std::fprintf(stderr, "flowcorder explore: shrinking stopped: %s\n", e.what());
    }
    write_summary(base / "explore.csv", seeds.size(), batch, shrunk);
    print_summary(o, seeds.size(), batch, shrunk, base / "explore.csv");
    return status;
}

}  // namespace fc::explore
