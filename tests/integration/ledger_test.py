"""The ledger and snapshots with the reference platform: two consumer instances behind an MQTT 5
shared subscription ($share/platform/...) with one store split the site's batches, restore
its order by seq and ack (ack_mode = platform). Snapshots, paged, are published on schedule
and on command; the platform recomputes balances and control totals from the events it holds
and they match. Only its acks prune the journal. SHIP_FROM=staging runs it with
[ledger] shipment_from = staging (shipments leave from staging whatever bin they name).
usage: [SHIP_FROM=bin|staging] ledger_test.py WHAGENT [ARGS...]"""
import os

import harness as h
from harness import eq, ok


def test(t):
    ship_from = os.environ.get("SHIP_FROM", "bin")
    broker = t.broker()
    a = t.new_agent()
    port = [0]

    def conf(p):
        port[0] = p
        a.write_conf(sections=h.mqtt_section(broker.port, """ack_mode = platform
platform_pubkey = %s
retention_s = 0
[ledger]
shipment_from = %s
snapshot_interval_s = 3
snapshot_page_rows = 400
[input.http]
listen = 127.0.0.1:%d""" % (t.platform_key()[1], ship_from, p)))
    wms = h.Wms(t)
    # no repeats: with retention_s = 0 a repeat read after its original was acked and pruned is
    # a new event (README: repeats are recognised while the original is in the journal)
    csv_events = len(wms.generate(csv=3000, jsonl=1000, dup_every=0, prefix="a")["keys"])
    n = csv_events + 6

    def platform(name, *args):  # an instance of the reference platform
        return t.consumer(broker, name, "--share", "platform", "--store", t.path("platform.db"), "--ack",
                          "--replay-after", 3, "--expect-last", n, "--expect-snapshots", 3,
                          "--shipment-from", ship_from, *args, timeout=120)
    t.platform_key()  # made now: the platform's instances sign with it
    p1 = platform("p1", "--snapshot-cmd")
    p2 = platform("p2")
    h.listen_port(a, conf)
    T = '"event_time":"2026-03-01T10:00:00Z","uom":"EA"'
    # lots, a pick without to_bin (to the staging location), one with, a shipment from staging,
    # one from a dock bin, an adjustment in another unit of measure
    for body in (
            '{"kind":"receipt","txn_id":"H1",%s,"sku":"LOT-SKU","lot":"L1","qty":"100.5","bin":"R-1"}' % T,
            '{"kind":"pick","txn_id":"H2",%s,"sku":"LOT-SKU","lot":"L1","qty":"10","bin":"R-1"}' % T,
            '{"kind":"pick","txn_id":"H3",%s,"sku":"LOT-SKU","lot":"L1","qty":"5","bin":"R-1","to_bin":"PACK-2"}' % T,
            '{"kind":"shipment","txn_id":"H4",%s,"sku":"LOT-SKU","lot":"L1","qty":"10","shipment_ref":"S1"}' % T,
            '{"kind":"shipment","txn_id":"H5",%s,"sku":"LOT-SKU","lot":"L1","qty":"5","shipment_ref":"S2",'
            '"bin":"PACK-2"}' % T,
            '{"kind":"adjustment","txn_id":"H6","event_time":"2026-03-01T10:00:00Z","sku":"LOT-SKU","lot":"L1",'
            '"qty":"-2","uom":"CS","bin":"R-1","reason_code":"DMG"}'):
        code = h.http("http://127.0.0.1:%d/v1/events" % port[0], body)[0]
        eq(code, 200, "POST %s" % body)
    wms.drop("a-orders.csv", a.spool)
    wms.drop("a-moves.jsonl", a.spool)
    s1, s2 = p1.wait(), p2.wait()

    def balances():  # the folded rows plus the changes not folded yet
        return [q for (q,) in a.sql(
            "SELECT sum(q) FROM (SELECT sku, location, uom, on_hand AS q FROM ledger UNION ALL "
            "SELECT sku, location, uom, milli FROM ledger_delta) WHERE sku = 'LOT-SKU' "
            "GROUP BY location, uom ORDER BY location, uom")]
    # H5 ships 5 from PACK-2, or from staging with shipment_from = staging
    expect = [0, -2000, 85500, 0] if ship_from == "bin" else [5000, -2000, 85500, -5000]
    eq(balances(), expect, "LOT-SKU balances (PACK-2 EA, R-1 CS, R-1 EA, STAGING EA)")
    for name, s in (("p1", s1), ("p2", s2)):
        store = s["store"][list(s["store"])[0]]
        eq(store["applied_through"], n, "%s: store applied" % name)
        ok(s["batches"] > 0, "%s received no batch: the shared subscription did not split" % name)
    snaps = {}
    for s in (s1, s2):
        for snap in s["snapshots"]:
            if snap.get("verified_by_me"):
                snaps[snap["snapshot_id"]] = snap
    bad = [x for x in snaps.values() if not (x.get("totals_match") and x.get("balances_match"))]
    paged = [x for x in snaps.values() if x["pages"] > 1]
    print("snapshots verified: %d (%d paged, up to %d pages, %d balances), mismatching: %d" % (
        len(snaps), len(paged), max([x["pages"] for x in snaps.values()] or [0]),
        max([x["balance_rows"] for x in snaps.values()] or [0]), len(bad)))
    eq(bad, [], "snapshots that do not match")
    ok(len(snaps) >= 3 and paged, "snapshots verified: %d, paged: %d" % (len(snaps), len(paged)))
    h.has(a.text(), "snapshot .* as of seq", "no snapshot logged")
    eq([r["ok"] for r in s1["command_results"] if "snapshot" in r["message"]][:1], [True], "snapshot command")
    a.wait_status("platform_acked_through", n, 20, "platform acks")
    h.wait_for(lambda: a.rows() == 0, 10, "not pruned after the platform's acks")
    a.stop()
    eq((a.sql1("SELECT count(*) FROM ledger_delta"), balances()), (0, expect), "ledger at stop (changes left, balances)")
    return "(shipment_from = %s) ledger balances and control totals verified by the platform in paged snapshots " \
        "(schedule and command), two instances on a shared subscription, acks prune" % ship_from


if __name__ == "__main__":
    h.main(test)
