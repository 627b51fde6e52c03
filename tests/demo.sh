#!/bin/sh
# `make demo`: runs the agent on the bundled sample WMS feed (tests/data/sample) and shows
# what it journaled, what it quarantined and why.
# usage: demo.sh WHAGENT
set -eu
WH=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$TOP/build/demo
rm -rf "$DEMO"
mkdir -p "$DEMO/spool" "$DEMO/state"
sed "s|@DEMO@|$DEMO|g" "$TOP/tests/data/demo.conf.in" > "$DEMO/whagent.conf"
cp "$TOP"/tests/data/sample/* "$DEMO/spool/"

echo "== whagent run: taking the sample WMS files from $DEMO/spool"
"$WH" run -c "$DEMO/whagent.conf" --until-idle
echo
echo "== whagent status"
"$WH" status -c "$DEMO/whagent.conf"
echo
echo "== journaled events (sqlite3 $DEMO/state/journal.db)"
sqlite3 -header -column "$DEMO/state/journal.db" \
    "SELECT seq, CASE kind WHEN 1 THEN 'PICK' WHEN 2 THEN 'RECEIPT' WHEN 3 THEN 'ADJUSTMENT'
            WHEN 4 THEN 'TRANSFER' ELSE 'SHIPMENT' END AS kind, source_key AS txn_id,
            length(payload) AS protobuf_bytes FROM event ORDER BY seq"
echo
echo "== whagent quarantine list (records a person must look at; the rest went on)"
"$WH" quarantine list -c "$DEMO/whagent.conf"
echo
echo "Try: $WH quarantine show 1 -c $DEMO/whagent.conf"
