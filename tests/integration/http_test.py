"""HTTP input with the real daemon and curl: one object, an array, JSON Lines, duplicates and
invalid records (quarantined with reasons, answered per record in order), a body that is not
JSON (400, raw body quarantined), oversized (413), wrong content type (415), missing or bad
HMAC (401, nothing journaled), a full journal (503 + Retry-After, nothing journaled), HTTPS;
/metrics parsed by prometheus_client and in agreement with `whagent status --json`; the
textfile; and kill -9 between requests with no acknowledged record lost.
usage: http_test.py WHAGENT [ARGS...]"""
import json
import os
import subprocess
import threading
import time
import urllib.request

import harness as h
from harness import eq, has, ok


def rec(txn, qty="1"):
    return ('{"kind":"pick","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"S1","qty":%s,'
            '"uom":"EA","bin":"A-1"}' % (txn, qty))


def curl(*args):
    """curl's (status, body) for a request (the WMS side of the tests uses a real client)."""
    r = subprocess.run(["curl", "-s", "-w", "\n%{http_code}"] + list(args), capture_output=True, text=True,
                       timeout=60 * h.SLOW)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def test(t):
    a = t.new_agent()
    port = [0]

    def conf(http_extra="", reserve="0"):
        def write(p):
            port[0] = p
            a.write_conf(reserve_bytes=reserve,
                         sections="[metrics]\ntextfile = %s\ntextfile_interval_s = 1\n[input.http]\n"
                                  "listen = 127.0.0.1:%d\nmax_body_bytes = 4KiB\nmax_records_per_request = 50\n%s\n"
                                  % (t.path("metrics.prom"), p, http_extra))
        return write

    def url(path="/v1/events", scheme="http"):
        return "%s://127.0.0.1:%d%s" % (scheme, port[0], path)

    def post(ct, body, *args):
        return curl("-H", "Content-Type: " + ct, "--data-binary", body, *args, url())

    h.listen_port(a, conf())
    eq(post("application/json", rec("T1")), (200, '{"results":[{"seq":1}],"taken":1,"duplicates":0,"quarantined":0}'),
       "one object")
    eq(post("application/json", "[%s,%s,%s]" % (rec("T1"), rec("T2", '"x"'), rec("T3"))),
       (200, '{"results":[{"duplicate_of":1},{"quarantined":1,"reason":"column qty: \'x\' is not a decimal number '
             '(digits, optional \'.\' and up to 3 decimals, no thousands separators)"},{"seq":2}],'
             '"taken":1,"duplicates":1,"quarantined":1}'), "an array")
    eq(post("application/x-ndjson; charset=utf-8", "%s\n{\"kind\": \"pick\",\n%s\n" % (rec("T4"), rec("T5"))),
       (200, '{"results":[{"seq":3},{"quarantined":2,"reason":"not valid JSON (at character 16)"},{"seq":4}],'
             '"taken":2,"duplicates":0,"quarantined":1}'), "JSON Lines")
    eq(post("application/json", "kind=pick&txn=T9")[0], 400, "non-JSON body")
    has(a.cli("quarantine", "show", "3").stdout, r"^kind=pick&txn=T9$", "the non-JSON body was not quarantined raw")
    eq(post("application/json", "[" + ",".join([rec("T6")] * 60) + "]")[0], 413, "oversized body")
    eq(post("text/csv", "kind,txn_id")[0], 415, "wrong content type")
    # JSON Lines under its other names is taken; a near miss is refused (the check once compared
    # hand-counted lengths: it refused application/jsonl and took application/jsonline)
    dup = '{"results":[{"duplicate_of":1}],"taken":0,"duplicates":1,"quarantined":0}'
    for ct in ("application/jsonl", "application/jsonlines", "application/x-jsonlines; charset=utf-8"):
        eq(post(ct, rec("T1") + "\n"), (200, dup), "JSON Lines as " + ct)
    for ct in ("application/jsonline", "application/jsonlx", "application/jsonlinesx", "application/js"):
        eq(post(ct, rec("T1"))[0], 415, "near-miss content type " + ct)
    many = "\n".join('{"txn_id":"M%d"}' % i for i in range(51))
    eq(post("application/x-ndjson", many)[0], 413, "too many records")
    eq(curl(url("/nowhere"))[0], 404, "unknown path")
    eq(a.field("last_seq"), 4, "last_seq after the protocol cases")

    # /metrics: parsed by prometheus_client, figures agree with status --json
    from prometheus_client.parser import text_string_to_metric_families
    fams = {f.name: f for f in text_string_to_metric_families(curl(url("/metrics"))[1])}
    st = a.status()

    def val(name, **labels):
        for s in fams[name].samples:
            if all(s.labels.get(k) == v for k, v in labels.items()) and s.name in (name, name + "_total"):
                return s.value
        raise h.Fail("no metric %s %s" % (name, labels))
    got = {k: val(k) for k in ("whagent_last_seq", "whagent_backlog_events", "whagent_acked_through_seq",
                               "whagent_quarantine_records", "whagent_journal_bytes", "whagent_journal_max_bytes")}
    eq(got, {"whagent_last_seq": st["last_seq"], "whagent_backlog_events": st["backlog"],
             "whagent_acked_through_seq": st["acked_through"], "whagent_quarantine_records": st["quarantined"],
             "whagent_journal_bytes": st["journal_bytes"], "whagent_journal_max_bytes": st["journal_max_bytes"]},
       "metrics against status")
    eq(val("whagent_events_captured", input="http", kind="pick"), 4, "captured picks")
    eq(val("whagent_duplicates", input="http"), st["duplicates"], "duplicates metric")
    eq(val("whagent_quarantined", input="http", reason="unparsable") +
       val("whagent_quarantined", input="http", reason="invalid"), st["quarantined"], "quarantined metric")
    eq(fams["whagent_journal_commit_seconds"].type, "histogram", "commit time metric type")
    codes = {s.labels["code"] for s in fams["whagent_http_requests"].samples if s.name.endswith("_total")}
    eq(sorted({"200", "400", "404", "413", "415"} - codes), [], "HTTP codes missing from the metrics")
    h.wait_for(lambda: os.path.exists(t.path("metrics.prom")) and
               "\nwhagent_last_seq 4\n" in "\n" + open(t.path("metrics.prom")).read(), 10, "textfile not written")
    eq(curl(url("/healthz"))[0], 200, "healthz")
    a.stop()

    # HMAC: unsigned and wrongly signed POSTs are refused and take nothing (webhook_test.py
    # has the timestamps and replays)
    t.write("secret", "top-secret\n")
    h.listen_port(a, conf("hmac_secret_file = %s" % t.path("secret")))
    body = rec("H1")
    sig = h.webhook_signature("top-secret", body)
    eq(post("application/json", body)[0], 401, "unsigned")
    wrong = sig[:-64] + sig[-64:].translate(str.maketrans("0123456789abcdef", "123456789abcdef0"))
    eq(post("application/json", body, "-H", "X-Whagent-Signature: " + wrong)[0], 401, "wrong signature")
    eq(a.field("last_seq"), 4, "a refused POST was journaled")
    eq(post("application/json", body, "-H", "X-Whagent-Signature: " + sig),
       (200, '{"results":[{"seq":5}],"taken":1,"duplicates":0,"quarantined":0}'), "signed")
    a.stop()

    # Full journal: 503 with Retry-After, nothing taken; after a reload with room, taken.
    h.listen_port(a, conf(reserve="1000TB"))
    code, out = curl("-i", "-H", "Content-Type: application/json", "--data-binary", rec("F1"), url())
    has(out, r"^HTTP/1\.1 503", "full journal")
    has(out, r"(?i)^Retry-After: [0-9]", "full journal: Retry-After")
    eq(curl(url("/healthz"))[0], 503, "healthz with a full journal")
    eq(a.field("last_seq"), 5, "a POST was journaled into a full journal")
    a.edit_conf("reserve_bytes = 1000TB", "reserve_bytes = 0")
    a.reload()
    eq(post("application/json", rec("F1"))[0], 200, "after the reload")
    a.stop()

    # A listener that cannot start: the agent says why, once, and exits
    with h.socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        conf()(busy.getsockname()[1])
        r = a.cli("run")
    ok(r.returncode != 0, "the agent ran without its listener")
    errors = [ln for ln in r.stderr.splitlines() if "error" in ln]
    eq(len(errors), 1, "error lines about the listener: %s" % errors)
    has(errors[0], r"http input: cannot listen on 127\.0\.0\.1:\d+: Address already in use", "why")

    # HTTPS listener
    tls_key, tls_crt = t.path("tls.key"), t.path("tls.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-keyout", tls_key, "-out", tls_crt, "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    h.listen_port(a, conf("tls_certfile = %s\ntls_keyfile = %s" % (tls_crt, tls_key)))
    eq(curl("--cacert", tls_crt, "-o", "/dev/null", "-H", "Content-Type: application/json",
            "--data-binary", rec("S1"), url(scheme="https"))[0], 200, "HTTPS POST")
    a.stop()

    # kill -9 between requests: every record the client saw acknowledged is journaled once.
    h.listen_port(a, conf())
    acked, errors, lock = [], [], threading.Lock()

    def client():  # retried until acknowledged: the sender's side of at-least-once
        for i in range(1000):
            body = "\n".join(json.dumps({"kind": "receipt", "txn_id": "K%d-%d" % (i, k), "sku": "S",
                                         "event_time": "2026-03-01T10:00:00Z", "qty": 1, "uom": "EA",
                                         "bin": "R"}) for k in range(10)).encode()
            for attempt in range(400):
                try:
                    req = urllib.request.Request(url(), body, {"Content-Type": "application/x-ndjson"})
                    json.load(urllib.request.urlopen(req, timeout=5 * h.SLOW))
                    with lock:
                        acked.extend("K%d-%d" % (i, k) for k in range(10))
                    break
                except Exception as e:
                    last = e
                    time.sleep(0.05)
            else:
                errors.append("batch %d never acknowledged: %r" % (i, last))
                return
    th = threading.Thread(target=client, daemon=True)
    th.start()
    h.wait_for(lambda: len(acked) >= 500, 30, "client made no progress")
    a.kill9()
    with lock:
        acked_at_kill = len(acked)
    a.start()
    th.join(timeout=300 * h.SLOW)
    ok(not th.is_alive(), "client did not finish")
    eq(errors, [], "client errors")
    a.stop()
    ok(0 < acked_at_kill < 10000, "the kill did not land mid-stream (%d acknowledged)" % acked_at_kill)
    journaled = [k for (k,) in a.sql("SELECT source_key FROM event WHERE source_key LIKE 'K%'")]
    eq(len(acked), 10000, "records the client saw acknowledged")
    lost = sorted(set(acked) - set(journaled))
    eq(lost[:5], [], "acknowledged records lost (%d)" % len(lost))
    eq(len(journaled), len(set(journaled)), "records journaled once")
    eq(a.sql1("SELECT count(*) = max(seq) - min(seq) + 1 FROM event"), 1, "seq gapless")
    return "HTTP protocol cases, HMAC, full journal, HTTPS, metrics; kill -9 after %d acknowledged " \
        "records lost none" % acked_at_kill


if __name__ == "__main__":
    h.main(test)
