#!/usr/bin/env bash
# Live capture benchmark: `tcpaudit live` on one end of a veth pair while tcpreplay sends a
# generated capture into the other end at fixed packet rates.
#
# Usage: sudo benches/live-bench.sh rates [RATE ...]   drops per rate (default 50k..800k pps, then top speed)
#        sudo benches/live-bench.sh long [SECS] [PPS]   peak memory over a long run (default 600 s at 50k pps),
#                                                      every loop of the capture with new addresses
# Environment: DIR (default <repo>/target/bench), BIN (default <repo>/target/dist/tcpaudit),
# SECS_PER_RATE (default 5), SENDERS (tcpreplay processes sending at once, default 1; each offers
# the rate), BUFFER_MIB (tcpaudit's ring, default 64).
# Needs root, iproute2, tcpreplay, python3 (apt-get install -y iproute2 tcpreplay python3).
# Everything runs inside two network namespaces this script creates and deletes.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
GEN="$REPO/../shared/tools/gen-pcap.py"
DIR="${DIR:-$REPO/target/bench}"
BIN="${BIN:-$REPO/target/dist/tcpaudit}"
TX=tcpa-bench-tx
RX=tcpa-bench-rx
SECS_PER_RATE="${SECS_PER_RATE:-5}"
MODE="${1:-rates}"
shift || true

[[ $EUID -eq 0 ]] || { echo "live-bench.sh: must run as root (network namespaces)" >&2; exit 1; }
for t in ip tcpreplay python3; do
    command -v "$t" >/dev/null || { echo "live-bench.sh: $t missing (apt-get install -y iproute2 tcpreplay python3)" >&2; exit 1; }
done

mkdir -p "$DIR"
CAP="$DIR/live-bench.pcap"
if [[ ! -s $CAP ]]; then
    echo "== generating $CAP"
    python3 "$GEN" -o "$CAP" --labels "$DIR/live-bench.jsonl" --connections 20000 --seed 7 \
        --duration 30 --snaplen 96 -q
fi
( cd "$REPO" && cargo build --profile dist -q )

ns_down() { ip netns del "$TX" 2>/dev/null || true; ip netns del "$RX" 2>/dev/null || true; }
cleanup() { set +e; [[ -n ${TA_PID:-} ]] && kill "$TA_PID" 2>/dev/null; ns_down; }
trap cleanup EXIT
ns_down
ip netns add "$TX"
ip netns add "$RX"
for ns in "$TX" "$RX"; do
    ip -n "$ns" link set lo up
    ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
done
ip link add tx0 netns "$TX" type veth peer name rx0 netns "$RX"
ip -n "$TX" link set tx0 up
ip -n "$RX" link set rx0 up

# Starts tcpaudit on rx0 with JSON to $1; sets TA_PID.
start_tcpaudit() {
    ip netns exec "$RX" "$BIN" live -i rx0 -f json --refresh 5 -Z root -B "${BUFFER_MIB:-64}" >"$1" 2>"$1.err" &
    TA_PID=$!
    for _ in $(seq 100); do
        if grep -q "listening on" "$1.err" 2>/dev/null; then
            # The ring is set up (the kernel zeroes every page of it, in tcpaudit's time): CPU
            # from here on is what the frames cost.
            SETUP_CPU=$(cpu_secs)
            return
        fi
        sleep 0.05
    done
    echo "tcpaudit did not start: $(cat "$1.err")" >&2
    exit 1
}

# CPU seconds tcpaudit has used so far: user and system.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f %.2f", $14 / hz, $15 / hz }' "/proc/$TA_PID/stat"; }

stop_tcpaudit() {
    kill -TERM "$TA_PID"
    wait "$TA_PID" || true
    TA_PID=
}

summary() { # file -> "analysed received dropped unread"
    python3 - "$1" <<'EOF'
import json, sys
s = [json.loads(l) for l in open(sys.argv[1]) if '"type":"summary"' in l][-1]
c = s["capture"]
print(s["packets"], c["received"], c["dropped"], c["unread"])
EOF
}

