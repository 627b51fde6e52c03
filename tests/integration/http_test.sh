#!/bin/sh
# HTTP input with the real daemon and curl: one object, an array, JSON Lines, duplicates and
# invalid records (quarantined with reasons, answered per record in order), a body that is not
# JSON (400, raw body quarantined), oversized (413), wrong content type (415), missing or bad
# HMAC (401, nothing journaled), a full journal (503 + Retry-After, nothing journaled), HTTPS;
# /metrics parsed by prometheus_client and in agreement with `whagent status --json`; the
# textfile; and kill -9 between requests with no acknowledged record lost.
# usage: http_test.sh WHAGENT [ARGS...]
. "$(dirname "$0")/lib.sh"
WH="$*"
PORT=$(free_port)
URL=http://127.0.0.1:$PORT

http_conf() { # http_conf [extra [input.http] lines]
    write_conf
    sed -i 's/^\[input.spool\]$/[metrics]\ntextfile = '"$(echo "$WORK" | sed 's/\//\\\//g')"'\/metrics.prom\ntextfile_interval_s = 1\n[input.spool]/' "$WORK/whagent.conf"
    cat >> "$WORK/whagent.conf" <<CONF
[input.http]
listen = 127.0.0.1:$PORT
max_body_bytes = 4KiB
max_records_per_request = 50
${1:-}
CONF
}
rec() { # rec TXN [qty]
    printf '{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":%s,"uom":"EA","bin":"A-1"}' "$1" "${2:-1}"
}
post() { # post CONTENT-TYPE BODY [curl args]: prints "STATUS BODY"
    ct=$1; body=$2; shift 2
    curl -s -o "$WORK/resp" -w '%{http_code}' -H "Content-Type: $ct" --data-binary "$body" "$@" "$URL/v1/events"
    printf ' '; cat "$WORK/resp"
}
expect() { # expect "STATUS BODY" STATUS BODY
    [ "$1" = "$2 $3" ] || fail "expected '$2 $3', got '$1'"
}

http_conf
start_agent $WH
expect "$(post application/json "$(rec T1)")" 200 '{"results":[{"seq":1}],"taken":1,"duplicates":0,"quarantined":0}'
expect "$(post application/json "[$(rec T1),$(rec T2 '"x"'),$(rec T3)]")" 200 \
    '{"results":[{"duplicate_of":1},{"quarantined":1,"reason":"column qty: '"'"'x'"'"' is not a decimal number (digits, optional '"'"'.'"'"' and up to 3 decimals, no thousands separators)"},{"seq":2}],"taken":1,"duplicates":1,"quarantined":1}'
