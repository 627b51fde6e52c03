#!/bin/sh
# Device identity: `whagent enroll` makes a 0600 key and a CSR that `openssl req -verify`
# accepts, with the site id as CN and the configured O/OU/DNS names, and refuses to overwrite
# the key; a certificate a test CA signs for it passes `whagent check`, and lets the agent into
# a mutual-TLS broker with signed batches that the consumer verifies with that certificate; the
# certificate is rotated while events flow (SIGHUP) with zero loss; an expired or mismatched
# certificate is reported by check; a tampered signed batch is rejected, the intact one taken.
# usage: identity_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
pki=$WORK/pki
mkdir -p "$pki" "$WORK/id"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$pki/ca.key" -out "$pki/ca.crt" -subj "/CN=test CA" 2>/dev/null
# sign CSR OUT DAYS_FROM DAYS_TO: a certificate for the CSR's key, valid in that window
sign() {
    $PY - "$1" "$2" "$3" "$4" "$pki/ca.crt" "$pki/ca.key" <<'PY'
import datetime, random, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
csr = x509.load_pem_x509_csr(open(sys.argv[1], "rb").read())
ca = x509.load_pem_x509_certificate(open(sys.argv[5], "rb").read())
key = serialization.load_pem_private_key(open(sys.argv[6], "rb").read(), None)
now = datetime.datetime.utcnow()
b = (x509.CertificateBuilder().subject_name(csr.subject).issuer_name(ca.subject)
     .public_key(csr.public_key()).serial_number(random.getrandbits(64))
     .not_valid_before(now + datetime.timedelta(days=int(sys.argv[3])))
     .not_valid_after(now + datetime.timedelta(days=int(sys.argv[4]))))
for ext in csr.extensions:
    b = b.add_extension(ext.value, ext.critical)
open(sys.argv[2], "wb").write(b.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
PY
}
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/server.key" \
    -out "$pki/server.csr" -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
sign "$pki/server.csr" "$pki/server.crt" -1 2
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/consumer.key" \
    -out "$pki/consumer.csr" -subj /CN=consumer 2>/dev/null
sign "$pki/consumer.csr" "$pki/consumer.crt" -1 2

start_broker "cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
require_certificate true"
write_conf
mqtt_conf "cafile = $pki/ca.crt
certfile = $WORK/id/client.crt
keyfile = $WORK/id/client.key
sign_batches = true
[identity]
organization = Acme Logistics
unit = DC East
dns_names = gw.example.com, gw.local"

# enroll
$WH enroll -c "$WORK/whagent.conf" > "$WORK/enroll.out" || fail "enroll: $(cat "$WORK/enroll.out")"
[ "$(stat -c %a "$WORK/id/client.key")" = 600 ] || fail "key mode $(stat -c %a "$WORK/id/client.key")"
openssl req -in "$WORK/id/client.csr" -verify -noout 2>&1 | grep -q "verify OK" || fail "CSR does not verify"
openssl req -in "$WORK/id/client.csr" -noout -subject | grep -q "CN = IT-SITE, O = Acme Logistics, OU = DC East" ||
    fail "CSR subject: $(openssl req -in "$WORK/id/client.csr" -noout -subject)"
openssl req -in "$WORK/id/client.csr" -noout -text | grep -q "DNS:gw.example.com, DNS:gw.local" || fail "CSR SANs"
fp=$(sed -n 's/^sha256  //p' "$WORK/enroll.out")
[ "$fp" = "$(openssl req -in "$WORK/id/client.csr" -outform DER | sha256sum | cut -d' ' -f1)" ] || fail "fingerprint $fp"
sum=$(sha256sum < "$WORK/id/client.key")
if $WH enroll -c "$WORK/whagent.conf" 2> "$WORK/enroll.err" >/dev/null; then fail "enroll overwrote the key"; fi
grep -q "use --force" "$WORK/enroll.err" && [ "$(sha256sum < "$WORK/id/client.key")" = "$sum" ] || fail "key changed"

# check: a good certificate, an expired one, one for another key
sign "$WORK/id/client.csr" "$WORK/id/client.crt" -1 30
$WH check -c "$WORK/whagent.conf" > "$WORK/check.out" || fail "check refuses the signed certificate"
grep -q "client certificate CN=IT-SITE.*2[89] days left\|client certificate CN=IT-SITE.*30 days left" "$WORK/check.out" ||
    fail "check: $(tail -2 "$WORK/check.out")"
cp "$WORK/id/client.crt" "$WORK/good.crt"
sign "$WORK/id/client.csr" "$WORK/id/client.crt" -10 -1
if $WH check -c "$WORK/whagent.conf" > /dev/null 2> "$WORK/check.err"; then fail "an expired certificate passed check"; fi
grep -q "expired on" "$WORK/check.err" || fail "expired: $(cat "$WORK/check.err")"
sign "$pki/consumer.csr" "$WORK/id/client.crt" -1 30
if $WH check -c "$WORK/whagent.conf" > /dev/null 2> "$WORK/check.err"; then fail "a mismatched certificate passed check"; fi
grep -q "does not match the key" "$WORK/check.err" || fail "mismatch: $(cat "$WORK/check.err")"
cp "$WORK/good.crt" "$WORK/id/client.crt"

# mutual TLS, signed batches, rotation under load
mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 20000 --bad-every 0 --dup-every 0 --expect "$WORK/expect.json"
n=$(python3 -c "import json; print(len(json.load(open('$WORK/expect.json'))['keys']))")
sed -i 's/^batch_max_events = .*//' "$WORK/whagent.conf"
printf 'window = 2\nbatch_max_events = 20\n' > "$WORK/extra"
sed -i "/^sign_batches = true$/r $WORK/extra" "$WORK/whagent.conf"
start_consumer c1 --cafile "$pki/ca.crt" --cert "$pki/consumer.crt" --key "$pki/consumer.key" \
    --verify-cert "$WORK/good.crt" --dump-first "$WORK/first.batch" --expect-last "$n" --timeout 120
start_agent $WH
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
wait_for 30 status_not acked_through 0 || fail "nothing delivered over mutual TLS"
sign "$WORK/id/client.csr" "$WORK/id/client.crt.new" -1 60
mv "$WORK/id/client.crt.new" "$WORK/id/client.crt"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "client certificate or key changed: reconnecting" "$WORK/agent.log" || fail "rotation not noticed"
[ "$(status_field acked_through)" -lt "$n" ] || fail "rotation happened after the drain, not under load"
wait_consumer
[ "$(summary c1 "(j['unique'], j['gaps'], s['signatures']['rejected'])")" = "($n, [], 0)" ] ||
    fail "after rotation: $(summary c1 "(j['unique'], j['gaps'], s['signatures'])")"
[ "$(grep -c "connected to" "$WORK/agent.log")" -ge 2 ] || fail "no reconnect with the new certificate"
echo "signed batches verified: $(summary c1 "s['signatures']['verified']")"
stop_agent

# a tampered batch is rejected, the intact one taken
start_consumer c2 --cafile "$pki/ca.crt" --cert "$pki/consumer.crt" --key "$pki/consumer.key" \
    --verify-cert "$WORK/good.crt" --timeout 4
$PY - "$WORK/first.batch" "$BROKER_PORT" "$pki" <<'PY' || fail "publishing the tampered batch"
import sys, time
import paho.mqtt.client as mqtt
raw = open(sys.argv[1], "rb").read()
bad = bytearray(raw)
bad[len(bad) // 3] ^= 0x01  # one bit inside an event
c = mqtt.Client(client_id="tamper", protocol=mqtt.MQTTv5)
c.tls_set(ca_certs=sys.argv[3] + "/ca.crt", certfile=sys.argv[3] + "/consumer.crt", keyfile=sys.argv[3] + "/consumer.key")
c.connect("127.0.0.1", int(sys.argv[2]))
c.loop_start()
for payload in (bytes(bad), raw):
    c.publish("whagent/v1/IT-SITE/events", payload, qos=1).wait_for_publish(5)
time.sleep(0.5)
c.loop_stop()
PY
wait_consumer
[ "$(summary c2 "(s['signatures']['verified'], s['signatures']['rejected'])")" = "(1, 1)" ] ||
    fail "tampered/intact: $(summary c2 "s['signatures']")"
echo "PASS: enroll, check (good, expired, mismatched), mutual TLS with signed batches, rotation under load with zero loss, tampering detected"
