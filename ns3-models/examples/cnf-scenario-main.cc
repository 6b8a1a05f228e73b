// Runs the Consistent NetFlow scenario once and writes its records and ground
// truth. Every attribute of ns3::CnfScenario, ns3::NetFlowMeter and
// ns3::FlowTrafficGenerator is settable as --ns3::Type::Attribute=value; the
// options below are shortcuts for the ones a study varies.
#include <chrono>
#include <iostream>

#include "helper/cnf-scenario.h"
#include "ns3/command-line.h"
#include "ns3/config.h"
#include "ns3/double.h"
#include "ns3/rng-seed-manager.h"
#include "ns3/simulator.h"
#include "ns3/string.h"
#include "ns3/uinteger.h"

using namespace ns3;

int main(int argc, char* argv[]) {
    std::string out = "results/cnf/run";
    uint32_t seed = 1;
    uint64_t run = 1;
    double utilisation = 0.6;
    double fraction = 1.0;
    double duration = 60;
    std::string pcap;

    CommandLine cmd(__FILE__);
    cmd.Usage(
        "Two NetFlow meters around a congested bottleneck; writes records_a.csv, "
        "records_b.csv, packets.csv, flows_truth.csv and run.json to --out.");
    cmd.AddValue("out", "Output directory", out);
    cmd.AddValue("seed", "RNG seed (RngSeedManager::SetSeed)", seed);
    cmd.AddValue("run", "RNG run number (RngSeedManager::SetRun)", run);
    cmd.AddValue("utilisation", "Offered bottleneck utilisation (ns3::CnfScenario::Utilisation)",
                 utilisation);
    cmd.AddValue("fraction",
                 "Flow sampling fraction of both meters "
                 "(ns3::NetFlowMeter::SamplingFraction)",
                 fraction);
    cmd.AddValue("duration", "Simulated seconds (ns3::CnfScenario::Duration)", duration);
    cmd.AddValue("pcap", "Replay this pcap as the measured traffic (ns3::CnfScenario::PcapFile)",
                 pcap);
    cmd.Parse(argc, argv);

    RngSeedManager::SetSeed(seed);
    RngSeedManager::SetRun(run);
    Config::SetDefault("ns3::NetFlowMeter::SamplingFraction", DoubleValue(fraction));

    const auto started = std::chrono::steady_clock::now();
    Ptr<CnfScenario> scenario = CreateObject<CnfScenario>();
    scenario->SetAttribute("Utilisation", DoubleValue(utilisation));
    scenario->SetAttribute("Duration", TimeValue(Seconds(duration)));
    scenario->SetAttribute("PcapFile", StringValue(pcap));
    scenario->Build();
    scenario->Run();
    scenario->WriteResults(out);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cout << "cnf-scenario: utilisation target " << utilisation << " measured "
              << scenario->GetMeasuredUtilisation() << ", "
              << scenario->GetGroundTruth()->GetPackets().size() << " packets observed, "
              << scenario->GetBottleneckDrops() << " bottleneck drops, " << seconds << " s wall -> "
              << out << "\n";
    Simulator::Destroy();
    return 0;
}
