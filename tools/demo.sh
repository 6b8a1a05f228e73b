#!/usr/bin/env bash
# The main job until the testbed lands: two hosts (network namespaces joined
# by a veth pair), a Flowcorder agent on each, one collector storing into
# SQLite, and real TCP traffic between the hosts: a bulk transfer through a
# burst of drops, a short clean transfer, and a refused connection. Prints
# the profiles as stored. Everything it creates is removed on exit/Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
FC=${FC:-build/flowcorder}
run_id=demo-$(date -u +%Y%m%dT%H%M%SZ)
out=results/$run_id
mkdir -p "$out"
ln -sfn "$run_id" results/latest
c=fc-demo-c s=fc-demo-s
port=$((20000 + RANDOM % 20000))
ipfix_port=$((40000 + RANDOM % 20000))
pids=()

cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del $c 2>/dev/null
  ip netns del $s 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { printf '\n== %s\n' "$*"; }

step "topology: $c (198.18.0.1) <-> $s (198.18.0.2)"
ip netns del $c 2>/dev/null || true
ip netns del $s 2>/dev/null || true
ip netns add $c
ip netns add $s
ip link add fcdemo-c type veth peer name fcdemo-s
ip link set fcdemo-c netns $c
ip link set fcdemo-s netns $s
ip -n $c addr add 198.18.0.1/24 dev fcdemo-c
ip -n $s addr add 198.18.0.2/24 dev fcdemo-s
for ns in $c $s; do ip -n $ns link set lo up; done
ip -n $c link set fcdemo-c up
ip -n $s link set fcdemo-s up

step "collector on tcp://127.0.0.1:$ipfix_port -> $out/profiles.sqlite"
$FC collect --listen tcp://127.0.0.1:$ipfix_port --db "$out/profiles.sqlite" >"$out/collector.log" 2>&1 &
pids+=($!)
sleep 0.5

step "agents: one per host (observation domains 1 and 2)"
$FC agent --collector tcp://127.0.0.1:$ipfix_port --netns $c --observation-domain 1 --stdout \
  >"$out/agent-client.jsonl" 2>"$out/agent-client.log" &
pids+=($!)
$FC agent --collector tcp://127.0.0.1:$ipfix_port --netns $s --observation-domain 2 --stdout \
  >"$out/agent-server.jsonl" 2>"$out/agent-server.log" &
pids+=($!)
sleep 1

step "workload: 2 s iperf3 bulk transfer at 200 Mbit/s, every 20th packet dropped during its second half-second"
ip netns exec $s iperf3 -s -1 -p $port >/dev/null 2>&1 &
sleep 0.3
ip netns exec $c iperf3 -c 198.18.0.2 -p $port -t 2 -b 200M -i 0 >"$out/iperf3.txt" 2>&1 &
iperf=$!
sleep 0.5
ip netns exec $s nft add table inet fcdemo "{ chain in { type filter hook input priority 0; tcp dport $port numgen inc mod 20 == 0 drop; }; }"
sleep 0.5
ip netns exec $s nft delete table inet fcdemo
wait $iperf

step "workload: a refused connection (nobody listens on port $((port + 1)))"
ip netns exec $c bash -c "exec 3<>/dev/tcp/198.18.0.2/$((port + 1))" 2>/dev/null || true

sleep 1.5
step "stopping agents and collector"
for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
pids=()

step "connections, as stored in $out/profiles.sqlite"
states="CASE %s WHEN 1 THEN 'NEW' WHEN 2 THEN 'ESTABLISHED' WHEN 3 THEN 'DEGRADED' WHEN 4 THEN 'FINISHED'
        WHEN 5 THEN 'NETWORK_ERROR' WHEN 6 THEN 'PROTOCOL_ERROR' WHEN 7 THEN 'DESYNC' END"
causes="CASE close_cause WHEN 1 THEN 'FIN' WHEN 2 THEN 'reset sent' WHEN 3 THEN 'reset received'
        WHEN 4 THEN 'timeout' WHEN 5 THEN 'refused' WHEN 6 THEN 'unreachable' WHEN 7 THEN 'local abort'
        WHEN 8 THEN 'lost track' WHEN 9 THEN 'error' ELSE '' END"
sqlite3 -header -column "$out/profiles.sqlite" "
  SELECT observation_domain AS host, flow_id AS conn, src_addr || ':' || src_port AS local,
         dst_addr || ':' || dst_port AS remote, count(*) AS profiles,
         sum(end_state = 3) AS lossy_periods, sum(bytes_acked) AS bytes_acked,
         sum(bytes_received) AS bytes_rcvd, sum(retrans_segs) AS retrans, sum(rto_stalls) AS rtos,
         sum(dup_segs_in) AS dups_in, sum(ooo_segs_in) AS ooo_in,
         (SELECT $(printf "$states" p2.end_state) || ' (' || $(echo "$causes" | sed 's/close_cause/p2.close_cause/') || ')'
            FROM profiles p2 WHERE p2.observation_domain = p.observation_domain AND p2.flow_id = p.flow_id
            ORDER BY profile_seq DESC LIMIT 1) AS ended
  FROM profiles p GROUP BY observation_domain, flow_id ORDER BY observation_domain, flow_id;"

bulk=$(sqlite3 "$out/profiles.sqlite" "SELECT flow_id FROM profiles WHERE observation_domain = 1
        GROUP BY flow_id ORDER BY sum(bytes_acked) DESC LIMIT 1")
step "the bulk transfer's first 12 profiles, as the client's agent saw them (connection $bulk)"
sqlite3 -header -column "$out/profiles.sqlite" "
  SELECT profile_seq AS seq, $(printf "$states" start_state) AS from_state, $(printf "$states" end_state) AS to_state,
         (window_end_ns - window_start_ns) / 1000 AS window_us, bytes_acked, retrans_segs AS retrans,
         rtt_samples, rtt_mean_us, srtt_us, rto_stalls AS rtos
  FROM profiles WHERE observation_domain = 1 AND flow_id = $bulk ORDER BY profile_seq LIMIT 12;"

n=$(sqlite3 "$out/profiles.sqlite" "SELECT count(*) FROM profiles")
echo
echo "$n profiles from real TCP connections went agent -> IPFIX -> collector -> SQLite."
echo "Run directory: $out (profiles.sqlite, agent-*.jsonl as printed by --stdout, logs)"
[ "$n" -gt 0 ]
