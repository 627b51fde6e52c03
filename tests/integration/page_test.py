"""The status page in a real browser (Debian's headless Chromium): the agent fed good records, a
record whose value carries <script> (quarantined; its reason and raw bytes shown escaped), an
event_time far in the future (flagged: the event_time alarm), then a broker outage. The DOM
shows the link state, the backlog, the quarantine reason and an alarm before and during the
outage; screenshots go to SCREENSHOTS=DIR when set (docs/status-page*.png were made so).
Requeue and purge: refused without the token or with a wrong one, a requeue that is still
invalid keeps the entry, one after a reload that fixes the input's decimal journals it, a
purge deletes; the buttons are in the DOM. Page weight and RSS are printed (not asserted).
usage: page_test.py WHAGENT [ARGS...]"""
import json
import os
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import harness as h
from harness import eq, has, ok

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def rec(txn, qty="1", when="2026-03-01T10:00:00Z"):
    return ('{"kind":"pick","txn_id":"%s","event_time":"%s","sku":"SKU-%s","qty":%s,'
            '"uom":"EA","bin":"A-1"}' % (txn, when, txn, qty))


def get(url):
    with urllib.request.urlopen(url, timeout=30 * h.SLOW) as r:
        return r.status, r.headers, r.read().decode()


def browser(t, url, out_png=None, name="dom", size="1100,1500"):
    """Chromium's DOM after the page ran its script (and a screenshot when out_png)."""
    prof = t.path("chromium-" + name)
    base = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--user-data-dir=" + prof, "--virtual-time-budget=3000", "--hide-scrollbars"]
    r = subprocess.run(base + ["--dump-dom", url], capture_output=True, text=True, timeout=120 * h.SLOW)
    ok(r.returncode == 0 and "<html" in r.stdout, "chromium --dump-dom failed: %s" % r.stderr[-800:])
    if out_png:
        s = subprocess.run(base + ["--window-size=" + size, "--screenshot=" + out_png, url],
                           capture_output=True, text=True, timeout=120 * h.SLOW, cwd=t.work)
        ok(s.returncode == 0 and os.path.getsize(out_png) > 1000, "chromium --screenshot failed: %s" % s.stderr[-800:])
    return r.stdout


def section(dom, sid):
    m = re.search(r'<section id="%s"[^>]*>(.*?)</section>' % sid, dom, re.S)
    ok(m, "no section %s in the DOM" % sid)
    return m.group(1)


