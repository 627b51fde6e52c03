#!/bin/sh
# Mutual TLS with certificates made for the run (openssl): a broker that requires client
# certificates accepts the configured client (all events arrive) and refuses a client with a
# certificate from another CA or with none; a broker certificate from an unknown CA is refused
# by the agent. In every refusal the agent says why, retries with backoff, and goes on
# capturing. Plain TCP to a broker on another machine is refused by `check` unless
# allow_insecure is set.
# usage: tls_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"

pki=$WORK/pki
mkdir -p "$pki"
cert() { # cert NAME CN ISSUER [SAN]
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
        -keyout "$pki/$1.key" -out "$pki/$1.csr" -subj "/CN=$2" 2>/dev/null
    printf 'basicConstraints=CA:FALSE\n%s\n' "${4:+subjectAltName=$4}" > "$pki/$1.ext"
    openssl x509 -req -in "$pki/$1.csr" -CA "$pki/$3.crt" -CAkey "$pki/$3.key" -CAcreateserial \
        -days 2 -extfile "$pki/$1.ext" -out "$pki/$1.crt" 2>/dev/null
}
for ca in ca rogue-ca; do
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -keyout "$pki/$ca.key" -out "$pki/$ca.crt" -subj "/CN=whagent test $ca" 2>/dev/null
done
cert server localhost ca "DNS:localhost,IP:127.0.0.1"
cert client IT-SITE ca
cert rogue IT-SITE rogue-ca
cert consumer consumer ca

start_broker "cafile $pki/ca.crt
certfile $pki/server.crt
keyfile $pki/server.key
require_certificate true
tls_version tlsv1.2"

# plain TCP to another machine: refused by check, unless allowed
write_conf
printf '[mqtt]\nhost = 192.0.2.10\nport = 1883\n' >> "$WORK/whagent.conf"
if $WH check -c "$WORK/whagent.conf" 2> "$WORK/check.err" >/dev/null; then fail "plain TCP accepted"; fi
grep -q "plain TCP to a broker on another machine is refused" "$WORK/check.err" || fail "check: $(cat "$WORK/check.err")"
echo "allow_insecure = true" >> "$WORK/whagent.conf"
$WH check -c "$WORK/whagent.conf" >/dev/null || fail "allow_insecure not honoured"

# run_with CERT KEY CAFILE: agent configured with that client identity and trust anchor
run_with() {
    write_conf
    mqtt_conf "cafile = $3
${1:+certfile = $1}
${2:+keyfile = $2}"
    : > "$WORK/agent.log"
    start_agent $WH
}

mkdir -p "$WORK/gen"
python3 "$HERE/gen_wms.py" "$WORK/gen" --csv 600 --expect "$WORK/expect.json"
n=$(python3 -c "import json; print(len(json.load(open('$WORK/expect.json'))['keys']))")

# refused: client certificate from another CA; then none at all; then an unknown server CA
for case in rogue none server-ca; do
    case $case in
    rogue) run_with "$pki/rogue.crt" "$pki/rogue.key" "$pki/ca.crt" ;;
    none) run_with "" "" "$pki/ca.crt" ;;
    server-ca) run_with "$pki/client.crt" "$pki/client.key" "$pki/rogue-ca.crt" ;;
    esac
    wait_for 20 status_not mqtt_last_error "" || fail "$case: no error reported"
    sleep 2
    grep -q "connected to" "$WORK/agent.log" && fail "$case: the agent got connected"
    attempts=$(grep -c "reconnecting in" "$WORK/agent.log")
    [ "$attempts" -ge 2 ] && [ "$attempts" -lt 30 ] || fail "$case: $attempts attempts in 2 s"
    echo "$case: $(status_field mqtt_last_error)"
    stop_agent
done
case "$(status_field mqtt_last_error)" in
*certificate*) ;;
*) fail "an unknown server CA is not reported as a certificate problem" ;;
esac

# capture goes on while TLS fails
run_with "$pki/rogue.crt" "$pki/rogue.key" "$pki/ca.crt"
cp "$WORK/gen/wms-orders.csv" "$WORK/spool/"
wait_for 30 test -f "$WORK/spool/done/wms-orders.csv" || fail "capture stopped while TLS failed"
[ "$(status_field backlog)" = "$n" ] || fail "backlog $(status_field backlog), expected $n"
stop_agent

# accepted: the right client certificate; everything captured meanwhile arrives
start_consumer c1 --cafile "$pki/ca.crt" --cert "$pki/consumer.crt" --key "$pki/consumer.key" \
    --expect-last "$n" --timeout 60
sed -i "s|^certfile = .*|certfile = $pki/client.crt|; s|^keyfile = .*|keyfile = $pki/client.key|" "$WORK/whagent.conf"
start_agent $WH
wait_consumer
[ "$(summary c1 "j['unique']")" = "$n" ] || fail "over mutual TLS: $(cat "$WORK/c1.json")"
wait_for 10 status_is backlog 0 || fail "backlog not drained"
stop_agent
echo "PASS: mutual TLS accepted with the right certificate, refused (and reported) otherwise"
