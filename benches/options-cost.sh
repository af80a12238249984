#!/usr/bin/env bash
# What an option costs: `tcpaudit analyze FILE` against `tcpaudit analyze FILE OPTIONS...`,
# run alternately (so both see the same load on a shared machine), with the medians of wall and
# CPU (user + sys) time and their ratios.
#
# Usage: benches/options-cost.sh FILE OPTIONS...      e.g. FILE --app   or   FILE --html /tmp/r.html
# Environment: RUNS (default 7), BIN (default <repo>/target/dist/tcpaudit).
# Needs /usr/bin/time (GNU time) and python3. Say the load (printed last) with any figure.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${BIN:-$REPO/target/dist/tcpaudit}"
RUNS="${RUNS:-7}"
FILE="$1"
shift
T=$(mktemp)
trap 'rm -f "$T"' EXIT
plain=() with=()
for _ in $(seq "$RUNS"); do
    /usr/bin/time -f '%e %U %S' -o "$T" "$BIN" analyze "$FILE" >/dev/null 2>&1
    plain+=("$(cat "$T")")
    /usr/bin/time -f '%e %U %S' -o "$T" "$BIN" analyze "$FILE" "$@" >/dev/null 2>&1
    with+=("$(cat "$T")")
done
python3 - "$*" "$(printf '%s;' "${plain[@]}")" "$(printf '%s;' "${with[@]}")" <<'PY'
import statistics, sys
def runs(s):
    return [list(map(float, r.split())) for r in s.split(";") if r.strip()]
def medians(rs):
    return statistics.median(r[0] for r in rs), statistics.median(r[1] + r[2] for r in rs)
plain, with_ = runs(sys.argv[2]), runs(sys.argv[3])
(pw, pc), (ww, wc) = medians(plain), medians(with_)
print(f"plain            wall {pw:.3f} s  cpu {pc:.3f} s")
print(f"{sys.argv[1]:<16} wall {ww:.3f} s  cpu {wc:.3f} s")
ratio = lambda a, b: f"{a / b:.2f}x" if b > 0 else "-"
print(f"ratio            wall {ratio(ww, pw)}  cpu {ratio(wc, pc)}  (of the medians)")
# Each run against the plain run just before it: the pairs share the load of their moment.
pairs = [(w[0] / p[0], (w[1] + w[2]) / (p[1] + p[2])) for p, w in zip(plain, with_)
         if p[0] > 0 and p[1] + p[2] > 0]
if pairs:
    print(f"per pair         wall {statistics.median(x for x, _ in pairs):.2f}x  "
          f"cpu {statistics.median(c for _, c in pairs):.2f}x  (medians of {len(pairs)} pairs)")
PY
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