expect "$(post 'application/x-ndjson; charset=utf-8' "$(rec T4)
{\"kind\": \"pick\",
$(rec T5)
")" 200 '{"results":[{"seq":3},{"quarantined":2,"reason":"not valid JSON (at character 16)"},{"seq":4}],"taken":2,"duplicates":0,"quarantined":1}'
r=$(post application/json 'kind=pick&txn=T9')
[ "${r%% *}" = 400 ] || fail "non-JSON body: $r"
$WH quarantine show 3 -c "$WORK/whagent.conf" | grep -qx 'kind=pick&txn=T9' || fail "the non-JSON body was not quarantined raw"
big=$(python3 -c "print('[' + ','.join(['$(rec T6)'] * 60) + ']')")
r=$(post application/json "$big"); [ "${r%% *}" = 413 ] || fail "oversized body: ${r%% *}"
r=$(post text/csv "kind,txn_id"); [ "${r%% *}" = 415 ] || fail "wrong content type: ${r%% *}"
many=$(python3 -c "print('\n'.join('{\"txn_id\":\"M%d\"}' % i for i in range(51)))")
r=$(post application/x-ndjson "$many"); [ "${r%% *}" = 413 ] || fail "too many records: ${r%% *}"
r=$(curl -s -o /dev/null -w '%{http_code}' "$URL/nowhere"); [ "$r" = 404 ] || fail "404: $r"
[ "$(status_field last_seq)" = 4 ] || fail "last_seq $(status_field last_seq) after the protocol cases"

# /metrics: parsed by prometheus_client, figures agree with status --json
curl -s "$URL/metrics" > "$WORK/metrics.txt"
$WH status -c "$WORK/whagent.conf" --json > "$WORK/status.json"
$PY - "$WORK/metrics.txt" "$WORK/status.json" <<'PY' || fail "metrics do not agree with status"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
fams = {f.name: f for f in text_string_to_metric_families(open(sys.argv[1]).read())}
st = json.load(open(sys.argv[2]))
def val(name, **labels):
    for s in fams[name].samples:
        if all(s.labels.get(k) == v for k, v in labels.items()) and s.name in (name, name + "_total"):
            return s.value
    raise KeyError(name)
checks = {
    "whagent_last_seq": st["last_seq"], "whagent_backlog_events": st["backlog"],
    "whagent_acked_through_seq": st["acked_through"], "whagent_quarantine_records": st["quarantined"],
    "whagent_journal_bytes": st["journal_bytes"], "whagent_journal_max_bytes": st["journal_max_bytes"],
}
bad = [(k, val(k), v) for k, v in checks.items() if val(k) != v]
if val("whagent_events_captured", input="http", kind="pick") != 4: bad.append(("captured pick", val("whagent_events_captured", input="http", kind="pick"), 4))
if val("whagent_duplicates", input="http") != st["duplicates"]: bad.append(("duplicates", val("whagent_duplicates", input="http"), st["duplicates"]))
q = val("whagent_quarantined", input="http", reason="unparsable") + val("whagent_quarantined", input="http", reason="invalid")
if q != st["quarantined"]: bad.append(("quarantined", q, st["quarantined"]))
if fams["whagent_journal_commit_seconds"].type != "histogram": bad.append(("histogram", "", ""))
codes = {s.labels["code"]: s.value for s in fams["whagent_http_requests"].samples if s.name.endswith("_total")}
for code in ("200", "400", "404", "413", "415"):
    if code not in codes: bad.append(("http code", code, "missing"))
print(len(fams), "metric families parsed;", "mismatches:" if bad else "agree with status", bad or "")
sys.exit(1 if bad else 0)
PY
wait_for 10 grep -q "^whagent_last_seq 4$" "$WORK/metrics.prom" || fail "textfile not written"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 200 ] || fail "healthz"
stop_agent

# HMAC: unsigned and wrongly signed POSTs are refused and take nothing
printf 'top-secret\n' > "$WORK/secret"
http_conf "hmac_secret_file = $WORK/secret"
start_agent $WH
body=$(rec H1)
sig=$(printf '%s' "$body" | openssl dgst -sha256 -hmac top-secret | sed 's/.*= //')
r=$(post application/json "$body"); [ "${r%% *}" = 401 ] || fail "unsigned: $r"
r=$(post application/json "$body" -H "X-Whagent-Signature: sha256=$(echo "$sig" | tr 0-9a-f 1-9a-f0)")
[ "${r%% *}" = 401 ] || fail "wrong signature: $r"
[ "$(status_field last_seq)" = 4 ] || fail "a refused POST was journaled"
r=$(post application/json "$body" -H "X-Whagent-Signature: sha256=$sig")
[ "$r" = '200 {"results":[{"seq":5}],"taken":1,"duplicates":0,"quarantined":0}' ] || fail "signed: $r"
stop_agent

