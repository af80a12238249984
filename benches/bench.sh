#!/usr/bin/env bash
# Throughput benchmark: tcpaudit against tcpdump (and Suricata, if installed) on a
# synthetic capture from shared/tools/gen-pcap.py.
#
# Usage: benches/bench.sh [medium|large]
#   medium (default)  2,000,867 packets, 1.69 GB   (--connections 47000 --seed 2 --duration 120)
#   large             10,198,933 packets, 1.01 GB  (--connections 235000 --seed 3 --duration 600
#                                                   --snaplen 96: headers only)
# Environment:
#   DIR           where captures and results go (default: <repo>/target/bench)
#   RUNS          timed runs per command (default 5); WARMUP (default 1, hyperfine only)
#   NO_HYPERFINE  set to 1 to force the /usr/bin/time loop even if hyperfine is installed
#   SURICATA_YAML Suricata config for the optional run (default: shared/pcaps/suricata.yaml)
#
# Needs: python3, cargo, /usr/bin/time (GNU time), tcpdump; hyperfine optional.
# On Debian: apt-get install -y tcpdump hyperfine time
# Captures are generated once and reused (delete the file to regenerate).
# Compare ratios rather than absolute times on a shared machine (see
# shared/notes/perf-baselines.md).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SHARED="$(cd "$SCRIPT_DIR/../../shared" && pwd)"
GEN="$SHARED/tools/gen-pcap.py"
DIR="${DIR:-$REPO/target/bench}"
RUNS="${RUNS:-5}"
WARMUP="${WARMUP:-1}"
PROFILE="${1:-medium}"

case "$PROFILE" in
  medium) GEN_ARGS=(--connections 47000 --seed 2 --duration 120) ;;
  large)  GEN_ARGS=(--connections 235000 --seed 3 --duration 600 --snaplen 96) ;;
  -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
  *) echo "bench.sh: unknown profile '$PROFILE' (medium|large)" >&2; exit 2 ;;
esac

FILE="$DIR/$PROFILE.pcap"
LABELS="$DIR/$PROFILE.jsonl"
BIN="$REPO/target/release/tcpaudit"
mkdir -p "$DIR"

# ---- tools ------------------------------------------------------------------
missing=0
need() { # need CMD DEBIAN_PACKAGE [optional]
  if ! command -v "$1" >/dev/null 2>&1; then
    if [[ "${3:-}" == optional ]]; then
      echo "note: $1 not found (optional); install with: apt-get install -y $2" >&2
    else
      echo "MISSING: $1 not found; install with: apt-get install -y $2" >&2
      missing=1
    fi
    return 1
  fi
}
need python3 python3 || true
need cargo "cargo (or rustup)" || true
[[ -x /usr/bin/time ]] || { echo "MISSING: /usr/bin/time (GNU time); install with: apt-get install -y time" >&2; missing=1; }
need tcpdump tcpdump || true
HAVE_HYPERFINE=0
if need hyperfine hyperfine optional && [[ "${NO_HYPERFINE:-0}" != 1 ]]; then HAVE_HYPERFINE=1; fi
HAVE_SURICATA=0
SURICATA_YAML="${SURICATA_YAML:-$SHARED/pcaps/suricata.yaml}"
if need suricata suricata optional && [[ -f "$SURICATA_YAML" ]]; then HAVE_SURICATA=1; fi
if [[ $missing == 1 ]]; then echo "bench.sh: required tools missing, see above" >&2; exit 1; fi
[[ $HAVE_HYPERFINE == 1 ]] || echo "note: timing with a /usr/bin/time loop (median of $RUNS)" >&2

# ---- capture ----------------------------------------------------------------
if [[ -s "$FILE" && -s "$LABELS" ]]; then
  echo "== capture: $FILE exists, not regenerating"
else
  echo "== generating $FILE"
  ( set -x; python3 "$GEN" -o "$FILE" --labels "$LABELS" "${GEN_ARGS[@]}" -q )
fi
PACKETS="$(python3 -c '
import json, sys
last = None
for line in open(sys.argv[1]):
    if line.strip(): last = line
rec = json.loads(last)
assert rec.get("kind") == "summary", "labels file has no summary line"
print(rec["packets"])' "$LABELS")"
BYTES="$(stat -c %s "$FILE")"

# ---- build ------------------------------------------------------------------
echo "== cargo build --release"
( cd "$REPO" && cargo build --release )
REV="$(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo unknown)"

# Cross-check the packet count with tcpaudit's own summary (also a smoke test).
echo "== warming page cache"
cat "$FILE" >/dev/null
TA_PACKETS="$("$BIN" analyze -f json "$FILE" | python3 -c '
import json, sys
last = None
for line in sys.stdin:
    if line.strip(): last = line
print(json.loads(last).get("packets", "?"))')"
if [[ "$TA_PACKETS" != "$PACKETS" ]]; then
  echo "warning: tcpaudit summary says $TA_PACKETS packets, labels say $PACKETS" >&2
