#!/usr/bin/env bash
# Throughput and memory benchmark: tcpaudit against the floor (a bare libpcap read loop,
# shared/tools/bench/pcapread.c) and tcpdump, on a synthetic capture from
# shared/tools/gen-pcap.py. Every command runs once per round, rounds interleaved, so all of
# them see the same load on a shared machine; the report gives medians and ratios.
#
# Usage: benches/bench.sh [medium|large] [EXTRA_TCPAUDIT_CONFIG...]
#   medium (default)  2,000,867 packets, 1.69 GB   (--connections 47000 --seed 2 --duration 120)
#   large             10,198,933 packets, 1.01 GB  (--connections 235000 --seed 3 --duration 600
#                                                   --snaplen 96: headers only)
#   EXTRA_TCPAUDIT_CONFIG  more tcpaudit rows, each "name=options", e.g. app=--app
# Environment:
#   DIR      where captures and results go (default: <repo>/target/bench)
#   RUNS     rounds (default 5)
#   BIN      tcpaudit binary (default: <repo>/target/dist/tcpaudit, built here)
#   THREADS  thread counts for rows with an explicit --threads, table and json (default "1";
#            the tcpaudit-table and tcpaudit-json rows use the default, one thread per core)
#   BASE_BIN an earlier tcpaudit binary to compare with, side by side: adds base-table and
#            base-json rows (its defaults) and prints this build's time over the base's
#
# Needs: python3, cargo, /usr/bin/time (GNU time), tcpdump, gcc and libpcap headers for the
# floor. On Debian: apt-get install -y tcpdump time gcc libpcap-dev
# Captures are generated once and reused (delete the file to regenerate). Compare ratios, not
# absolute times, and quote the load printed with them.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "$0")" && pwd)"
REPO="$(cd "$SCRIPT_DIR/.." && pwd)"
SHARED="$(cd "$SCRIPT_DIR/../../shared" && pwd)"
GEN="$SHARED/tools/gen-pcap.py"
DIR="${DIR:-$REPO/target/bench}"
RUNS="${RUNS:-5}"
THREADS="${THREADS-1}"
PROFILE="${1:-medium}"
shift || true

case "$PROFILE" in
  medium) GEN_ARGS=(--connections 47000 --seed 2 --duration 120) ;;
  large)  GEN_ARGS=(--connections 235000 --seed 3 --duration 600 --snaplen 96) ;;
  -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
  *) echo "bench.sh: unknown profile '$PROFILE' (medium|large)" >&2; exit 2 ;;
esac

FILE="$DIR/$PROFILE.pcap"
mkdir -p "$DIR"

missing=0
for tool in python3 tcpdump gcc; do
  command -v "$tool" >/dev/null 2>&1 || { echo "MISSING: $tool (apt-get install -y $tool)" >&2; missing=1; }
done
[[ -x /usr/bin/time ]] || { echo "MISSING: /usr/bin/time (apt-get install -y time)" >&2; missing=1; }
if [[ $missing == 1 ]]; then echo "bench.sh: required tools missing, see above" >&2; exit 1; fi

# ---- the floor --------------------------------------------------------------
FLOOR="$DIR/pcapread"
if [[ ! -x "$FLOOR" || "$SHARED/tools/bench/pcapread.c" -nt "$FLOOR" ]]; then
  gcc -O2 -o "$FLOOR" "$SHARED/tools/bench/pcapread.c" -lpcap ||
    { echo "bench.sh: cannot build the libpcap loop (apt-get install -y libpcap-dev)" >&2; exit 1; }
fi

# ---- capture ----------------------------------------------------------------
if [[ -s "$FILE" ]]; then
  echo "== capture: $FILE exists, not regenerating"
else
  echo "== generating $FILE"
  ( set -x; python3 "$GEN" -o "$FILE" "${GEN_ARGS[@]}" -q )
fi
BYTES="$(stat -L -c %s "$FILE")"

# ---- build ------------------------------------------------------------------
if [[ -z "${BIN:-}" ]]; then
  echo "== cargo build --profile dist"
  ( cd "$REPO" && cargo build --profile dist --locked )
  BIN="$REPO/target/dist/tcpaudit"
fi
REV="$(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo unknown)"

echo "== warming the page cache"
cat "$FILE" >/dev/null
PACKETS="$("$FLOOR" "$FILE" | cut -d' ' -f1)"

