#!/bin/sh
# `make demo`: starts a mosquitto broker of its own on a free loopback port, runs the agent on
# the bundled sample WMS feed (tests/data/sample) until every event is acknowledged, and shows
# what a central subscriber received (decoded with the .proto files by the reference consumer),
# the journal and the quarantine. Everything it starts, it stops.
# usage: demo.sh WHAGENT
set -eu
WH=$1
TOP=$(cd "$(dirname "$0")/.." && pwd)
DEMO=$TOP/build/demo
BROKER_PID=""
CONSUMER_PID=""
trap 'for p in $CONSUMER_PID $BROKER_PID; do kill "$p" 2>/dev/null || true; done' EXIT
rm -rf "$DEMO"
mkdir -p "$DEMO/spool" "$DEMO/state"
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'user root\npersistence false\nlog_dest none\nlistener %s 127.0.0.1\nallow_anonymous true\n' \
    "$PORT" > "$DEMO/mosquitto.conf"
mosquitto -c "$DEMO/mosquitto.conf" &
BROKER_PID=$!
sed "s|@DEMO@|$DEMO|g; s|@PORT@|$PORT|g" "$TOP/tests/data/demo.conf.in" > "$DEMO/whagent.conf"
cp "$TOP"/tests/data/sample/* "$DEMO/spool/"
sleep 0.5

echo "== central subscriber (packaging/consumer/whagent_consumer.py) on 127.0.0.1:$PORT"
/usr/bin/python3 "$TOP/packaging/consumer/whagent_consumer.py" --port "$PORT" --site DEMO-DC1 \
    --ready "$DEMO/consumer.ready" --events "$DEMO/received.jsonl" --expect-last 10 --timeout 30 \
    > "$DEMO/consumer.json" &
CONSUMER_PID=$!
i=0
while [ ! -f "$DEMO/consumer.ready" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done

echo "== whagent run: taking the sample WMS files from $DEMO/spool, publishing to the broker"
"$WH" run -c "$DEMO/whagent.conf" --until-idle
wait "$CONSUMER_PID" || true
CONSUMER_PID=""
echo
echo "== what the central subscriber received and decoded (one line per event)"
/usr/bin/python3 - "$DEMO/received.jsonl" "$DEMO/consumer.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    body = e.get("inventory") or e.get("shipment")
    h, item, q = body["header"], body["item"], body.get("quantity", {})
    where = body.get("location", {}).get("bin", "")
    ref = body.get("shipmentRef") or body.get("orderRef") or body.get("poRef") or ""
    print("seq %-3s %-22s txn %-7s %-9s %8.3f %-3s %-8s %s" % (h["seq"], h["kind"], h["sourceKey"],
          item["sku"], int(q.get("milli", 0)) / 1000, q.get("uom", ""), where, ref))
s = json.load(open(sys.argv[2]))
for jid, j in s["journals"].items():
    print("journal %s: %d events, %d duplicates dropped, gaps %s" % (jid, j["unique"], j["duplicates"], j["gaps"]))
print("status messages:", ", ".join("%s (session %d)" % (x["state"], x["session"]) for x in s["statuses"]))
PY
echo
echo "== whagent status"
"$WH" status -c "$DEMO/whagent.conf"
echo
echo "== on-hand balances the journal keeps (the ledger; snapshots carry them to the platform)"
sqlite3 -readonly -column -header "$DEMO/state/journal.db" \
    "SELECT sku, location, lot, uom, printf('%.3f', on_hand / 1000.0) AS on_hand FROM ledger
     WHERE on_hand != 0 ORDER BY sku, location, lot, uom"
echo
echo "== whagent quarantine list (records a person must look at; the rest went on)"
"$WH" quarantine list -c "$DEMO/whagent.conf"
echo
echo "Try: $WH quarantine show 1 -c $DEMO/whagent.conf"
