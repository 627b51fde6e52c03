"""Signed webhooks with the real daemon, curl and a real mosquitto: the signature covers a
timestamp and the body (X-Whagent-Signature: t=UNIX,v1=HEX); a request outside the window,
with a bad or missing timestamp, in the old sha256= format or wrongly signed is refused (401,
nothing journaled, the body not even read); the same signed request a second time is refused
inside the window, and answered as duplicates after a restart (its records are still
journaled: retention_s > 2 x window is enforced). The attack of issue 13: a captured signed
receipt replayed after its original was pruned journaled it again and doubled the on-hand; now
refused, the on-hand unchanged. A request answered 503 (nothing taken) may be resent as it
was. An empty or white-space secret fails `check` and `run`.
usage: webhook_test.py WHAGENT [ARGS...]"""
import hmac
import json
import subprocess
import time

import harness as h
from harness import eq, has, ok

SECRET = "s3cr3t-webhook-key"


def rec(txn, kind="pick", qty="1", sku="S1"):
    return ('{"kind":"%s","txn_id":"%s","event_time":"2026-03-01T10:00:00Z","sku":"%s","qty":%s,'
            '"uom":"EA","bin":"A-1"}' % (kind, txn, sku, qty))


def curl(*args):
    """curl's (status, body, bytes uploaded) for a request."""
    r = subprocess.run(["curl", "-s", "-w", "\n%{http_code} %{size_upload}"] + list(args), capture_output=True,
                       text=True, timeout=60 * h.SLOW)
    body, _, tail = r.stdout.rpartition("\n")
    code, _, up = tail.partition(" ")
    return int(code or 0), body, int(up or 0)


