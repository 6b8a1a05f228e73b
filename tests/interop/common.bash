# Sourced by the interop scripts (not a test itself: ctest runs *.sh only).
# Sets FC from $1, checks the tools named, makes $DIR, and on exit kills
# every pid in PIDS and removes $DIR.
# Usage: interop_setup NAME TOOL... ; free_port -lun|-ltn

interop_setup() {
    local name=$1
    shift
    FC=${FC_ARG:?usage: script path/to/flowcorder}
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed" >&2; exit 1; }
    done
    [[ -x $FC ]] || { echo "FAIL: $FC is not an executable" >&2; exit 1; }
    DIR=$(mktemp -d "/tmp/fc_interop_$name.XXXXXX")
    PIDS=()
    trap interop_cleanup EXIT
}

interop_cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$DIR"
}

# A loopback port nobody listens on: $1 is ss's -lun (UDP) or -ltn (TCP).
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 40000))
        ss -H "$1" "sport = :$p" | grep -q . || { echo "$p"; return; }
    done
}
