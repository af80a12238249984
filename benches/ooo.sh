#!/usr/bin/env bash
# Out-of-order reassembly under hostile input: time against the number of segments held beyond
# a hole, which should grow linearly (benches/ooo-gen.py makes the captures):
#   desc-N               N one-byte segments in descending sequence order (80 k, 320 k, 1 M):
#                        all but the last wait beyond the hole the last one fills
#   one-sided-300k       one direction of a 300,000-segment transfer at snaplen 96, in order
#   one-sided-300k-gap   the same with its second segment missing: every later segment waits
#                        (separate ranges: the snaplen cut each segment's tail)
# Each capture is analysed RUNS times, rounds interleaved (all see the same load on a shared
# machine); the report gives medians, the time per segment, peak RSS and the summary's
# reassembly counters (`table.reassembly_cap_hits`, `table.reassembly_peak_bytes`), then the
# ratios that should stay near linear: desc 320k / 80k (4x the segments), 1M / 80k (12.5x), and
# one-sided gap / no gap (same segments).
#
# Usage: benches/ooo.sh
# Environment:
#   DIR      where captures and results go (default: <repo>/target/bench/ooo)
#   RUNS     rounds (default 3)
#   BIN      tcpaudit binary (default: <repo>/target/release/tcpaudit, built here)
#   TIMEOUT  seconds after which one run is stopped and reported as such (default 600)
#   OPTS     more tcpaudit options for every run, e.g. --check-overlaps (bytes kept, not only
#            ranges)
# Needs python3, cargo and /usr/bin/time (GNU time; apt-get install -y time). Captures are
# generated once and reused. Compare ratios, not absolute times, and quote the load printed.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
DIR="${DIR:-$REPO/target/bench/ooo}"
RUNS="${RUNS:-3}"
TIMEOUT="${TIMEOUT:-600}"
OPTS="${OPTS-}"
case "${1:-}" in
  -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
esac
[[ -x /usr/bin/time ]] || { echo "ooo.sh: /usr/bin/time missing (apt-get install -y time)" >&2; exit 1; }
mkdir -p "$DIR"

# ---- captures ---------------------------------------------------------------
NAMES=(desc-80k desc-320k desc-1M one-sided-300k one-sided-300k-gap)
GENS=("descending 80000" "descending 320000" "descending 1000000"
      "one-sided 300000 --snaplen 96" "one-sided 300000 --snaplen 96 --gap")
SEGS=(80000 320000 1000000 300000 299999)
for i in "${!NAMES[@]}"; do
  f="$DIR/${NAMES[$i]}.pcap"
  if [[ ! -s "$f" ]]; then
    echo "== generating $f"
    # shellcheck disable=SC2086
    set -- ${GENS[$i]}
    python3 "$SCRIPT_DIR/ooo-gen.py" "$1" "$2" "$f" "${@:3}"
  fi
done

# ---- build ------------------------------------------------------------------
if [[ -z "${BIN:-}" ]]; then
  echo "== cargo build --release"
  ( cd "$REPO" && cargo build --release --locked )
  BIN="$REPO/target/release/tcpaudit"
  REV="tcpaudit $(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo unknown)"
else
  REV="$("$BIN" --version 2>/dev/null | head -n 1) given as BIN"
fi

# ---- runs -------------------------------------------------------------------
RES="$DIR/results"
rm -rf "$RES"
mkdir -p "$RES"
echo "== $RUNS interleaved rounds of ${#NAMES[@]} captures"
for ((r = 0; r < RUNS; r++)); do
  for n in "${NAMES[@]}"; do
    # wall, user, sys seconds and peak RSS KiB, one line per run (exit status 124: timed out)
    rc=0
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %U %S %M' -o "$RES/t" timeout "$TIMEOUT" \
      "$BIN" analyze -f json $OPTS "$DIR/$n.pcap" >"$RES/$n.json" 2>"$RES/err" || rc=$?
    case $rc in
      0) cat "$RES/t" >>"$RES/$n.runs" ;;
      124) echo "timeout" >>"$RES/$n.runs" ;;
      *) echo "ooo.sh: tcpaudit failed on $n (exit $rc):" >&2; cat "$RES/err" >&2; exit 1 ;;
    esac
  done
  echo "   round $((r + 1)) done, load $(cut -d' ' -f1 /proc/loadavg)"
done

# ---- report -----------------------------------------------------------------
echo
echo "== $REV ($BIN${OPTS:+, with $OPTS}); $(nproc) CPUs"
echo "== uptime: $(uptime)"
python3 - "$RES" "$RUNS" "$TIMEOUT" "${NAMES[@]}" -- "${SEGS[@]}" <<'EOF' | tee "$RES/summary.md"
import json, statistics, sys
args = sys.argv[1:]
res, runs, timeout = args[0], args[1], float(args[2])
cut = args.index("--")
names, segs = args[3:cut], [int(s) for s in args[cut + 1:]]
rows = {}
print(f"| capture | segments | wall s, median of {runs} | CPU s | us/segment | peak RSS MiB "
      f"| reassembly_cap_hits | reassembly_peak_bytes |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for n, seg in zip(names, segs):
    lines = [l.split() for l in open(f"{res}/{n}.runs") if l.strip()]
    done = [list(map(float, l)) for l in lines if l != ["timeout"]]
    if not done:
        rows[n] = None
        print(f"| {n} | {seg} | > {timeout:.0f} (stopped) | | | | | |")
        continue
    wall = statistics.median(r[0] for r in done)
    cpu = statistics.median(r[1] + r[2] for r in done)
    rss = max(r[3] for r in done) / 1024
    table = {}
    for line in open(f"{res}/{n}.json"):
        rec = json.loads(line)
        if rec.get("type") == "summary" or "table" in rec:
            table = rec.get("table", table)
    rows[n] = cpu
    print(f"| {n} | {seg} | {wall:.2f} | {cpu:.2f} | {cpu / seg * 1e6:.2f} | {rss:.0f} "
          f"| {table.get('reassembly_cap_hits', '?')} | {table.get('reassembly_peak_bytes', '?')} |")
def ratio(a, b, want):
    if rows.get(a) is None or rows.get(b) is None:
        return f"{a} / {b}: -"
    return f"{a} / {b}: CPU {rows[a] / max(rows[b], 1e-3):.2f}x (linear: {want})"
print()
print(ratio("desc-320k", "desc-80k", "4x"))
print(ratio("desc-1M", "desc-80k", "12.5x"))
print(ratio("one-sided-300k-gap", "one-sided-300k", "1x; target within 2x"))
EOF
echo "per-run lines (wall user sys maxrss-KiB): $RES/*.runs"