# Full journal: 503 with Retry-After, nothing taken; after a reload with room, taken.
http_conf
sed -i 's/^reserve_bytes = 0$/reserve_bytes = 1000TB/' "$WORK/whagent.conf"
start_agent $WH
curl -s -i -H 'Content-Type: application/json' --data-binary "$(rec F1)" "$URL/v1/events" > "$WORK/full"
grep -q "^HTTP/1.1 503" "$WORK/full" && grep -qi "^Retry-After: [0-9]" "$WORK/full" || fail "full journal: $(head -5 "$WORK/full")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/healthz")" = 503 ] || fail "healthz with a full journal"
[ "$(status_field last_seq)" = 5 ] || fail "a POST was journaled into a full journal"
sed -i 's/^reserve_bytes = 1000TB$/reserve_bytes = 0/' "$WORK/whagent.conf"
kill -HUP "$AGENT_PID"
wait_for 10 grep -q "configuration reloaded" "$WORK/agent.log" || fail "reload"
r=$(post application/json "$(rec F1)"); [ "${r%% *}" = 200 ] || fail "after the reload: $r"
stop_agent

# HTTPS listener
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -keyout "$WORK/tls.key" -out "$WORK/tls.crt" -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
http_conf "tls_certfile = $WORK/tls.crt
tls_keyfile = $WORK/tls.key"
start_agent $WH
r=$(curl -s --cacert "$WORK/tls.crt" -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
    --data-binary "$(rec S1)" "https://127.0.0.1:$PORT/v1/events")
[ "$r" = 200 ] || fail "HTTPS POST: $r"
stop_agent

# kill -9 between requests: every record the client saw acknowledged is journaled once.
http_conf
start_agent $WH
$PY - "$URL" "$WORK/acked.txt" > "$WORK/client.log" 2>&1 <<'PY' &
import json, sys, time, urllib.request
url, out = sys.argv[1], sys.argv[2]
acked = open(out, "w")
for i in range(1000):
    body = "\n".join(json.dumps({"kind": "receipt", "txn_id": "K%d-%d" % (i, k), "sku": "S",
                                 "event_time": "2026-03-01T10:00:00Z", "qty": 1, "uom": "EA",
                                 "bin": "R"}) for k in range(10)).encode()
    for attempt in range(200):  # retried until acknowledged: the sender's side of at-least-once
        try:
            req = urllib.request.Request(url + "/v1/events", body, {"Content-Type": "application/x-ndjson"})
            res = json.load(urllib.request.urlopen(req, timeout=5))
            for k in range(10):
                acked.write("K%d-%d\n" % (i, k))
            acked.flush()
            break
        except Exception:
            time.sleep(0.05)
PY
CLIENT=$!
wait_for 30 sh -c "[ \$(wc -l < $WORK/acked.txt) -ge 500 ]" || fail "client made no progress"
kill -9 "$AGENT_PID"; wait "$AGENT_PID" 2>/dev/null || true; AGENT_PID=""
acked_at_kill=$(wc -l < "$WORK/acked.txt")
sleep 0.3
start_agent $WH
wait "$CLIENT" || fail "client: $(tail -3 "$WORK/client.log")"
stop_agent
[ "$acked_at_kill" -gt 0 ] && [ "$acked_at_kill" -lt 10000 ] || fail "the kill did not land mid-stream ($acked_at_kill acknowledged)"
sql "SELECT source_key FROM event WHERE source_key LIKE 'K%'" | sort > "$WORK/journaled.txt"
sort "$WORK/acked.txt" > "$WORK/acked.sorted"
[ "$(wc -l < "$WORK/acked.sorted")" = 10000 ] || fail "client acknowledged $(wc -l < "$WORK/acked.sorted") of 10000"
comm -23 "$WORK/acked.sorted" "$WORK/journaled.txt" > "$WORK/lost.txt"
[ ! -s "$WORK/lost.txt" ] || fail "$(wc -l < "$WORK/lost.txt") acknowledged records lost"
[ "$(uniq -d "$WORK/journaled.txt" | wc -l)" = 0 ] || fail "records journaled twice"
[ "$(sql "SELECT count(*) = max(seq) - min(seq) + 1 FROM event")" = 1 ] || fail "seq not gapless"
echo "PASS: HTTP protocol cases, HMAC, full journal, HTTPS, metrics; kill -9 after $acked_at_kill acknowledged records lost none"
