// Flow-level one-way delay estimators between two observation points:
// naive and Multiflow on Consistent NetFlow records, and trajectory sampling
// on hash-sampled packets. Times are nanoseconds on one clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "latency/records.hpp"

namespace flowcorder::latency {

// The upstream (a) and downstream (b) record of one flow.
struct MatchedFlow {
    FlowRecord a;
    FlowRecord b;

    // Packet counts differ: a packet was lost (or the meters cut the flow
    // differently), so the first or last timestamp may belong to another packet.
    bool lossy() const { return a.packets != b.packets; }
};

// Pairs each upstream record with the earliest unused downstream record of the
// same key that starts within max_delay_ns of the upstream record's lifetime.
// Unpaired records are dropped. Result ordered by (a.first_ns, key).
std::vector<MatchedFlow> match_records(const std::vector<FlowRecord>& up,
                                       const std::vector<FlowRecord>& down, int64_t max_delay_ns);

// One delay sample: a packet's upstream time and its delay to downstream.
struct DelaySample {
    int64_t time_ns = 0;
    double delay_ns = 0;
};

// The flow's own samples: its first packets and, if it has more than one
// packet, its last packets.
std::vector<DelaySample> own_samples(const MatchedFlow& flow);

// Mean of the flow's own two samples.
double naive_estimate(const MatchedFlow& flow);

// Which samples of other flows stand in for the delays a flow saw.
enum class Window {
    Lifetime,  // upstream time within [a.first_ns, a.last_ns]
    Padded,    // the same plus the nearest sample on each side outside it
};

// How the chosen samples combine into one estimate.
enum class Weighting {
    PerSample,     // arithmetic mean, every sample counts once
    TimeWeighted,  // mean over the lifetime of the delay curve interpolated linearly
};

// What a lossy flow's samples are worth.
enum class LossPolicy {
    UseAll,         // trusted everywhere
    NoLossyDonors,  // used for the flow itself, never lent to other flows
    DropLossy,      // used nowhere; a lossy flow relies on other flows' samples
};

struct MultiflowOptions {
    Window window = Window::Lifetime;
    Weighting weighting = Weighting::PerSample;
    LossPolicy loss = LossPolicy::UseAll;

    std::string name() const;
    static std::vector<MultiflowOptions> all_variants();
};

// Multiflow: per flow, its own samples plus the first/last samples of every
// other flow in `flows` (the sampled flows) that fall within its window. A
// flow left without any sample falls back to its own (naive) samples.
std::vector<double> multiflow_estimates(const std::vector<MatchedFlow>& flows,
                                        const MultiflowOptions& options);

// A packet selected by trajectory sampling at one observation point.
struct PacketStamp {
    FlowKey key;
    uint64_t digest = 0;  // packet_hash(), identical at every point
    int64_t time_ns = 0;
};

struct TrajectoryEstimate {
    double mean_ns = 0;
    size_t samples = 0;  // 0: no packet of the flow was sampled, no estimate
};

// Joins the two points' stamps by digest and averages, per flow, the delays of
// its sampled packets (those with upstream time inside the flow's lifetime).
std::vector<TrajectoryEstimate> trajectory_estimates(const std::vector<MatchedFlow>& flows,
                                                     const std::vector<PacketStamp>& up,
                                                     const std::vector<PacketStamp>& down);

struct FlowTruth {
    double mean_ns = 0;
    double stddev_ns = 0;  // population standard deviation
    size_t packets = 0;    // delivered packets the statistics are over
};

// True per-flow delay statistics over the flow's delivered packets.
std::vector<FlowTruth> flow_truth(const std::vector<MatchedFlow>& flows,
                                  const std::vector<PacketTruth>& packets);

}  // namespace flowcorder::latency
