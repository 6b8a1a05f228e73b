#!/usr/bin/env bash
# Interop (a): tshark must decode every IPFIX message Flowcorder exports over
# UDP (templates, RFC 5610 type records, data of every template) with no
# malformed packet and no expert warning, and show the values we sent.
# Usage: ipfix_tshark.sh path/to/build/flowcorder
set -euo pipefail

FC_ARG=${1:-}
source "$(dirname "$0")/common.bash"
interop_setup tshark tshark sqlite3 ss
PORT=$(free_port -lun)
COUNT=3

# Something must listen, or the kernel answers with ICMP unreachable: our
# own collector, which also cross-checks what arrived.
"$FC" collect --listen "udp://127.0.0.1:$PORT" --db "$DIR/c.sqlite" 2>"$DIR/collect.log" &
PIDS+=($!)
COLLECT_PID=$!

# tshark stops by itself (autostop): signalling it can lose the file's tail.
tshark -i lo -f "udp port $PORT" -a duration:5 -w "$DIR/cap.pcapng" 2>"$DIR/tshark.log" &
PIDS+=($!)
TSHARK_PID=$!
for _ in $(seq 100); do grep -q "Capturing on" "$DIR/tshark.log" && break; sleep 0.1; done
grep -q "Capturing on" "$DIR/tshark.log" || { echo "FAIL: tshark did not start:" >&2; cat "$DIR/tshark.log" >&2; exit 1; }
sleep 0.5

"$FC" ipfix-selftest --collector "udp://127.0.0.1:$PORT" --count "$COUNT"
wait "$TSHARK_PID" || { echo "FAIL: tshark capture failed:" >&2; cat "$DIR/tshark.log" >&2; exit 1; }
kill -TERM "$COLLECT_PID"; wait "$COLLECT_PID"

DECODE=(-r "$DIR/cap.pcapng" -d "udp.port==$PORT,cflow")
frames=$(tshark -r "$DIR/cap.pcapng" -Y udp 2>/dev/null | wc -l)
ipfix=$(tshark "${DECODE[@]}" -Y "cflow.version == 10" 2>/dev/null | wc -l)
bad=$(tshark "${DECODE[@]}" -Y "_ws.malformed || _ws.expert.severity >= warning" 2>/dev/null | wc -l)
echo "captured $frames UDP frames, $ipfix decoded as IPFIX, $bad malformed/warnings"
[[ $frames -gt 0 ]] || { echo "FAIL: nothing captured" >&2; exit 1; }
[[ $ipfix -eq $frames ]] || { echo "FAIL: tshark decoded $ipfix of $frames messages as IPFIX" >&2; exit 1; }
if [[ $bad -ne 0 ]]; then
    echo "FAIL: tshark reports malformed packets or expert warnings:" >&2
    tshark "${DECODE[@]}" -q -z expert >&2
    exit 1
fi
expert=$(tshark "${DECODE[@]}" -q -z expert 2>/dev/null | grep -ciE "error|warn|malformed" || true)
[[ $expert -eq 0 ]] || { echo "FAIL: expert info not clean" >&2; tshark "${DECODE[@]}" -q -z expert >&2; exit 1; }

# Templates 256, 257 (TCP), 260-262 (DNS), 263, 264 (MPTCP), 300 and the RFC 5610 options
# template 512 were seen.
# (Outputs go through variables: with pipefail, `tshark | grep -q` fails
# when grep exits early.)
verbose=$(tshark "${DECODE[@]}" -V 2>/dev/null)
for tid in 256 257 260 261 262 263 264 300; do
    grep -q "Template (Id = $tid, Count = " <<<"$verbose" ||
        { echo "FAIL: template $tid not decoded" >&2; exit 1; }
done
grep -q "Options Template (Id = 512)" <<<"$verbose" ||
    { echo "FAIL: RFC 5610 options template 512 not decoded" >&2; exit 1; }
grep -q "Information Element Name: fcBytesAcked" <<<"$verbose" ||
    { echo "FAIL: RFC 5610 type record for fcBytesAcked not decoded" >&2; exit 1; }
records=$(grep -cE "^ +Flow [0-9]+" <<<"$verbose" || true)
echo "tshark shows $records data records (type records included)"

# The values: every address and port of every record (tshark lists a
# frame's records comma-separated).
values() { tshark "${DECODE[@]}" -T fields -e "$1" 2>/dev/null | tr ',' '\n' | sed '/^$/d' | sort -u; }
for i in $(seq 1 "$COUNT"); do
    for want in "cflow.srcaddr 10.0.0.$i" "cflow.dstaddr 192.0.2.$i" \
                "cflow.srcaddrv6 2001:db8::$i" "cflow.dstaddrv6 2001:db8:1::$i" \
                "cflow.srcport $((40000 + i - 1))"; do
        set -- $want
        values "$1" | grep -qx "$2" || { echo "FAIL: tshark shows no $1 = $2" >&2; exit 1; }
    done
done
[[ $(values cflow.dstport | tr '\n' ' ') == "443 53 " ]] ||
    { echo "FAIL: destination ports not 443 (TCP) and 53 (DNS)" >&2; exit 1; }
[[ $(values cflow.protocol | tr '\n' ' ') == "17 6 " ]] || { echo "FAIL: protocols not TCP and UDP" >&2; exit 1; }
# The DNS records' fixed-length string fields: tshark shows enterprise
# elements it has no dissector for as hex; every name must be there, as text
# bytes, in each of the three DNS templates.
for i in $(seq 0 $((COUNT - 1))); do
    hex=$(printf 'host%d.selftest.example' "$i" | od -An -tx1 | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')
    n=$(grep -c "Type 60: Value (hex bytes): $hex 00" <<<"$verbose" || true)
    [[ $n -eq 3 ]] || { echo "FAIL: DNS name host$i.selftest.example in $n of 3 DNS records" >&2; exit 1; }
done
times=$(TZ=UTC tshark "${DECODE[@]}" -Y "cflow.srcport == 40001" -V 2>/dev/null | grep "StartTime:" || true)
echo "$times"
grep -q "Jan  2, 2024 03:04:06.123456789 UTC" <<<"$times" ||
    { echo "FAIL: flowStartNanoseconds of record 1 not 2024-01-02 03:04:06.123456789" >&2; exit 1; }
grep -q "Jan  2, 2024 03:04:06.123000000 UTC" <<<"$times" ||
    { echo "FAIL: flowStartMilliseconds of record 1 not 2024-01-02 03:04:06.123" >&2; exit 1; }

# Our collector stored what tshark saw.
rows=$(sqlite3 "$DIR/c.sqlite" "SELECT count(*) FROM profiles")
# tcp4, tcp6, mptcp4, mptcp6, dns_lookup, dns4, dns6
[[ $rows -eq $((7 * COUNT)) ]] || { echo "FAIL: collector stored $rows profiles, expected $((7 * COUNT))" >&2; exit 1; }
names=$(sqlite3 "$DIR/c.sqlite" "SELECT count(DISTINCT dns_name) FROM profiles WHERE dns_name LIKE '%.selftest.example'")
[[ $names -eq $COUNT ]] || { echo "FAIL: collector stored $names distinct DNS names, expected $COUNT" >&2; exit 1; }
echo "PASS: tshark decoded all $frames messages cleanly"
