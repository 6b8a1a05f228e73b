#!/usr/bin/env bash
# End to end, as an operator runs it: two namespaces, an agent in each (one
# exporting over UDP, one over TCP), one collector, SQLite. A transfer of a
# known size must arrive in SQLite with exactly that many bytes, in a full
# chain of profiles, from both ends.
set -euo pipefail
FC=${1:?usage: $0 path/to/flowcorder}
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 CLI missing (apt-get install sqlite3)"; exit 1; }
PY=/usr/bin/python3  # Debian's, not whatever python3 is first on PATH
[ -x $PY ] || { echo "FAIL: $PY missing (apt-get install python3)"; exit 1; }

tag=fc-e2e$$
c=$tag-c s=$tag-s
tmp=$(mktemp -d)
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  ip netns del $c 2>/dev/null; ip netns del $s 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*"; for f in "$tmp"/*.log; do echo "--- $f"; tail -20 "$f"; done; exit 1; }

ip netns add $c; ip netns add $s
ip link add ${tag}a type veth peer name ${tag}b
ip link set ${tag}a netns $c; ip link set ${tag}b netns $s
ip -n $c addr add 198.18.0.1/24 dev ${tag}a; ip -n $s addr add 198.18.0.2/24 dev ${tag}b
for ns in $c $s; do ip -n $ns link set lo up; done
ip -n $c link set ${tag}a up; ip -n $s link set ${tag}b up

udp=$((30000 + RANDOM % 10000)); tcp=$((udp + 1)); port=$((udp + 2))
bytes=1234567
db=$tmp/profiles.sqlite
"$FC" collect --listen udp://127.0.0.1:$udp,tcp://127.0.0.1:$tcp --db "$db" >"$tmp/collector.log" 2>&1 &
pids+=($!)
sleep 0.5
"$FC" agent --collector udp://127.0.0.1:$udp --netns $c --observation-domain 1 --stats-interval 1 --stdout \
  >"$tmp/agent-c.jsonl" 2>"$tmp/agent-c.log" &
pids+=($!)
"$FC" agent --collector tcp://127.0.0.1:$tcp --netns $s --observation-domain 2 --stats-interval 1 >"$tmp/agent-s.log" 2>&1 &
pids+=($!)
sleep 1

# Each end writes its TCP_INFO total_retrans (u32 at byte 100 of struct
# tcp_info) before closing: the truth for the agent's retrans_segs.
ip netns exec $s $PY -c "
import socket, struct
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(('198.18.0.2', $port)); l.listen(1)
c, _ = l.accept(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    n += len(d)
assert n == $bytes, n
info = c.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
open('$tmp/retrans-2', 'w').write(str(struct.unpack_from('I', info, 100)[0]))
c.close()
" &
server=$!
sleep 0.3
ip netns exec $c $PY -c "
import socket, struct
s = socket.create_connection(('198.18.0.2', $port))
s.sendall(b'x' * $bytes); s.shutdown(socket.SHUT_WR); s.recv(1)
info = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 104)
open('$tmp/retrans-1', 'w').write(str(struct.unpack_from('I', info, 100)[0]))
s.close()
"
wait $server || fail "server did not receive $bytes bytes"
sleep 2.5   # flush interval is 1 s; stats every 1 s

# Agents first: each drains its exporter and exits 1 if a record stayed
# unsent, so the collector must still be there (stopping all at once raced).
collector=${pids[0]}
for p in "${pids[@]:1}"; do kill -INT "$p"; done
for p in "${pids[@]:1}"; do wait "$p" || fail "agent $p exited with $?"; done
grep -q "exit: .* 0 not sent" "$tmp/agent-c.log" || fail "the UDP agent left records unsent"
grep -q "exit: .* 0 not sent" "$tmp/agent-s.log" || fail "the TCP agent left records unsent"
kill -INT "$collector"
wait "$collector" || fail "collector exited with $?"
pids=()

