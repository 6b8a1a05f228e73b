#!/usr/bin/env bash
# Interop (b): nfdump's nfcapd receives Flowcorder's IPFIX over UDP and
# `nfdump -r` lists the profile records with the right addresses, ports,
# protocol and start/end times.
# Usage: ipfix_nfdump.sh path/to/build/flowcorder
set -euo pipefail

FC_ARG=${1:-}
source "$(dirname "$0")/common.bash"
interop_setup nfdump nfcapd nfdump ss
PORT=$(free_port -lun)
COUNT=3
mkdir -p "$DIR/flows"

nfcapd -b 127.0.0.1 -p "$PORT" -w "$DIR/flows" -t 3600 >"$DIR/nfcapd.log" 2>&1 &
NFCAPD_PID=$!
PIDS+=($NFCAPD_PID)
for _ in $(seq 50); do ss -Hlun "sport = :$PORT" | grep -q . && break; sleep 0.1; done
ss -Hlun "sport = :$PORT" | grep -q . || { echo "FAIL: nfcapd did not start:" >&2; cat "$DIR/nfcapd.log" >&2; exit 1; }

"$FC" ipfix-selftest --collector "udp://127.0.0.1:$PORT" --count "$COUNT"
sleep 1
kill -TERM "$NFCAPD_PID"; wait "$NFCAPD_PID" || true
PIDS=()

files=$(find "$DIR/flows" -type f -name 'nfcapd.*' ! -name '*.current*' | sort)
[[ -n $files ]] || { echo "FAIL: nfcapd wrote no flow file:" >&2; ls -lR "$DIR/flows" >&2; cat "$DIR/nfcapd.log" >&2; exit 1; }
listing=$(for f in $files; do TZ=UTC nfdump -r "$f" -q -o "fmt:%ts %te %pr %sa %sp %da %dp" 'proto tcp'; done)
echo "$listing"
lines=$(grep -c . <<<"$listing" || true)
# TCP (tcp4, tcp6) and MPTCP connections (mptcp4, mptcp6): protocol 6 both.
[[ $lines -eq $((4 * COUNT)) ]] || { echo "FAIL: nfdump lists $lines TCP flows, expected $((4 * COUNT))" >&2; cat "$DIR/nfcapd.log" >&2; exit 1; }

# Record i: 10.0.0.(i+1):40000+i -> 192.0.2.(i+1):443 (and the IPv6 twin),
# window 2024-01-02 03:04:(05+i).123 -> +250 ms.
norm=$(sed -E 's/ +/ /g; s/^ //' <<<"$listing")
for i in $(seq 0 $((COUNT - 1))); do
    s=$(printf '2024-01-02 03:04:%02d.123' $((5 + i)))
    e=$(printf '2024-01-02 03:04:%02d.373' $((5 + i)))
    for pair in "10.0.0.$((i + 1)) 192.0.2.$((i + 1))" "2001:db8::$((i + 1)) 2001:db8:1::$((i + 1))"; do
        set -- $pair
        want="$s $e TCP $1 $((40000 + i)) $2 443"
        grep -qxF "$want" <<<"$norm" || { echo "FAIL: nfdump does not list: $want" >&2; exit 1; }
    done
done
echo "PASS: nfcapd stored and nfdump listed all $((4 * COUNT)) profile records"