case "$MODE" in
rates)
    RATES=("$@")
    ((${#RATES[@]})) || RATES=(50000 100000 200000 400000 800000 top)
    echo "== $CAP: $SECS_PER_RATE s per rate; ${SENDERS:-1} sender(s); ring ${BUFFER_MIB:-64} MiB; $(nproc) CPUs"
    # The same frames analysed from the file, on one thread as live runs: CPU per frame to
    # compare with the live rows'.
    offline=$( { /usr/bin/time -f '%U %S' "$BIN" analyze -f json --threads 1 "$CAP" >/dev/null; } 2>&1 | tail -1)
    frames=$("$BIN" analyze -f json --threads 1 "$CAP" | python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin if "\"type\":\"summary\"" in l][-1]["packets"])')
    echo "offline (analyze -f json --threads 1): $frames frames, CPU $(python3 -c "u, s = map(float, '$offline'.split()); print(f'{(u + s) / $frames * 1e6:.2f} µs per frame ({u / $frames * 1e6:.2f} user)')")"
    printf "| offered pps | sent pps | analysed | received by filter | dropped by kernel | unread at stop | dropped %% | setup CPU s (user sys) | CPU µs per frame (user) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    for rate in "${RATES[@]}"; do
        out="$DIR/live-bench-$rate.json"
        start_tcpaudit "$out"
        if [[ $rate == top ]]; then speed=(--topspeed); else speed=(--pps="$rate"); fi
        log="$DIR/live-bench-$rate.tcpreplay"
        rm -f "$log".*
        senders=()
        for i in $(seq "${SENDERS:-1}"); do
            ip netns exec "$TX" tcpreplay -i tx0 "${speed[@]}" --loop=1000 --duration="$SECS_PER_RATE" "$CAP" >"$log.$i" 2>&1 &
            senders+=($!)
        done
        wait "${senders[@]}" || true
        sleep 0.5
        cpu=$(cpu_secs)
        stop_tcpaudit
        read -r analysed received dropped unread < <(summary "$out")
        # Per frame: CPU after the ring was set up (startup is in its own column).
        per_frame=$(python3 -c "u, s = map(float, '$cpu'.split()); u0, s0 = map(float, '$SETUP_CPU'.split()); n = max($analysed, 1); print(f'{(u - u0 + s - s0) / n * 1e6:.2f} ({(u - u0) / n * 1e6:.2f})')")
        sent=$(cat "$log".* | awk '/Rated:/ { for (i = 1; i <= NF; i++) if ($i == "pps") s += $(i-1) } END { printf "%.0f", s }')
        pct=$(python3 -c "print(f'{100*$dropped/max($received,1):.2f}')")
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$rate" "${sent:-?}" "$analysed" "$received" "$dropped" "$unread" "$pct" "$SETUP_CPU" "$per_frame"
    done
    ;;
long)
    SECS="${1:-600}"
    PPS="${2:-50000}"
    out="$DIR/live-bench-long.json"
    start_tcpaudit "$out"
    ip netns exec "$TX" tcpreplay -i tx0 --pps="$PPS" --loop=0 --unique-ip --duration="$SECS" "$CAP" \
        >"$DIR/live-bench-long.tcpreplay" 2>&1 &
    REPLAY=$!
    echo "== $SECS s at $PPS pps, new addresses every loop; RSS of tcpaudit every 30 s"
    printf "| seconds | RSS MiB | tracked connections | connections ended |\n|---:|---:|---:|---:|\n"
    t=0
    while kill -0 "$REPLAY" 2>/dev/null; do
        sleep 30
        t=$((t + 30))
        rss=$(awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$TA_PID/status" 2>/dev/null || echo "?")
        read -r tracked ended < <(python3 - "$out" <<'EOF'
import json, sys
last = None
for l in open(sys.argv[1]):
    if '"type":"status"' in l:
        last = l
s = json.loads(last) if last else {}
print(s.get("tracked", "?"), s.get("ended", "?"))
EOF
)
        printf "| %s | %s | %s | %s |\n" "$t" "$rss" "$tracked" "$ended"
    done
    peak=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$TA_PID/status")
    stop_tcpaudit
    read -r analysed received dropped unread < <(summary "$out")
    echo "peak RSS $peak MiB; $analysed frames analysed, $received received, $dropped dropped by kernel"
    ;;
*)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