# ---- commands -----------------------------------------------------------------
NAMES=(libpcap-loop tcpdump tcpaudit-table tcpaudit-json)
CMDS=(
  "$FLOOR $FILE"
  "tcpdump -r $FILE -w /dev/null"
  "$BIN analyze $FILE"
  "$BIN analyze -f json $FILE"
)
for n in $THREADS; do
  NAMES+=("tcpaudit-table-threads-$n" "tcpaudit-json-threads-$n")
  CMDS+=("$BIN analyze --threads $n $FILE" "$BIN analyze -f json --threads $n $FILE")
done
if [[ -n "${BASE_BIN:-}" ]]; then
  NAMES+=(base-table base-json)
  CMDS+=("$BASE_BIN analyze $FILE" "$BASE_BIN analyze -f json $FILE")
fi
for extra in "$@"; do
  NAMES+=("tcpaudit-${extra%%=*}")
  CMDS+=("$BIN analyze ${extra#*=} $FILE")
done

RES="$DIR/results-$PROFILE"
rm -rf "$RES"
mkdir -p "$RES"

echo "== $RUNS interleaved rounds of ${#NAMES[@]} commands"
for ((r = 0; r < RUNS; r++)); do
  for i in "${!NAMES[@]}"; do
    # wall, user, sys seconds and peak RSS KiB, one line per run
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %U %S %M' -o "$RES/t" ${CMDS[$i]} >/dev/null 2>"$RES/err" ||
      { echo "bench.sh: '${CMDS[$i]}' failed:" >&2; cat "$RES/err" >&2; exit 1; }
    cat "$RES/t" >>"$RES/${NAMES[$i]}.runs"
  done
  echo "   round $((r + 1)) done, load $(cut -d' ' -f1 /proc/loadavg)"
done

# ---- report -----------------------------------------------------------------
echo
echo "== $PROFILE: $FILE, $PACKETS packets, $BYTES bytes; tcpaudit $REV; $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$RES" "$PACKETS" "$RUNS" "${NAMES[@]}" <<'EOF' | tee "$RES/summary.md"
import statistics, sys
res, packets, runs, names = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
rows = {}
for n in names:
    runs_ = [list(map(float, l.split())) for l in open(f"{res}/{n}.runs") if l.strip()]
    wall = [r[0] for r in runs_]
    rows[n] = (statistics.median(wall), min(wall), max(wall),
               statistics.median(r[1] + r[2] for r in runs_), max(r[3] for r in runs_))
floor, dump = rows["libpcap-loop"][0], rows["tcpdump"][0]
print(f"| command | wall s, median of {runs} (min-max) | CPU s | Mpps | peak RSS MiB | x libpcap loop | x tcpdump |")
print("|---|---|---:|---:|---:|---:|---:|")
for n, (med, lo, hi, cpu, rss) in rows.items():
    print(f"| {n} | {med:.3f} ({lo:.3f}-{hi:.3f}) | {cpu:.2f} | {packets / med / 1e6:.2f} "
          f"| {rss / 1024:.0f} | {med / floor:.2f} | {med / dump:.2f} |")
if "tcpaudit-json" in rows:
    print(f"\njson / table: {rows['tcpaudit-json'][0] / rows['tcpaudit-table'][0]:.2f}")
for n in names:
    if n.startswith("tcpaudit-table-threads-"):
        t = n.removeprefix("tcpaudit-table-threads-")
        j = rows.get(f"tcpaudit-json-threads-{t}")
        line = f"--threads {t}: table {rows[n][0] / rows['tcpaudit-table'][0]:.2f}x the default"
        if j:
            line += f", json / table {j[0] / rows[n][0]:.2f}"
        print(line)
if "base-table" in rows:
    for n in ("table", "json"):
        print(f"{n}: this build {rows['tcpaudit-' + n][0] / rows['base-' + n][0]:.2f}x the base "
              f"(CPU {rows['tcpaudit-' + n][3] / rows['base-' + n][3]:.2f}x)", end="")
        t1 = rows.get(f"tcpaudit-{n}-threads-1")
        print(f", --threads 1 {t1[0] / rows['base-' + n][0]:.2f}x" if t1 else "")
EOF
echo "per-run lines (wall user sys maxrss-KiB): $RES/*.runs"
