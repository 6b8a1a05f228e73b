#!/usr/bin/env bash
# Interop (c): our collector stores what softflowd exports. A short loopback
# TCP connection is captured to a pcap, softflowd replays it as IPFIX
# (-v 10) to `flowcorder collect`, and table `flows` must hold both
# directions with the right 5-tuples, packet/byte counts and start time.
# Usage: softflowd_collect.sh path/to/build/flowcorder
set -euo pipefail

FC_ARG=${1:-}
source "$(dirname "$0")/common.bash"
interop_setup softflowd softflowd tshark sqlite3 python3 ss
TCP_PORT=$(free_port -ltn)
IPFIX_PORT=$(free_port -lun)

# 1. A pcap of one short TCP connection on lo.
tshark -i lo -f "tcp port $TCP_PORT" -a duration:3 -w "$DIR/flow.pcap" -F pcap 2>"$DIR/tshark.log" &
PIDS+=($!)
TSHARK_PID=$!
for _ in $(seq 100); do grep -q "Capturing on" "$DIR/tshark.log" && break; sleep 0.1; done
grep -q "Capturing on" "$DIR/tshark.log" || { echo "FAIL: tshark did not start:" >&2; cat "$DIR/tshark.log" >&2; exit 1; }
sleep 0.5
CLIENT_PORT=$(python3 - "$TCP_PORT" <<'PY'
import socket, sys, threading
port = int(sys.argv[1])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port))
srv.listen(1)
def serve():
    c, _ = srv.accept()
    c.recv(100)
    c.sendall(b"y" * 3000)
    c.close()
t = threading.Thread(target=serve)
t.start()
c = socket.create_connection(("127.0.0.1", port))
print(c.getsockname()[1])
c.sendall(b"x" * 50)
while c.recv(4096):
    pass
c.close()
t.join()
PY
)
wait "$TSHARK_PID" || { echo "FAIL: tshark capture failed:" >&2; cat "$DIR/tshark.log" >&2; exit 1; }
echo "pcap: 127.0.0.1:$CLIENT_PORT -> 127.0.0.1:$TCP_PORT"

# Ground truth from the pcap: packets, IP bytes and first packet (ms) per direction.
truth() {  # $1 = source port
    tshark -r "$DIR/flow.pcap" -Y "tcp.srcport == $1" -T fields -e frame.time_epoch -e ip.len 2>/dev/null |
        awk '{ n++; b += $2; if (n == 1) first = $1 } END { printf "%d %d %.0f\n", n, b, int(first * 1000) }'
}
read -r C_PKTS C_BYTES C_START <<<"$(truth "$CLIENT_PORT")"
read -r S_PKTS S_BYTES S_START <<<"$(truth "$TCP_PORT")"
[[ $C_PKTS -gt 0 && $S_PKTS -gt 0 ]] || { echo "FAIL: the pcap misses the connection" >&2; exit 1; }

# 2. Our collector, 3. softflowd replaying the pcap as IPFIX.
"$FC" collect --listen "udp://127.0.0.1:$IPFIX_PORT" --db "$DIR/c.sqlite" 2>"$DIR/collect.log" &
PIDS+=($!)
COLLECT_PID=$!
for _ in $(seq 50); do ss -Hlun "sport = :$IPFIX_PORT" | grep -q . && break; sleep 0.1; done
softflowd -r "$DIR/flow.pcap" -v 10 -n "127.0.0.1:$IPFIX_PORT" -d >"$DIR/softflowd.log" 2>&1 ||
    { echo "FAIL: softflowd failed:" >&2; cat "$DIR/softflowd.log" >&2; exit 1; }
sleep 1.5
kill -TERM "$COLLECT_PID"
wait "$COLLECT_PID" || { echo "FAIL: collector did not exit cleanly:" >&2; cat "$DIR/collect.log" >&2; exit 1; }
cat "$DIR/collect.log"
grep -q "malformed 0" "$DIR/collect.log" || { echo "FAIL: collector found malformed input" >&2; exit 1; }

# 4. Table `flows`.
rows=$(sqlite3 -separator ' ' "$DIR/c.sqlite" \
    "SELECT src_addr, src_port, dst_addr, dst_port, protocol, packets, octets, start_ms, end_ms FROM flows ORDER BY src_port")
echo "$rows"
[[ $(grep -c . <<<"$rows") -eq 2 ]] || { echo "FAIL: expected 2 flows (both directions)" >&2; exit 1; }
check() {  # src_port dst_port packets bytes start_ms
    local line
    line=$(awk -v s="$1" -v d="$2" '$2 == s && $4 == d' <<<"$rows")
    [[ -n $line ]] || { echo "FAIL: no flow 127.0.0.1:$1 -> 127.0.0.1:$2" >&2; exit 1; }
    set -- $line "$3" "$4" "$5"
    [[ $1 == 127.0.0.1 && $3 == 127.0.0.1 && $5 == 6 ]] || { echo "FAIL: bad 5-tuple: $line" >&2; exit 1; }
    [[ $6 == "${10}" && $7 == "${11}" ]] || { echo "FAIL: flow $2->$4 has $6 packets/$7 bytes, pcap says ${10}/${11}" >&2; exit 1; }
    local d=$(($8 - ${12}))
    [[ ${d#-} -le 2 ]] || { echo "FAIL: flow $2->$4 starts at $8 ms, pcap says ${12}" >&2; exit 1; }
    [[ $9 -ge $8 ]] || { echo "FAIL: flow $2->$4 ends before it starts" >&2; exit 1; }
}
check "$CLIENT_PORT" "$TCP_PORT" "$C_PKTS" "$C_BYTES" "$C_START"
check "$TCP_PORT" "$CLIENT_PORT" "$S_PKTS" "$S_BYTES" "$S_START"
echo "PASS: softflowd's flows stored with the right 5-tuples, counts and times"
