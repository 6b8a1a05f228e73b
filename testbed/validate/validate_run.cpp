// validate_run(): reads a run directory (the manifests, the collector's
// database, the truth files), runs each repetition through the TCP, DNS and
// MPTCP validators, then judges every comparison (verdict.cpp).
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <set>

#include "validate/dns_validate.hpp"
#include "validate/inputs.hpp"
#include "validate/mptcp_validate.hpp"
#include "validate/tcp_validate.hpp"
#include "validate/verdict.hpp"

namespace fc::validate {
namespace fs = std::filesystem;

namespace {

std::vector<std::string> find_manifests(const std::string& run_dir) {
    if (!fs::is_directory(run_dir)) throw InputError(run_dir + ": not a directory");
    std::vector<std::string> out;
    for (const auto& exp : fs::directory_iterator(run_dir)) {
        if (!exp.is_directory()) continue;
        for (const auto& rep : fs::directory_iterator(exp.path())) {
            const auto name = rep.path().filename().string();
            if (!rep.is_directory() || name.rfind("rep-", 0) != 0) continue;
            const auto m = rep.path() / "manifest.json";
            if (fs::exists(m)) out.push_back(m.string());
        }
    }
    std::sort(out.begin(), out.end());
    if (out.empty()) throw InputError(run_dir + ": no */rep-*/manifest.json");
    return out;
}

}  // namespace

namespace {
// One repetition against its truth files; throws InputError on one unusable.
void validate_rep(const Manifest& m, const RunPlan& plan, const std::vector<AgentConn>& agent,
                  const std::vector<DnsProfile>& dns_agent,
                  const std::vector<AgentConn>& mptcp_agent, Result& r);
}  // namespace

Result validate_run(const std::string& run_dir, bool require_coverage) {
    Result r;
    r.run_dir = run_dir;
    std::vector<Manifest> manifests;
    for (const auto& path : find_manifests(run_dir)) manifests.push_back(read_manifest(path));

    RunPlan plan;
    plan.require_coverage = require_coverage;
    std::set<std::string> experiments;
    auto& agent_experiments = plan.experiments["tcp"];
    auto& dns_experiments = plan.experiments["dns"];
    auto& mptcp_experiments = plan.experiments["mptcp"];
    bool any_agent = false;
    for (const auto& m : manifests) {
        experiments.insert(m.experiment);
        plan.tolerances.emplace(m.experiment, m.tolerances);  // the first repetition's
        plan.skips.emplace(m.experiment, m.skips);
        bool tcp = false, dns = false, mptcp = false;
        for (const auto& [name, type] : m.workload_types)
            (type == "dns" ? dns : type == "mptcp" ? mptcp : tcp) = true;
        // A plain-TCP peer of an MPTCP workload (fallback) writes TCP truth.
        if (!m.truth_files.empty()) tcp = true;
        for (const auto& h : m.hosts)
            if (h.agent) {
                any_agent = true;
                if (tcp || (!dns && !mptcp)) agent_experiments.insert(m.experiment);
                if (dns) dns_experiments.insert(m.experiment);
                if (mptcp) mptcp_experiments.insert(m.experiment);
            }
    }
    std::vector<AgentConn> agent;
    std::vector<DnsProfile> dns_agent;
    if (any_agent) agent = read_profiles((fs::path(run_dir) / "profiles.sqlite").string());
    if (!dns_experiments.empty())
        dns_agent = read_dns_profiles((fs::path(run_dir) / "profiles.sqlite").string());
    std::vector<AgentConn> mptcp_agent;
    if (!mptcp_experiments.empty())
        mptcp_agent = read_mptcp_profiles((fs::path(run_dir) / "profiles.sqlite").string());

    for (const auto& m : manifests) {
        try {
            validate_rep(m, plan, agent, dns_agent, mptcp_agent, r);
        } catch (const InputError& e) {
            // One repetition's unusable file (it names the file and field)
            // fails that experiment; it does not void the other experiments
            // of the run (the explorer validates 300 scenarios as one run).
            Detail d;
            d.experiment = m.experiment;
            d.repetition = m.repetition;
            d.protocol = plan.experiments.at("tcp").count(m.experiment)   ? "tcp"
                         : plan.experiments.at("dns").count(m.experiment) ? "dns"
                                                                          : "mptcp";
            d.kpi = "unusable_input";
            d.source = "validator";
            d.exported = 1;
            d.truth = 0;
            d.note = e.what();
            r.details.push_back(std::move(d));
        }
    }
    r.experiments = static_cast<int>(experiments.size());
    r.repetitions = static_cast<int>(manifests.size());
    judge(r, plan);
    return r;
}

namespace {

void validate_rep(const Manifest& m, const RunPlan& plan, const std::vector<AgentConn>& agent,
                  const std::vector<DnsProfile>& dns_agent,
                  const std::vector<AgentConn>& mptcp_agent, Result& r) {
    const auto& dns_experiments = plan.experiments.at("dns");
    const auto& mptcp_experiments = plan.experiments.at("mptcp");
    {
        std::vector<TruthConn> truth;
        std::vector<DnsLookupTruth> dns_truth;
        std::vector<DnsServerQuery> dns_server;
        for (const auto& f : m.truth_files) {
            auto lines = read_truth((fs::path(m.dir) / f).string());
            truth.insert(truth.end(), lines.begin(), lines.end());
        }
        for (const auto& f : m.dns_client_truth) {
            auto lines = read_dns_truth((fs::path(m.dir) / f).string());
            dns_truth.insert(dns_truth.end(), lines.begin(), lines.end());
        }
        for (const auto& f : m.dns_server_truth) {
            auto lines = read_dns_server_truth((fs::path(m.dir) / f).string());
            dns_server.insert(dns_server.end(), lines.begin(), lines.end());
        }
        if (dns_experiments.count(m.experiment)) {
            std::vector<const DnsProfile*> mine;
            for (const auto& p : dns_agent)
                for (const auto& h : m.hosts)
                    if (h.agent && h.observation_domain == p.observation_domain) mine.push_back(&p);
            validate_dns_rep(m, dns_truth, dns_server, mine, r);
        }
        // MPTCP subflows are judged with their connection, not as plain TCP.
        const auto is_subflow = [](const AgentConn& c) {
            const auto& kpi = c.profiles.back().kpi;
            const auto it = kpi.find("mptcp_subflow");
            return it != kpi.end() && it->second != 0;
        };
        std::vector<const AgentConn*> mine, subflows, mptcp_conns;
        for (const auto& c : agent)
            for (const auto& h : m.hosts)
                if (h.agent && h.observation_domain == c.observation_domain)
                    (is_subflow(c) ? subflows : mine).push_back(&c);
        for (const auto& c : mptcp_agent)
            for (const auto& h : m.hosts)
                if (h.agent && h.observation_domain == c.observation_domain)
                    mptcp_conns.push_back(&c);
        if (mptcp_experiments.count(m.experiment)) {
            std::vector<MptcpTruth> mp;
            for (const auto& f : m.mptcp_truth) {
                auto lines = read_mptcp_truth((fs::path(m.dir) / f).string());
                mp.insert(mp.end(), lines.begin(), lines.end());
            }
            const auto claimed = validate_mptcp_rep(m, mp, mptcp_conns, subflows, mine, r);
            std::erase_if(mine, [&](const AgentConn* c) {
                return std::find(claimed.begin(), claimed.end(), c) != claimed.end();
            });
        }
        r.truth_connections += static_cast<int64_t>(truth.size());
        r.agent_connections += static_cast<int64_t>(mine.size());
        validate_tcp_rep(m, std::move(truth), mine, r);
    }
}

}  // namespace

int run_command(const std::string& run_dir, const CommandOptions& options) {
    Result result;
    try {
        result = validate_run(run_dir, options.require_coverage);
    } catch (const InputError& e) {
        std::fprintf(stderr, "flowcorder validate: %s\n", e.what());
        return 2;
    }
    try {
        OutputOptions o;
        o.report = options.report;
        write_outputs(result, o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "flowcorder validate: %s\n", e.what());
        return 2;
    }
    std::fputs(summary_table(result, isatty(STDOUT_FILENO)).c_str(), stdout);
    if (!result.not_covered.empty()) {
        std::string kpis;
        for (const auto& k : result.not_covered) kpis += " " + k;
        std::printf(
            "not compared in this run (they need a condition; fine for a single "
            "experiment):%s\n",
            kpis.c_str());
    }
    std::printf("%s: %s\n", result.all_pass() ? "pass" : "fail", run_dir.c_str());
    return result.all_pass() ? 0 : 1;
}

}  // namespace fc::validate