def test(t):
    if CHROMIUM is None:
        raise h.Skip("no chromium (apt-get install chromium)")
    b = t.broker()
    a = t.new_agent()
    port = [0]
    shots = os.environ.get("SCREENSHOTS")

    token = "page-test-token-0123456789"
    tokfile = t.write("ui.token", token + "\n", 0o600)

    def conf(p):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(b.port) +
                     "[input.http]\nlisten = 127.0.0.1:%d\ntoken_file = %s\ndecimal = point\n"
                     "[health]\nhistory_sample_s = 1\nevent_time_ahead_s = 3600\n" % (p, tokfile))
    h.listen_port(a, conf)
    base = "http://127.0.0.1:%d" % port[0]

    def post(body):
        req = urllib.request.Request(base + "/v1/events", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30 * h.SLOW) as r:
            return json.loads(r.read())

    def status():
        return json.loads(get(base + "/v1/status?detail=1")[2])

    res = post("[%s,%s,%s,%s,%s]" % (rec("T1"), rec("T2"), rec("T3", '"<script>alert(1)</script>"'),
                                      rec("T4", "2", "2099-01-01T00:00:00Z"), rec("T9", '"1,5"')))
    eq(res["taken"], 3, "taken")
    eq(res["quarantined"], 2, "quarantined")
    a.wait_status("backlog", lambda v: v == 0, what="the backlog drains")
    h.wait_for(lambda: any(x["name"] == "event_time" for x in status()["alarms"]), 10,
               "the event_time alarm for the record of 2099")

    code, hdr, html = get(base + "/")
    eq(code, 200, "GET /")
    has(hdr["Content-Type"], "text/html", "content type")
    has(hdr.get("Content-Security-Policy", ""), "default-src 'none'", "CSP")
    ok("<script>alert" not in html, "the quarantined record's <script> is escaped in the HTML")
    has(html, re.escape("&lt;script&gt;alert(1)&lt;/script&gt;"), "the raw record shown escaped")
    print("page weight: %d bytes (HTML with CSS and JS inline, nothing else loaded)" % len(html.encode()))

    dom = browser(t, base + "/", shots and os.path.join(shots, "status-page.png"), "before")
    ok("<script>alert" not in dom, "no <script> from the record in the DOM")
    if shots:  # the same on a phone's screen
        browser(t, base + "/", os.path.join(shots, "status-page-phone.png"), "phone", "412,1600")
    has(re.search(r'id="state"[^>]*>([^<]*)<', dom).group(1), r"^in sync$", "link state in the DOM")
    has(section(dom, "core"), r'id="backlog"[^>]*>0 events<', "backlog in the DOM")
    has(section(dom, "core"), r'id="link"[^>]*>connected', "link in the DOM")
    has(section(dom, "quarantine"), r"is not a decimal number", "a quarantine reason in the DOM")
    has(section(dom, "alarms"), r'data-name="event_time"', "an alarm in the DOM")
    has(section(dom, "recent"), r"SKU-T4", "the last events decoded")
    has(section(dom, "inputs"), r"POST /v1/events from 127\.0\.0\.1", "the input's last POST")
    has(section(dom, "quarantine"), r'<button data-action="requeue" data-id="1">', "requeue buttons")
    print("agent RSS with the page open: %d KiB" % a.rss_kib())

    # the outage: capture goes on, the page says so
    b.stop()
    a.wait_link(lambda s: s != "connected", what="the link goes down")
    post("[%s,%s]" % (rec("T5"), rec("T6")))
    h.wait_for(lambda: any(x["name"] == "link_down" for x in status()["alarms"]), 10, "link_down alarm")
    dom = browser(t, base + "/", shots and os.path.join(shots, "status-page-outage.png"), "outage")
    has(re.search(r'id="state"[^>]*>([^<]*)<', dom).group(1), r"^link down$", "link state during the outage")
    has(section(dom, "core"), r'id="backlog"[^>]*>2 events<', "backlog during the outage")
    has(section(dom, "alarms"), r'data-name="link_down"', "the link_down alarm in the DOM")
    has(section(dom, "quarantine"), r"is not a decimal number", "the quarantine reason during the outage")
    b.start()
    a.wait_status("backlog", lambda v: v == 0, timeout=60, what="the backlog drains after the outage")
    h.wait_for(lambda: not any(x["name"] == "link_down" for x in status()["alarms"]), 10,
               "link_down cleared")

    # requeue and purge: the token, from this machine
    def action(path, tok=None, method="POST"):
        req = urllib.request.Request(base + path, method=method, data=b"" if method == "POST" else None,
                                     headers={"Authorization": "Bearer " + tok} if tok else {})
        try:
            with urllib.request.urlopen(req, timeout=30 * h.SLOW) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())
    eq(action("/v1/quarantine/2/requeue")[0], 401, "requeue without the token")
    eq(action("/v1/quarantine/2/requeue", token + "x")[0], 401, "requeue with a wrong token")
    eq(action("/v1/quarantine/2/requeue", token, "GET")[0], 405, "GET of an action")
    eq(action("/v1/quarantine/99/requeue", token)[0], 404, "requeue of no entry")
    code, r = action("/v1/quarantine/2/requeue", token)
    eq((code, r["result"]), (200, "still invalid"), "requeue, still invalid: %s" % r)
    has(r["reason"], "1,5", "the reason")
    a.edit_conf("decimal = point", "decimal = comma")
    a.reload()
    code, r = action("/v1/quarantine/2/requeue", token)
    eq((code, r["result"], r["seq"]), (200, "journaled", 6), "requeue after the fix: %s" % r)
    eq(action("/v1/quarantine/1/purge", token), (200, {"id": 1, "result": "purged"}), "purge")
    eq(action("/v1/quarantine/1/purge", token)[0], 404, "purge again")
    eq(status()["quarantine"], [], "the quarantine is empty")
    a.wait_status("backlog", lambda v: v == 0, timeout=60, what="the requeued event is sent")
    a.stop()
    return "page: DOM before and during the outage, escaping, requeue and purge with the token"


if __name__ == "__main__":
    h.main(test)