def test(t):
    a = t.new_agent()
    port = [0]
    t.write("secret", SECRET + "\n", mode=0o600)

    def conf(extra="", mqtt="", reserve="0"):
        def write(p):
            port[0] = p
            a.write_conf(reserve_bytes=reserve, sections="[input.http]\nlisten = 127.0.0.1:%d\nhmac_secret_file = %s\n%s\n%s"
                         % (p, t.path("secret"), extra, mqtt))
        return write

    def post(body, sig=None, *args):
        hdr = ["-H", "X-Whagent-Signature: " + sig] if sig is not None else []
        return curl("-H", "Content-Type: application/json", "--data-binary", body, *hdr, *args,
                    "http://127.0.0.1:%d/v1/events" % port[0])

    def why(r):
        return json.loads(r[1])["error"]

    # --- refused before anything is taken ---
    h.listen_port(a, conf())
    body = rec("W1")
    now = int(time.time())
    r = post(body)
    eq(r[0], 401, "unsigned")
    has(why(r), r"^missing X-Whagent-Signature", "unsigned: reason")

    old = "sha256=" + hmac.new(SECRET.encode(), body.encode(), "sha256").hexdigest()
    r = post(body, old)
    eq(r[0], 401, "the old body-only format")
    has(why(r), r"no longer taken", "old format: reason")
    good = h.webhook_signature(SECRET, body, now)
    for bad in ("t=abc," + good.split(",")[1], good.split(",")[1], good.split(",")[0], "t=%d,v1=zz" % now,
                "t=%d,v1=%s" % (now, "0" * 63), ""):
        r = post(body, bad)
        eq(r[0], 401, "bad or missing timestamp / mac: %r" % bad)
        has(why(r), r"^(malformed|missing) X-Whagent-Signature", "reason for %r" % bad)
    r = post(body, h.webhook_signature("another-secret", body, now))
    eq((r[0], why(r)[:15]), (401, "wrong signature"), "wrong secret")
    r = post(body, h.webhook_signature(SECRET, body.replace("W1", "W2"), now))
    eq((r[0], why(r)[:15]), (401, "wrong signature"), "body changed after signing")
    r = post(body, h.webhook_signature(SECRET, body, now - 400))
    eq((r[0], why(r)[:29]), (401, "signature timestamp too old ("), "outside the window (past)")
    r = post(body, h.webhook_signature(SECRET, body, now + 400))
    eq((r[0], why(r)[:32]), (401, "signature timestamp in the futur"), "outside the window (future)")
    # a large body with no signature is refused on its headers: asked to wait for 100 Continue,
    # the client never sends a byte of it
    big = t.write("big.json", "[" + ",".join([rec("B%d" % i) for i in range(4000)]) + "]")
    r = post("@" + big, None, "-H", "Expect: 100-continue", "--expect100-timeout", str(30 * h.SLOW))
    eq((r[0], r[2]), (401, 0), "an unsigned large body: status and bytes the agent read")
    # a wrongly signed body that is not JSON is not parsed: not quarantined, nothing journaled
    r = post("kind=pick&txn=X", h.webhook_signature("another-secret", "kind=pick&txn=X"))
    eq(r[0], 401, "unparsable body, wrong signature")
    eq((a.field("last_seq"), a.field("quarantined")), (0, 0), "journaled or quarantined by refused POSTs")
    has(a.text(), r"http: POST /v1/events from 127\.0\.0\.1 refused \(401\): no signature", "refusals logged")

    # --- a replay inside the window ---
    sig = h.webhook_signature(SECRET, body)
    eq(post(body, sig)[:2], (200, '{"results":[{"seq":1}],"taken":1,"duplicates":0,"quarantined":0}'), "signed")
    r = post(body, sig)
    eq(r[0], 401, "the same signed request again")
    has(why(r), r"^signature already used", "replay: reason")
    # the WMS retrying signs again: a new timestamp, and the record dedupes
    again = h.webhook_signature(SECRET, body, int(sig[2:sig.index(",")]) + 1)
    eq(post(body, again)[:2], (200, '{"results":[{"duplicate_of":1}],"taken":0,"duplicates":1,"quarantined":0}'),
       "a retry signed anew")
    eq(a.field("last_seq"), 1, "last_seq after the replay")

    # --- after a restart, inside the window: the records are still journaled, so duplicates ---
    receipt = rec("R1", kind="receipt", qty="5", sku="RS")
    rsig = h.webhook_signature(SECRET, receipt)
    eq(post(receipt, rsig)[0], 200, "receipt")
    a.stop()
    a.start()
    eq(post(receipt, rsig)[:2], (200, '{"results":[{"duplicate_of":2}],"taken":0,"duplicates":1,"quarantined":0}'),
       "the receipt replayed after a restart")
    eq(post(receipt, rsig)[0], 401, "replayed a second time after the restart")
    eq(a.field("last_seq"), 2, "last_seq after replays across a restart")
    a.stop()

    # --- answered 503 (nothing taken): the same signed request may come again ---
    h.listen_port(a, conf(reserve="1000TB"))
    full = rec("J1")
    fsig = h.webhook_signature(SECRET, full)
    eq(post(full, fsig)[0], 503, "a signed POST into a full journal")
    a.edit_conf("reserve_bytes = 1000TB", "reserve_bytes = 0")
    a.reload()
    eq(post(full, fsig)[:2], (200, '{"results":[{"seq":3}],"taken":1,"duplicates":0,"quarantined":0}'),
       "the same signed POST after the 503")
    eq(post(full, fsig)[0], 401, "and once more, now that it was taken")
    a.stop()

    # --- the retention must outlive the window (an uplink prunes) ---
    broker = t.broker()
    conf("signature_window_s = 300", h.mqtt_section(broker.port, "retention_s = 600\n"))(port[0])
    r = a.cli("check")
    ok(r.returncode != 0, "check took retention_s = 2 x signature_window_s")
    has(r.stderr + r.stdout, r"signature_window_s needs \[mqtt\] retention_s above twice", "check: why")

    # --- issue 13's attack: replay a captured receipt after its original was pruned ---
    window, retention = 2, 5
    h.listen_port(a, conf("signature_window_s = %d" % window,
                          h.mqtt_section(broker.port, "retention_s = %d\n" % retention)))
    cap = rec("P1", kind="receipt", qty="5", sku="PRUNED")
    capsig = h.webhook_signature(SECRET, cap)  # what the attacker captured on the wire
    code, out, _ = post(cap, capsig)
    eq(code, 200, "the receipt")
    seq = json.loads(out)["results"][0]["seq"]

    def on_hand():
        return a.sql1("SELECT coalesce(sum(q), 0) FROM (SELECT on_hand AS q FROM ledger WHERE sku = 'PRUNED' "
                      "UNION ALL SELECT milli FROM ledger_delta WHERE sku = 'PRUNED')")
    eq(on_hand(), 5000, "on-hand after the receipt (thousandths)")
    fill = [0]

    def pruned():  # a fresh signed record now and then makes the uplink save its watermark and prune
        fill[0] += 1
        f = rec("F%d" % fill[0])
        eq(post(f, h.webhook_signature(SECRET, f))[0], 200, "filler")
        return a.sql1("SELECT count(*) FROM event WHERE seq = ?", seq) == 0
    h.wait_for(pruned, 60, "the receipt was never pruned", interval=0.5)
    before = a.field("last_seq")
    r = post(cap, capsig)
    eq(r[0], 401, "the captured receipt replayed after its prune")
    has(why(r), r"^signature timestamp too old", "prune replay: reason")
    eq(a.field("last_seq"), before, "last_seq after the replay")
    eq(a.sql1("SELECT count(*) FROM event WHERE source_key = 'P1'"), 0, "the receipt journaled again")
    eq(on_hand(), 5000, "on-hand after the replay")
    a.stop()

    # --- empty secrets: check fails, run refuses ---
    for text in ("\n", "  \t\r\n", ""):
        t.write("secret", text, mode=0o600)
        conf()(port[0])
        r = a.cli("check")
        ok(r.returncode != 0, "check took the secret %r" % text)
        has(r.stderr, r"error: \[input\.http\] hmac_secret_file .* is empty \(or white space only\)",
            "check: why (%r)" % text)
        r = a.cli("run")
        ok(r.returncode != 0, "run took the secret %r" % text)
        has(r.stderr, r"hmac_secret_file .* is empty", "run: why (%r)" % text)
    return ("unsigned, old format, bad or missing timestamps, wrong, outside the window: 401; "
            "replay inside the window 401; after a restart duplicates; after a prune 401 with "
            "the on-hand unchanged; empty secrets refused by check and run")


if __name__ == "__main__":
    h.main(test)
