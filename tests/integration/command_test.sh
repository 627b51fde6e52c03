#!/bin/sh
# Commands from the platform (command_pubkey set): an unsigned, a wrongly signed, a stale, a
# replayed and an unknown command are refused with a reason; `status` is answered on the MQTT 5 response topic
# with the correlation data; `replay` fills a range the consumer missed (it was away), marked
# historical; `pause_capture` holds the spool back (and HTTP answers 503) until `resume_capture`.
# usage: command_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/central.key" 2>/dev/null
openssl ec -in "$WORK/central.key" -pubout -out "$WORK/central.pub" 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out "$WORK/other.key" 2>/dev/null
cmd() { # cmd ID ACTION [--unsigned|--key FILE|--age S] [--from N --to M]: prints "ok|message"
    $PY - "$TOP" "$BROKER_PORT" "$WORK/central.key" "$@" <<'PY'
import argparse, os, sys, time
sys.path.insert(0, os.path.join(sys.argv[1], "packaging/consumer"))
import whagent_consumer
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.packettypes import PacketTypes
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
ap = argparse.ArgumentParser()
ap.add_argument("top"); ap.add_argument("port", type=int); ap.add_argument("key")
ap.add_argument("id"); ap.add_argument("action")
ap.add_argument("--unsigned", action="store_true"); ap.add_argument("--other-key")
ap.add_argument("--age", type=int, default=0); ap.add_argument("--from", dest="frm", type=int, default=0)
ap.add_argument("--to", type=int, default=0)
a = ap.parse_args()
whagent_consumer.load_protos(os.path.join(a.top, "proto"))
pb = whagent_consumer.control_pb2()
c = pb.Command(id=a.id, issued_at_ms=int((time.time() - a.age) * 1000))
if a.action == "replay":
    c.replay.from_seq, c.replay.to_seq = a.frm, a.to
elif a.action == "none":  # no action at all: an unknown command
    pass
else:
    getattr(c, a.action).SetInParent()
raw = c.SerializeToString()
sc = pb.SignedCommand(command=raw)
if not a.unsigned:
    key = serialization.load_pem_private_key(open(a.other_key or a.key, "rb").read(), None)
    sc.signature = key.sign(raw, ec.ECDSA(hashes.SHA256()))
got = []
cl = mqtt.Client(client_id="platform-%d" % os.getpid(), protocol=mqtt.MQTTv5)
cl.on_message = lambda cl_, u, m: got.append(m)
cl.connect("127.0.0.1", a.port)
cl.subscribe("central/results", 1)
cl.loop_start()
time.sleep(0.3)
props = Properties(PacketTypes.PUBLISH)
props.ResponseTopic = "central/results"
props.CorrelationData = b"corr-" + a.id.encode()
cl.publish("whagent/v1/IT-SITE/cmd", sc.SerializeToString(), qos=1, properties=props)
for _ in range(50):
    if got:
        break
    time.sleep(0.1)
cl.loop_stop()
if not got:
    print("noanswer|")
    sys.exit(0)
r = pb.CommandResult()
r.ParseFromString(got[0].payload)
corr = getattr(got[0].properties, "CorrelationData", b"")
print("%s|%s|%s" % ("ok" if r.ok else "refused", r.message, "corr" if corr == b"corr-" + a.id.encode() else "nocorr"))
PY
}

start_broker
write_conf
HTTP_PORT=$(free_port)
mqtt_conf "command_pubkey = $WORK/central.pub
command_max_skew_s = 60
[input.http]
listen = 127.0.0.1:$HTTP_PORT"
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 1000 --bad-every 0 --dup-every 0 --prefix a --expect "$WORK/a.json"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 100 --bad-every 0 --dup-every 0 --prefix b --first-txn 50000 --expect "$WORK/b.json"
start_agent $WH
cp "$WORK/gen/a-orders.csv" "$WORK/spool/"
wait_for 30 status_is acked_through 1000 || fail "capture"   # no consumer yet: the broker drops them

r=$(cmd c1 status --unsigned); case "$r" in "refused|unsigned command refused|corr") ;; *) fail "unsigned: $r" ;; esac
r=$(cmd c2 status --other-key "$WORK/other.key"); case "$r" in "refused|signature does not verify|corr") ;; *) fail "wrong key: $r" ;; esac
r=$(cmd c3 status --age 3600); case "$r" in refused\|*stale*) ;; *) fail "stale: $r" ;; esac
r=$(cmd c4 status); [ "$r" = "ok||corr" ] || fail "status: $r"
r=$(cmd c4 status); case "$r" in refused\|*replayed*) ;; *) fail "replayed id: $r" ;; esac
r=$(cmd c5 none); [ "$r" = "refused|unknown command|corr" ] || fail "unknown command: $r"

start_consumer c1 --expect-first 1 --expect-last 1000 --timeout 60
r=$(cmd r1 replay --from 1 --to 5000); [ "$r" = "ok|replaying 1-1000|corr" ] || fail "replay: $r"
wait_consumer
[ "$(summary c1 "(j['unique'], j['gaps'], s['bad_batches'])")" = "(1000, [], [])" ] || fail "replayed range: $(cat "$WORK/c1.json")"
[ "$(summary c1 "(s['topics']['backfill']['replay_batches'] == s['topics']['backfill']['batches'] == s['topics']['backfill']['historical_batches'] > 0, s['topics']['events']['batches'])")" = "(True, 0)" ] ||
    fail "replay not on the backfill topic, marked replay and historical: $(summary c1 "s['topics']")"

r=$(cmd p1 pause_capture); case "$r" in ok\|capture\ paused*) ;; *) fail "pause: $r" ;; esac
cp "$WORK/gen/b-orders.csv" "$WORK/spool/"
sleep 2
[ -f "$WORK/spool/b-orders.csv" ] && [ "$(status_field last_seq)" = 1000 ] || fail "captured while paused"
r=$(curl -s -o "$WORK/paused.json" -w '%{http_code}' -H 'Content-Type: application/json' \
    --data '{"kind":"pick","txn_id":"P1","event_time":"2026-03-01T10:00:00Z","sku":"S","qty":1,"uom":"EA","bin":"A"}' \
    "http://127.0.0.1:$HTTP_PORT/v1/events")
[ "$r" = 503 ] && grep -q "capture paused" "$WORK/paused.json" || fail "POST while paused: $r $(cat "$WORK/paused.json")"
curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | grep -q '"status":"capture paused"' || fail "healthz while paused"
r=$(cmd p2 resume_capture); [ "$r" = "ok|capture resumed|corr" ] || fail "resume: $r"
wait_for 20 test -f "$WORK/spool/done/b-orders.csv" || fail "not taken after resume"
[ "$(status_field last_seq)" = 1100 ] || fail "last_seq after resume"
stop_agent
echo "PASS: commands verified (unsigned, wrong key, stale, replayed refused), status, replay of a missed range, pause and resume"
