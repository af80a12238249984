#!/usr/bin/env bash
# Writes what a tcpaudit binary reports on every capture in fixtures/ and ../shared/pcaps: the
# JSON lines (`analyze -f json`), the table, and stderr with the exit status, one file each, so
# that two builds can be compared with `diff -r` (a behaviour-preserving change must show no
# difference in the .json and .err files).
#
# Usage: benches/corpus-outputs.sh BIN OUTDIR
#        benches/corpus-outputs.sh --counts OUTDIR   (anomaly events per id, shared/pcaps only)
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ "${1:-}" == --counts ]]; then
    python3 - "$2" <<'PY'
import collections, glob, json, os, sys
events = collections.Counter()
for f in glob.glob(os.path.join(sys.argv[1], "shared_*.json")):
    last = None
    for line in open(f, errors="replace"):
        if line.startswith('{"type":"summary"'):
            last = line
    if last:
        for k, n in json.loads(last).get("anomalies", {}).items():
            events[k] += n
for k in sorted(events):
    print(f"{k}\t{events[k]}")
PY
    exit 0
fi
BIN=$1
OUT=$2
mkdir -p "$OUT"
find fixtures ../shared/pcaps -type f \( -name '*.pcap' -o -name '*.pcapng' -o -name '*.pcap.gz' \
    -o -name '*.cap' \) | sort | while IFS= read -r f; do
    k=$(echo "${f#../}" | tr '/ ' '__')
    timeout 60 "$BIN" analyze -f json "$f" >"$OUT/$k.json" 2>"$OUT/$k.err" && rc=0 || rc=$?
    echo "rc=$rc" >>"$OUT/$k.err"
    COLUMNS=200 timeout 60 "$BIN" analyze "$f" >"$OUT/$k.txt" 2>/dev/null || true
done