fi

# ---- commands -----------------------------------------------------------------
# tcpaudit always reassembles (ranges); --check-overlaps also keeps the bytes until acknowledged.
NAMES=(tcpdump tcpaudit-json tcpaudit-table tcpaudit-check-overlaps)
CMDS=(
  "tcpdump -r $FILE -w /dev/null"
  "$BIN analyze -f json $FILE >/dev/null"
  "$BIN analyze $FILE >/dev/null"
  "$BIN analyze --check-overlaps $FILE >/dev/null"
)
if [[ $HAVE_SURICATA == 1 ]]; then
  SURI_LOG="$DIR/suricata-log"; mkdir -p "$SURI_LOG"
  NAMES+=(suricata-single)
  CMDS+=("suricata -c $SURICATA_YAML -S /dev/null -k none --runmode single -l $SURI_LOG -r $FILE >/dev/null 2>&1")
fi

# Quiet output for timing: tcpdump's "reading from file" banner goes to stderr.
RES="$DIR/results-$PROFILE"
mkdir -p "$RES"
rm -f "$RES"/*.times "$RES"/*.time.* "$RES"/*.rss "$RES"/*.rsskb "$RES"/hyperfine.*

# wall seconds per run -> $RES/<name>.times (one per line)
if [[ $HAVE_HYPERFINE == 1 ]]; then
  echo "== hyperfine --warmup $WARMUP --runs $RUNS"
  hf=(hyperfine --warmup "$WARMUP" --runs "$RUNS" --style basic
      --export-markdown "$RES/hyperfine.md" --export-json "$RES/hyperfine.json")
  for i in "${!NAMES[@]}"; do hf+=(-n "${NAMES[$i]}" "${CMDS[$i]} 2>/dev/null"); done
  "${hf[@]}"
  python3 - "$RES" "${NAMES[@]}" <<'EOF'
import json, sys
res, names = sys.argv[1], sys.argv[2:]
data = json.load(open(f"{res}/hyperfine.json"))["results"]
for name, r in zip(names, data):
    with open(f"{res}/{name}.times", "w") as f:
        f.write("\n".join(f"{t:.6f}" for t in r["times"]) + "\n")
EOF
else
  echo "== /usr/bin/time -v loop, $RUNS runs each (plus $WARMUP warm-up)"
  for i in "${!NAMES[@]}"; do
    for ((w = 0; w < WARMUP; w++)); do bash -c "${CMDS[$i]}" 2>/dev/null; done
    for ((r = 0; r < RUNS; r++)); do
      /usr/bin/time -v -o "$RES/${NAMES[$i]}.time.$r" bash -c "${CMDS[$i]} 2>/dev/null"
      awk -F': ' '/Elapsed \(wall clock\)/ {
          n = split($2, p, ":"); s = 0; for (k = 1; k <= n; k++) s = s * 60 + p[k]; print s }' \
        "$RES/${NAMES[$i]}.time.$r" >>"$RES/${NAMES[$i]}.times"
    done
  done
fi

# Peak RSS: one extra /usr/bin/time -v run per command (hyperfine does not report it).
echo "== peak RSS (/usr/bin/time -v, one run each)"
for i in "${!NAMES[@]}"; do
  /usr/bin/time -v -o "$RES/${NAMES[$i]}.rss" bash -c "exec ${CMDS[$i]} 2>/dev/null"
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$RES/${NAMES[$i]}.rss" >"$RES/${NAMES[$i]}.rsskb"
done

# ---- report -----------------------------------------------------------------
echo
echo "== $PROFILE: $FILE, $PACKETS packets, $BYTES bytes; tcpaudit $REV; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RES" "$PACKETS" "$BYTES" "$RUNS" "${NAMES[@]}" <<'EOF' | tee "$RES/summary.md"
import statistics, sys
res, packets, nbytes, runs, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5:]
rows = {}
for n in names:
    t = [float(x) for x in open(f"{res}/{n}.times").read().split()]
    rss = int(open(f"{res}/{n}.rsskb").read().strip() or 0)
    rows[n] = (statistics.median(t), min(t), max(t), len(t), rss)
base = rows["tcpdump"][0]
print("| command | wall s median (min-max), n | packets/s | MB/s | peak RSS MiB | x tcpdump |")
print("|---|---|---:|---:|---:|---:|")
for n, (med, lo, hi, k, rss) in rows.items():
    print(f"| {n} | {med:.3f} ({lo:.3f}-{hi:.3f}), {k} | {packets / med:,.0f} | {nbytes / med / 1e6:,.0f} "
          f"| {rss / 1024:.1f} | {med / base:.2f} |")
EOF
if [[ $HAVE_HYPERFINE == 1 ]]; then echo "hyperfine tables: $RES/hyperfine.md, $RES/hyperfine.json"; fi
echo "per-run times: $RES/*.times; /usr/bin/time -v output: $RES/*.rss"
