// How long a repetition's workloads may take, derived from the experiment
// (bytes, rates, delays, loss models on each workload's path) instead of a
// fixed timeout, so that a slow but healthy run never hits its deadline.
//
// Per workload the estimate is the transfer time at the throughput TCP can
// reach on the path (the link rate, or under loss the Padhye-Firoiu-Towsley-
// Kurose model: "Modeling TCP Throughput", SIGCOMM 1998) plus the round trips
// its exchanges cost. The budget adds to it the longest silence a connection
// may plausibly sit through: a run of k consecutive losses of one segment costs
// k exponentially backed-off RTOs, and k is chosen so that such a run is
// expected less than once in 10^4 experiments. TCP itself gives up after
// tcp_retries2 (15) retransmissions, so no silence is longer than that.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "experiment.hpp"

namespace fc::harness {

// One direction of a workload's path, the links' impairments combined.
struct PathModel {
    double one_way_s = 0;         // latency + jitter, summed over the hops
    double rate_bytes_per_s = 0;  // the slowest hop's rate (0: no rate limit)
    double loss = 0;              // stationary probability a packet is lost
    double loss_after_loss = 0;   // probability a packet is lost given the last one was
    bool dead = false;            // some hop loses every packet (now or on schedule)
    int hops = 0;
};

struct WorkloadBudget {
    std::string workload;
    double expected_s = 0;  // start + the model's estimate
    double silence_s = 0;   // longest plausible silence of one connection
    double budget_s = 0;    // the deadline: start + margin * estimate + silence
    std::string why;        // the terms, for the manifest and progress lines
    // A path it may use dies (100 % loss, now or on schedule): its sockets
    // there can only end when TCP gives up.
    bool dead_path = false;
};

struct Budget {
    std::vector<WorkloadBudget> workloads;
    double total_s = 0;      // the repetition's deadline (the largest workload budget)
    bool from_file = false;  // the experiment's `timeout` overrides it
};

// The path from `from` to `to` (fewest hops over the experiment's links) in
// that direction; hops = 0 when the nodes are not connected.
PathModel path_model(const Experiment& x, const std::string& from, const std::string& to);

// Stationary loss and loss-after-loss of one direction's netem specification.
void loss_of_spec(const std::string& spec, double& loss, double& loss_after_loss);

// The longest silence (s) one segment's consecutive losses cause with the
// given loss-after-loss probability, RTO `rto_s`, over `loss_events` loss
// events, at probability `epsilon`; capped by TCP's own retries.
double silence_allowance(double loss_after_loss, double rto_s, double loss_events,
                         double epsilon = 1e-4);

// Padhye et al.'s steady-state throughput (bytes/s) for segment size `mss`.
double pftk_throughput(double mss, double rtt_s, double loss, double rto_s);

Budget derive_budget(const Experiment& x);

}  // namespace fc::harness
