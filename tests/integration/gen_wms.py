#!/usr/bin/env python3
"""Generates a WMS workload for the spool tests: CSV and JSON Lines files with every event
kind, a share of malformed records and of repeated transaction ids, and an expectation file
(expected.json) with what the agent must journal, count as duplicates and quarantine.

usage: gen_wms.py OUTDIR --csv N --jsonl N [--bad-every K] [--dup-every K] [--seed S]
                  [--prefix NAME] [--expect FILE]
"""
import argparse
import json
import os
import random

KINDS = ["PICK", "RECEIPT", "ADJUSTMENT", "TRANSFER", "SHIPMENT"]
HEADER = ["kind", "txn_id", "event_time", "sku", "gtin", "lot", "qty", "uom", "zone", "bin",
          "to_bin", "reason_code", "order_ref", "shipment_ref", "carrier", "operator_id", "note"]


def good(rng, txn):
    kind = KINDS[txn % len(KINDS)]
    qty = "%d.%03d" % (rng.randint(1, 500), rng.randint(0, 999))
    rec = {"kind": kind, "txn_id": "TXN-%09d" % txn,
           "event_time": "2026-03-01T%02d:%02d:%02d+01:00" % (txn // 3600 % 24, txn // 60 % 60, txn % 60),
           "sku": "SKU-%05d" % rng.randint(1, 99999), "qty": qty, "uom": "EA",
           "zone": "Z%d" % rng.randint(1, 9), "bin": "A-%02d-%02d" % (rng.randint(1, 40), rng.randint(1, 9)),
           "operator_id": "op%d" % rng.randint(1, 50)}
    if kind == "ADJUSTMENT":
        rec["qty"] = "-" + qty if txn % 2 else qty
        rec["reason_code"] = "CYCLE_COUNT"
    if kind == "TRANSFER":
        rec["to_bin"] = "B-%02d" % rng.randint(1, 40)
    if kind == "SHIPMENT":
        rec["shipment_ref"] = "SHP-%06d" % (txn // 10)
        rec["carrier"] = "DHL"
        del rec["bin"]
    if kind == "PICK":
        rec["order_ref"] = "SO-%06d" % (txn // 3)
    if txn % 7 == 0:
        rec["note"] = 'fragile, "handle with care"\nsecond line'  # quoting + embedded newline
    if txn % 11 == 0:
        rec["gtin"] = "4006381333931"
    return rec


BAD = [  # (field, value, words the reason must contain)
    ("qty", "12,5", "is not a decimal number"),
    ("event_time", "yesterday", "is not an RFC 3339 time"),
    ("kind", "SCRAP", "is not PICK"),
    ("sku", "", "column sku is required"),
    ("gtin", "4006381333932", "is not a GTIN"),
]


def csv_field(v):
    if any(c in v for c in ',"\n\r'):
        return '"' + v.replace('"', '""') + '"'
    return v


def generate(outdir, csv=0, jsonl=0, bad_every=97, dup_every=13, seed=1, prefix="wms", first_txn=1):
    """Writes PREFIX-orders.csv (csv records) and PREFIX-moves.jsonl (jsonl records) into outdir;
    returns the expectation: keys to journal, duplicates, quarantined (position, reason words),
    files."""
    rng = random.Random(seed)
    expect = {"keys": [], "duplicates": 0, "quarantined": [], "files": []}
    txn = first_txn
    taken = []

    def records(n, fmt, name):
        nonlocal txn
        out = []
        for i in range(n):
            if bad_every and i % bad_every == bad_every - 1:
                field, value, words = BAD[(i // bad_every) % len(BAD)]
                rec = good(rng, 900000000 + txn)
                rec["txn_id"] = "BAD-%09d" % txn
                rec[field] = value
                txn += 1
                out.append((rec, ("bad", words)))
            elif dup_every and taken and i % dup_every == dup_every - 1:
                out.append((dict(rng.choice(taken)), ("dup", None)))
            else:
                rec = good(rng, txn)
                txn += 1
                taken.append(rec)
                out.append((rec, ("ok", None)))
        return out

    def account(rows):  # what the agent must journal and count as duplicates
        for rec, (what, _) in rows:
            if what == "ok":
                expect["keys"].append(rec["txn_id"])
            elif what == "dup":
                expect["duplicates"] += 1

    if csv:
        name = "%s-orders.csv" % prefix
        rows = records(csv, "csv", name)
        with open(os.path.join(outdir, name), "w", newline="") as f:
            f.write(",".join(HEADER) + "\r\n")
            line = 2
            for rec, (what, words) in rows:
                text = ",".join(csv_field(rec.get(h, "")) for h in HEADER)
                f.write(text + "\r\n")
                if what == "bad":
                    expect["quarantined"].append({"position": "%s line %d" % (name, line), "reason": words})
                line += 1 + text.count("\n")
        expect["files"].append(name)
        account(rows)
    if jsonl:
        name = "%s-moves.jsonl" % prefix
        rows = records(jsonl, "jsonl", name)
        with open(os.path.join(outdir, name), "w") as f:
            for n, (rec, (what, words)) in enumerate(rows, 1):
                if what == "bad" and n % 2 == 0:  # half of the bad ones are not even JSON
                    f.write('{"kind": "PICK", "txn_id": ' + "\n")
                    words = "not valid JSON"
                else:
                    if "qty" in rec and n % 3 == 0 and what != "bad":
                        rec = dict(rec, qty=float(rec["qty"]))  # JSON number, must stay exact
                    f.write(json.dumps({k: v for k, v in rec.items() if v != ""}) + "\n")
                if what == "bad":
                    expect["quarantined"].append({"position": "%s line %d" % (name, n), "reason": words})
        expect["files"].append(name)
        account(rows)
    return expect


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--csv", type=int, default=0)
    ap.add_argument("--jsonl", type=int, default=0)
    ap.add_argument("--bad-every", type=int, default=97)
    ap.add_argument("--dup-every", type=int, default=13)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--prefix", default="wms")
    ap.add_argument("--first-txn", type=int, default=1)
    ap.add_argument("--expect", default=None)
    a = ap.parse_args()
    expect = generate(a.outdir, a.csv, a.jsonl, a.bad_every, a.dup_every, a.seed, a.prefix, a.first_txn)
    if a.expect:
        with open(a.expect, "w") as f:
            json.dump(expect, f)


if __name__ == "__main__":
    main()
