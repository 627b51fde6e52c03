#!/bin/sh
# Two builds side by side in one run (reported, not asserted): each benchmark of `make bench`
# that measures the journal and the uplink, RUNS times, alternating the builds so that both
# see the same machine; every figure keeps its raw baseline of the same run.
# usage: compare.sh OLD_BUILD_DIR NEW_BUILD_DIR [RUNS] (EVENTS and ROWS as for the benchmarks)
set -eu
OLD=$1
NEW=$2
RUNS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
i=1
while [ "$i" -le "$RUNS" ]; do
    for b in "$OLD" "$NEW"; do
        echo "=== run $i: $b: bench_spool.sh"
        sh "$HERE/bench_spool.sh" "$b"
        echo "=== run $i: $b: bench_uplink.sh"
        sh "$HERE/bench_uplink.sh" "$b"
    done
    i=$((i + 1))
done
for b in "$OLD" "$NEW"; do
    echo "=== $b: bench_instr.sh"
    sh "$HERE/bench_instr.sh" "$b"
done