q() { sqlite3 "$db" "$1"; }
server_rx=$(q "SELECT sum(bytes_received) FROM profiles WHERE observation_domain=2 AND src_port=$port")
client_tx=$(q "SELECT sum(bytes_acked) FROM profiles WHERE observation_domain=1 AND dst_port=$port")
# The kernel counts the FIN in bytes_received, and SYN and FIN in bytes_acked.
[ "$server_rx" = "$((bytes + 1))" ] || fail "server bytes_received $server_rx, want $((bytes + 1))"
[ "$client_tx" = "$((bytes + 2))" ] || fail "client bytes_acked $client_tx, want $((bytes + 2))"
for dom in 1 2; do
  conn="observation_domain=$dom AND (src_port=$port OR dst_port=$port)"
  chain=$(q "SELECT group_concat(start_state || '>' || end_state, ' ') FROM (SELECT * FROM profiles
             WHERE $conn ORDER BY profile_seq)")
  # A veth drops too (a full backlog while a busy core holds the softirq
  # back): the sender then retransmits and the chain has ESTABLISHED >
  # DEGRADED > ESTABLISHED episodes. Whether it must is the kernel's count.
  retrans=$(cat "$tmp/retrans-$dom")
  agent_retrans=$(q "SELECT sum(retrans_segs) FROM profiles WHERE $conn")
  [ "$agent_retrans" = "$retrans" ] || fail "domain $dom retrans_segs $agent_retrans, TCP_INFO total_retrans $retrans"
  if [ "$retrans" = 0 ]; then
    [ "$chain" = "1>2 2>4" ] || fail "domain $dom chain '$chain', want '1>2 2>4' (NEW>ESTABLISHED, ESTABLISHED>FINISHED) with no retransmission"
  else
    echo "domain $dom: $retrans retransmissions, chain '$chain'"
    echo "$chain" | grep -Eqx '1>2( 2>3 3>2)*( 2>3 3>4| 2>4)' \
      || fail "domain $dom chain '$chain': want NEW>ESTABLISHED, DEGRADED episodes, FINISHED"
  fi
  addr=$(q "SELECT DISTINCT src_addr FROM profiles WHERE observation_domain=$dom AND (src_port=$port OR dst_port=$port)")
  want=198.18.0.$dom
  [ "$addr" = "$want" ] || fail "domain $dom local address '$addr', want $want"
  stats=$(q "SELECT count(*) FROM agent_stats WHERE observation_domain=$dom")
  [ "$stats" -ge 1 ] || fail "no agent statistics from domain $dom"
done
lost=$(q "SELECT max(kernel_events_lost) FROM agent_stats")
[ "$lost" = "0" ] || fail "agents lost $lost kernel events"
# --stdout prints the same profiles as JSON lines: the same chain (by state
# name), the same bytes.
chain1=$(q "SELECT group_concat(start_state || '>' || end_state, ' ') FROM (SELECT * FROM profiles
            WHERE observation_domain=1 AND dst_port=$port ORDER BY profile_seq)")
$PY - "$tmp/agent-c.jsonl" $port $((bytes + 2)) "$chain1" <<'PYEOF' || fail "JSON lines disagree with SQLite"
import json, sys
path, port, want, chain = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rows = [json.loads(l) for l in open(path)]
conn = [r for r in rows if r["dst_port"] == port]
names = {"1": "NEW", "2": "ESTABLISHED", "3": "DEGRADED", "4": "FINISHED"}
want_chain = [tuple(names[s] for s in w.split(">")) for w in chain.split()]
assert [(r["start_state_name"], r["end_state_name"]) for r in conn] == want_chain, (conn, want_chain)
assert sum(r["bytes_acked"] for r in conn) == want, conn
assert all(r["src_addr"] == "198.18.0.1" and r["template"] == "tcp4" for r in conn), conn
PYEOF
echo "PASS: $bytes bytes agent -> IPFIX (UDP and TCP) -> collector -> SQLite, both ends, full chains"
