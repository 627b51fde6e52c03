#!/usr/bin/python3
"""Reference platform for whagent: what the central side does with what the agents send.

An agent (one per site) publishes under PREFIX/SITE/:
  events      EventBatch, live traffic
  backfill    EventBatch, historical: an old backlog drained beside live traffic, and replays
  snapshot    Snapshot pages: its ledger (on-hand balances, control totals) as of a seq
  status      Status, retained
  cmd/result  CommandResult
and takes a PlatformAck on PREFIX/SITE/ack and a Command on PREFIX/SITE/cmd, each inside a
SignedControl (signed with --platform-key: see ControlSigner).

What this platform does (messages decoded with the .proto files of proto/whagent/v1, compiled
by protoc at start):
  store     every event once, keyed (site, journal_id, seq), in SQLite (--store); copies are
            dropped there.
  apply     the ledger moves strictly in seq order per journal: batches of the two topics, or
            taken by other instances, interleave, so after each batch the events contiguous
            from applied_through + 1 are applied in one transaction, the rest wait in the store.
            A journal's ledger starts at --ack-from (default --expect-first, default 1): the
            seqs below it are taken as held elsewhere.
  ack       (--ack) PlatformAck(journal, applied_through): the agent may prune up to it; at
            most every ACK_INTERVAL_S per journal (the latest waits, then goes).
            Acks and commands go in a SignedControl signed with --platform-key; its counter
            is drawn from the store with what it says (see Store._counter).
  replay    (--replay-after S) when applied_through + 1 stays missing for S seconds while
            seqs above it are held, or the agent's Status says the broker took them (a lost
            tail has nothing after it), a signed `replay` command asks for the hole; again
            after another S seconds if it is still open.
  verify    once all pages of a snapshot are stored and applied_through >= as_of_seq, its
            balances and control totals are recomputed from the stored events from_seq..as_of_seq
            and compared, once (by whichever instance gets there first); "verifiable": false
            when some of those events are not held (a platform that joined late).
            --snapshot-cmd asks for one snapshot after the first batch.
All of this state is in the store, so instances sharing it (--store FILE --share GROUP, one
MQTT shared subscription) split the traffic and still ack, replay and verify correctly.

Ledger rules (those of agent/ledger.c). A balance is keyed (sku, location, lot, uom): the
location is the bin, lot is '' when none; q is quantity.milli.
  RECEIPT     +q at location        ADJUSTMENT  +q at location (q is signed)
  PICK        -q at location, +q at destination (or --staging when none)
  SHIPMENT    -q at location (or --staging when none; always --staging with
              --shipment-from staging)
  TRANSFER    -q at location, +q at destination
Control totals per kind: count, sum of q, and h = SHA-256(h || event_id) over the kind's events
in seq order, from 32 zero bytes. --staging and --shipment-from must be the agent's [ledger]
staging_location and shipment_from.

  whagent_consumer.py --port 1883 --site DC1 --expect-last 5000 --timeout 60
  whagent_consumer.py --host mqtt.example.com --port 8883 --cafile ca.crt --cert platform.crt \\
      --key platform.key --site DC1 --follow --ack
  whagent_consumer.py --site DC1 --store /srv/platform.db --share central --ack \\
      --replay-after 10 --platform-key platform-control.key

It runs until --expect-last N (every seq FIRST..N of one journal held; in the store when --store
names a file) and --expect-snapshots K (K snapshots checked) are met, or --timeout, or SIGTERM,
then prints a JSON summary:
  received, batches, bad_batches, signatures, statuses, properties, kinds, journals
            what this instance received (journals: unique, duplicates, min/max seq, gaps, ...)
  topics    per topic: batches, events, latency (receipt time - captured_at_ms) ...
  store     per journal: applied_through, held, balance_rows, totals (all instances)
  acks_sent, replays, command_results, snapshots (verdicts; verified_by_me)
Debian: python3-paho-mqtt, python3-protobuf, python3-cryptography, protobuf-compiler.
"""
import argparse
import array
import contextlib
import hashlib
import importlib
import itertools
import json
import os
import select
import signal
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict

import paho.mqtt.client as mqtt
from google.protobuf import json_format

PROTO_FILES = ("event.proto", "batch.proto", "status.proto", "control.proto", "snapshot.proto")
TICK_S = 0.25  # how often the main loop looks at the store (replays, snapshots, completion)
ACK_INTERVAL_S = 0.2  # acks of one journal at most this often (each costs the agent a verification)


def default_proto_dir():
    """proto/ of the source tree this file is in, else where the .deb installs the files."""
    tree = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../proto")
    return tree if os.path.isdir(tree) else "/usr/share/whagent/proto"


def load_protos(proto_dir):
    """Compiles the .proto files into a temporary package; returns (batch_pb2, status_pb2)."""
    out = tempfile.mkdtemp(prefix="whagent-pb2-")
    files = [os.path.join("whagent/v1", f) for f in PROTO_FILES]
    subprocess.run(["protoc", "--proto_path", proto_dir, "--python_out", out] + files, check=True)
    sys.path.insert(0, out)
    return pb2("batch"), pb2("status")


def pb2(name):
    """A module compiled by load_protos: pb2("snapshot") is whagent/v1/snapshot.proto's."""
    return importlib.import_module("whagent.v1.%s_pb2" % name)


def control_pb2():
    """control.proto's module (SignedControl, PlatformAck, Command, CommandResult)."""
    return pb2("control")


def kind_name(kind):
    """EVENT_KIND_PICK for 1; the number itself for a kind this event.proto does not know."""
    kinds = pb2("event").EventKind
    return kinds.Name(kind) if kind in kinds.values() else str(kind)


def now_ms():
    return int(time.time() * 1000)


def log(*words):
    print("whagent_consumer:", *words, file=sys.stderr, flush=True)


# --- Protobuf wire format, for what must not be re-encoded ----------------------------------

def varint(buf, i):
    v, shift = 0, 0
    while True:
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        shift += 7
        if b < 0x80:
            return v, i


def wire_fields(buf):
    """(number, start, value start, end) of every top-level field of a message, undecoded."""
    i = 0
    while i < len(buf):
        start = i
        key, i = varint(buf, i)
        wt, value = key & 7, i
        if wt == 0:
            _, i = varint(buf, i)
        elif wt == 1:
            i += 8
        elif wt == 2:
            n, value = varint(buf, i)
            i = value + n
        elif wt == 5:
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield key >> 3, start, value, i


def without_fields(buf, drop):
    """The message's bytes without the top-level fields in drop (wire format, no re-encoding)."""
    return b"".join(buf[start:end] for number, start, _, end in wire_fields(buf) if number not in drop)


def field_values(buf, number):
    """The bytes of every occurrence of a length-delimited field: a batch's events exactly as
    the agent encoded them (much cheaper than re-serializing each)."""
    return [buf[value:end] for n, _, value, end in wire_fields(buf) if n == number]


class Verifier:
    """Checks sign_batches signatures: ECDSA P-256 / SHA-256 by the device key over the batch
    without fields 7 (signature) and 8 (key fingerprint)."""

    def __init__(self, cert_path):
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        self.ec, self.hashes = ec, hashes
        self.key = x509.load_pem_x509_certificate(open(cert_path, "rb").read()).public_key()
        der = self.key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        self.fingerprint = hashlib.sha256(der).digest()

    def check(self, payload, batch):
        if not batch.signature or batch.key_fingerprint != self.fingerprint:
            return False
        try:
            self.key.verify(batch.signature, without_fields(payload, {7, 8}), self.ec.ECDSA(self.hashes.SHA256()))
            return True
        except Exception:
            return False


class Tracker:
    """What this instance received, per journal: which seqs (a bitmap), duplicates, order."""

    def __init__(self):
        self.journals = {}
        self.received = 0
        self.batches = 0
        self.bad_batches = []
        self.statuses = []
        self.props_seen = {}
        self.kinds = {}
        self.signatures = {"verified": 0, "rejected": 0}

    def journal(self, jid):
        return self.journals.setdefault(jid, {"seen": bytearray(1024), "unique": 0, "dups": 0,
                                              "max": 0, "out_of_order": 0, "last_new": 0})

    def add(self, jid, seq):
        j = self.journal(jid)
        self.received += 1
        if seq >= len(j["seen"]):
            j["seen"].extend(bytearray(max(seq + 1 - len(j["seen"]), len(j["seen"]))))
        if j["seen"][seq]:
            j["dups"] += 1
            return False
        j["seen"][seq] = 1
        j["unique"] += 1
        if seq < j["last_new"]:
            j["out_of_order"] += 1
        j["last_new"] = seq
        j["max"] = max(j["max"], seq)
        return True

    def complete(self, first, last):
        return any(len(j["seen"]) > last and all(j["seen"][first:last + 1]) for j in self.journals.values())

    def summary(self):
        # gaps are reported from the lowest seq seen: a consumer that joined late has no gap
        out = {"received": self.received, "batches": self.batches, "bad_batches": self.bad_batches[:5],
               "signatures": self.signatures,
               "statuses": self.statuses, "properties": self.props_seen, "kinds": self.kinds,
               "journals": {}}
        for jid, j in self.journals.items():
            gaps, start = [], None
            low = j["seen"].find(1)
            for s in range(max(low, 1), j["max"] + 1):
                if not j["seen"][s] and start is None:
                    start = s
                elif j["seen"][s] and start is not None:
                    gaps.append([start, s - 1])
                    start = None
            out["journals"][jid] = {"unique": j["unique"], "duplicates": j["dups"], "max_seq": j["max"],
                                    "min_seq": low,
                                    "gaps": gaps[:20], "out_of_order": j["out_of_order"]}
        return out


class TopicStats:
    """Arrivals on one topic: batches, events, and latency (receipt - captured_at_ms) per event."""

    def __init__(self):
        self.batches = self.events = self.historical_batches = self.replay_batches = 0
        self.first_at_ms = self.last_at_ms = None
        self.latencies = array.array("q")

    def add(self, batch, received_ms, captured):
        """A batch received at received_ms whose events were captured at the times in captured."""
        self.batches += 1
        self.events += len(captured)
        self.historical_batches += bool(batch.historical)
        self.replay_batches += bool(batch.replay)
        self.first_at_ms = self.first_at_ms or received_ms
        self.last_at_ms = received_ms
        self.latencies.extend(received_ms - c for c in captured)

    def summary(self):
        lat = sorted(self.latencies)
        return {"batches": self.batches, "events": self.events,
                "historical_batches": self.historical_batches, "replay_batches": self.replay_batches,
                "first_at_ms": self.first_at_ms, "last_at_ms": self.last_at_ms,
                "max_latency_ms": lat[-1] if lat else None,
                "p50_latency_ms": lat[len(lat) // 2] if lat else None}


# --- The ledger -----------------------------------------------------------------------------

PICK, RECEIPT, ADJUSTMENT, TRANSFER, SHIPMENT = 1, 2, 3, 4, 5  # EventKind (event.proto)
ZERO_HASH = bytes(32)
NO_TOTAL = (0, 0, ZERO_HASH)


class Ledger:
    """On-hand balances and control totals moved by events given in seq order (the rules of
    agent/ledger.c). balances holds what changed since this object was made, so a store can
    add it to its rows; totals go on from the (count, qty_milli_sum, hash) per kind given."""

    def __init__(self, rules, totals=None):
        self.staging, self.ship_from_staging = rules  # [ledger] staging_location, shipment_from
        self.balances = defaultdict(int)  # (sku, location, lot, uom) -> milli
        self.totals = dict(totals or {})  # kind -> (count, qty_milli_sum, hash)

    def apply(self, kind, event_id, sku, lot, uom, q, location, destination):
        """One event. A kind the rules do not know changes nothing, as in the agent."""
        b = self.balances
        if kind == RECEIPT or kind == ADJUSTMENT:
            b[sku, location, lot, uom] += q
        elif kind == PICK:
            b[sku, location, lot, uom] -= q
            b[sku, destination or self.staging, lot, uom] += q
        elif kind == SHIPMENT:
            b[sku, location if location and not self.ship_from_staging else self.staging, lot, uom] -= q
        elif kind == TRANSFER:
            b[sku, location, lot, uom] -= q
            b[sku, destination, lot, uom] += q
        else:
            return
        count, total, h = self.totals.get(kind, NO_TOTAL)
        self.totals[kind] = (count + 1, total + q, hashlib.sha256(h + event_id).digest())


def shown(value):
    """A total's field for a message: a hash as its first 8 bytes in hex."""
    return value.hex()[:16] if isinstance(value, bytes) else str(value)


def compare_snapshot(pages, ledger):
    """What differs between a snapshot (its pages in order) and the ledger the platform
    recomputed from its events: (totals mismatches, balance mismatches), readable strings.
    A kind or balance missing on one side counts as zero there."""
    totals, balances = [], []
    for p in pages[1:]:
        if list(p.totals) != list(pages[0].totals):
            totals.append("page %d carries other totals than page 1" % p.page)
    theirs = {t.kind: (t.count, t.qty_milli_sum, t.hash) for t in pages[0].totals}
    for kind in sorted(set(theirs) | set(ledger.totals)):
        for what, x, y in zip(("count", "qty_milli_sum", "hash"), theirs.get(kind, NO_TOTAL),
                              ledger.totals.get(kind, NO_TOTAL)):
            if x != y:
                totals.append("%s %s: snapshot %s, platform %s" % (kind_name(kind), what, shown(x), shown(y)))
    rows = {(r.sku, r.location, r.lot, r.uom): r.on_hand_milli for p in pages for r in p.balances}
    held = sum(len(p.balances) for p in pages)
    if held != pages[0].balance_rows:
        balances.append("balance_rows is %d, the pages hold %d" % (pages[0].balance_rows, held))
    for key in sorted(set(rows) | set(ledger.balances)):
        x, y = rows.get(key, 0), ledger.balances.get(key, 0)
        if x != y:
            balances.append("sku=%s location=%s lot=%s uom=%s: snapshot %d, platform %d" % (key + (x, y)))
    return totals, balances


# --- The store ------------------------------------------------------------------------------

SCHEMA = """
-- every event once; the ledger columns decoded, payload = the Event as the agent encoded it
CREATE TABLE IF NOT EXISTS event(site TEXT, journal TEXT, seq INTEGER, kind INTEGER,
    event_id BLOB, sku TEXT, lot TEXT, uom TEXT, qty INTEGER, location TEXT, destination TEXT,
    captured_at_ms INTEGER, received_at_ms INTEGER, payload BLOB,
    PRIMARY KEY(site, journal, seq));
-- applied_through: every seq up to it is held and applied to balance and total.
-- published_through: the broker took every seq up to it (the agent's Status says so), so a
-- seq up to it that is not held was lost on the way: a hole even with nothing held after it.
-- wait_from_ms: since when applied_through + 1 is awaited while later seqs are held (or were
-- published), or when its replay was last asked for (NULL when nothing is awaited).
CREATE TABLE IF NOT EXISTS progress(site TEXT, journal TEXT, applied_through INTEGER,
    wait_from_ms INTEGER, published_through INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY(site, journal));
CREATE TABLE IF NOT EXISTS balance(site TEXT, journal TEXT, sku TEXT, location TEXT, lot TEXT,
    uom TEXT, on_hand INTEGER, PRIMARY KEY(site, journal, sku, location, lot, uom)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS total(site TEXT, journal TEXT, kind INTEGER, count INTEGER,
    qty INTEGER, hash BLOB, PRIMARY KEY(site, journal, kind)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS replay(site TEXT, journal TEXT, from_seq INTEGER, to_seq INTEGER,
    at_ms INTEGER, command_id TEXT, instance TEXT);
CREATE TABLE IF NOT EXISTS snapshot_page(site TEXT, journal TEXT, snapshot_id INTEGER,
    page INTEGER, payload BLOB, PRIMARY KEY(site, journal, snapshot_id, page));
-- a snapshot's header (from its first page stored) and, once checked, the verdict
CREATE TABLE IF NOT EXISTS snapshot(site TEXT, journal TEXT, snapshot_id INTEGER,
    as_of_seq INTEGER, pages INTEGER, balance_rows INTEGER, received_at_ms INTEGER,
    checked_at_ms INTEGER, checked_by TEXT, verifiable INTEGER, totals_match INTEGER,
    balances_match INTEGER, mismatches TEXT, PRIMARY KEY(site, journal, snapshot_id));
-- the last SignedControl counter per site and type (1 ack, 2 command), drawn in the
-- transaction that decides what is sent, so that instances' counters follow their acks
CREATE TABLE IF NOT EXISTS control_counter(site TEXT, type INTEGER, value INTEGER,
    PRIMARY KEY(site, type));
"""

EVENT_COLUMNS = "kind, event_id, sku, lot, uom, qty, location, destination"  # Ledger.apply's


class Store:
    """The platform's state in SQLite, shared by every instance that opens the same file:
    read-modify-write under BEGIN IMMEDIATE, WAL so readers do not wait."""

    def __init__(self, path, rules, start_seq, instance):
        self.rules, self.start_seq, self.instance = rules, start_seq, instance
        self.db = sqlite3.connect(path, timeout=60, isolation_level=None)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")  # an ack promises the events are kept
        self.db.executescript("BEGIN IMMEDIATE;" + SCHEMA + "COMMIT;")

    @contextlib.contextmanager
    def transaction(self):
        """A write transaction: other instances wait (up to the timeout) until it ends."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _counter(self, site, ctype):
        """The next SignedControl counter of site and type (in the caller's transaction): above
        every one drawn before, by any instance; microseconds since the epoch when that is more."""
        row = self.db.execute("SELECT value FROM control_counter WHERE site = ? AND type = ?", (site, ctype)).fetchone()
        value = max((row[0] if row else 0) + 1, time.time_ns() // 1000)
        self.db.execute("INSERT OR REPLACE INTO control_counter VALUES(?, ?, ?)", (site, ctype, value))
        return value

    def next_counter(self, site, ctype):
        with self.transaction():
            return self._counter(site, ctype)

    def add_events(self, site, journal, rows, received_ms):
        """Stores a batch's events (copies already held are ignored) and applies the ones now
        contiguous after applied_through. rows: (seq, kind, event_id, sku, lot, uom, qty,
        location, destination, captured_at_ms, payload). Returns (applied_through, whether it
        moved, whether any event was new, the counter for an ack of it: drawn in the same
        transaction, so a later counter never acks less)."""
        values = [(site, journal) + r[:10] + (received_ms, r[10]) for r in rows]
        with self.transaction():
            new = self.db.executemany("INSERT OR IGNORE INTO event VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                      values).rowcount > 0
            applied, wait_from = self._progress(site, journal)
            ledger = Ledger(self.rules, self._totals(site, journal))
            through, waiting = self._apply_contiguous(site, journal, applied, ledger)
            waiting = waiting or self._published(site, journal) > through
            if through > applied:
                self._save_ledger(site, journal, ledger)
            if not waiting:
                wait_from = None
            elif through > applied or wait_from is None:
                wait_from = received_ms  # a new seq is awaited from now on
            self.db.execute("UPDATE progress SET applied_through = ?, wait_from_ms = ? WHERE site = ? AND journal = ?",
                            (through, wait_from, site, journal))
            counter = self._counter(site, ACK)
        return through, through > applied, new, counter

    def _progress(self, site, journal):
        """(applied_through, wait_from_ms) of a journal; a new journal starts before start_seq."""
        self.db.execute("INSERT OR IGNORE INTO progress VALUES(?, ?, ?, NULL, 0)", (site, journal, self.start_seq - 1))
        return self.db.execute("SELECT applied_through, wait_from_ms FROM progress WHERE site = ? AND journal = ?",
                               (site, journal)).fetchone()

    def _published(self, site, journal):
        return self.db.execute("SELECT published_through FROM progress WHERE site = ? AND journal = ?",
                               (site, journal)).fetchone()[0]

    def note_published(self, site, journal, through, received_ms):
        """The agent's Status: the broker acknowledged every seq up to through. Seqs up to it
        not held are awaited from now on (a tail lost with nothing after it)."""
        with self.transaction():
            applied, wait_from = self._progress(site, journal)
            if through <= self._published(site, journal):
                return
            self.db.execute("UPDATE progress SET published_through = ?, wait_from_ms = ? WHERE site = ? AND journal = ?",
                            (through, wait_from if wait_from is not None or through <= applied else received_ms,
                             site, journal))

    def _totals(self, site, journal):
        return {kind: (count, qty, h) for kind, count, qty, h in self.db.execute(
            "SELECT kind, count, qty, hash FROM total WHERE site = ? AND journal = ?", (site, journal))}

    def _apply_contiguous(self, site, journal, applied, ledger):
        """Applies the held events applied+1, applied+2, ... up to the first seq missing.
        Returns (the last seq applied, whether a later seq is held: something is awaited)."""
        cur = self.db.execute("SELECT seq, %s FROM event WHERE site = ? AND journal = ? AND seq > ? ORDER BY seq"
                              % EVENT_COLUMNS, (site, journal, applied))
        waiting = False
        for row in cur:
            if row[0] != applied + 1:
                waiting = True
                break
            applied = row[0]
            ledger.apply(*row[1:])
        cur.close()
        return applied, waiting

    def _save_ledger(self, site, journal, ledger):
        """Adds the ledger's balance changes to the balance rows and replaces the totals."""
        self.db.executemany(
            "INSERT INTO balance VALUES(?, ?, ?, ?, ?, ?, ?) ON CONFLICT(site, journal, sku, location, lot, uom)"
            " DO UPDATE SET on_hand = on_hand + excluded.on_hand",
            [(site, journal) + key + (d,) for key, d in ledger.balances.items() if d])
        self.db.executemany("INSERT OR REPLACE INTO total VALUES(?, ?, ?, ?, ?, ?)",
                            [(site, journal, kind) + t for kind, t in ledger.totals.items()])

    def claim_replays(self, now, wait_ms, new_id):
        """The holes awaited for wait_ms or longer, as (site, journal, from, to, command id,
        counter),
        recorded as asked for now (so no instance asks again before another wait_ms).
        new_id(action) makes a command id."""
        due = "SELECT site, journal, applied_through FROM progress WHERE wait_from_ms <= ?"
        if self.db.execute(due + " LIMIT 1", (now - wait_ms,)).fetchone() is None:
            return []  # the common case, without taking the write lock
        claimed = []
        with self.transaction():
            for site, journal, applied in self.db.execute(due, (now - wait_ms,)).fetchall():
                (above,) = self.db.execute("SELECT min(seq) FROM event WHERE site = ? AND journal = ? AND seq > ?",
                                           (site, journal, applied)).fetchone()
                last = above - 1 if above is not None else self._published(site, journal)
                if last <= applied:
                    self.db.execute("UPDATE progress SET wait_from_ms = NULL WHERE site = ? AND journal = ?",
                                    (site, journal))
                    continue
                hole = (site, journal, applied + 1, last, new_id("replay"))
                self.db.execute("UPDATE progress SET wait_from_ms = ? WHERE site = ? AND journal = ?",
                                (now, site, journal))
                self.db.execute("INSERT INTO replay VALUES(?, ?, ?, ?, ?, ?, ?)",
                                hole[:4] + (now, hole[4], self.instance))
                claimed.append(hole + (self._counter(site, COMMAND),))
        return claimed

    def add_snapshot_page(self, snap, payload, received_ms):
        """Stores one page of a snapshot (a page already held is ignored)."""
        key = (snap.site_id, snap.journal_id, snap.snapshot_id)
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO snapshot_page VALUES(?, ?, ?, ?, ?)", key + (snap.page, payload))
            self.db.execute("INSERT OR IGNORE INTO snapshot (site, journal, snapshot_id, as_of_seq, pages,"
                            " balance_rows, received_at_ms) VALUES(?, ?, ?, ?, ?, ?, ?)",
                            key + (snap.as_of_seq, snap.pages, snap.balance_rows, received_ms))

    def check_snapshots(self, now):
        """Checks every snapshot that has all its pages and whose events are applied. Each is
        checked once over all instances: under the write lock, and marked checked in the same
        transaction. Returns [((site, journal, snapshot_id), verdict)] of those checked here."""
        ready = self.db.execute(
            "SELECT s.site, s.journal, s.snapshot_id FROM snapshot s JOIN progress p"
            " ON p.site = s.site AND p.journal = s.journal"
            " WHERE s.checked_at_ms IS NULL AND p.applied_through >= s.as_of_seq AND s.pages ="
            " (SELECT count(*) FROM snapshot_page g WHERE g.site = s.site AND g.journal = s.journal"
            "  AND g.snapshot_id = s.snapshot_id)").fetchall()
        checked = []
        for key in ready:
            with self.transaction():
                if self.db.execute("SELECT checked_at_ms FROM snapshot WHERE site = ? AND journal = ?"
                                   " AND snapshot_id = ?", key).fetchone()[0] is not None:
                    continue  # another instance was first
                verdict = self._verdict(*key)
                self.db.execute("UPDATE snapshot SET checked_at_ms = ?, checked_by = ?, verifiable = ?,"
                                " totals_match = ?, balances_match = ?, mismatches = ?"
                                " WHERE site = ? AND journal = ? AND snapshot_id = ?",
                                (now, self.instance, verdict["verifiable"], verdict.get("totals_match"),
                                 verdict.get("balances_match"), json.dumps(verdict.get("mismatches", [])))
                                + key)
            checked.append((key, verdict))
        return checked

    def _verdict(self, site, journal, snapshot_id):
        """Recomputes the snapshot's ledger from the stored events from_seq..as_of_seq and
        compares; verifiable is False when some of those events are not held here."""
        pages = []
        for (payload,) in self.db.execute("SELECT payload FROM snapshot_page WHERE site = ? AND journal = ?"
                                          " AND snapshot_id = ? ORDER BY page", (site, journal, snapshot_id)):
            pages.append(pb2("snapshot").Snapshot())
            pages[-1].ParseFromString(payload)
        as_of = pages[0].as_of_seq
        # The agent counts all kinds from the seq its ledger began at; no totals: nothing counted.
        first = max(1, min((t.from_seq for t in pages[0].totals), default=as_of + 1))
        (held,) = self.db.execute("SELECT count(*) FROM event WHERE site = ? AND journal = ? AND seq BETWEEN ? AND ?",
                                  (site, journal, first, as_of)).fetchone()
        if held < as_of + 1 - first:
            return {"verifiable": False}
        ledger = Ledger(self.rules)
        for row in self.db.execute("SELECT %s FROM event WHERE site = ? AND journal = ? AND seq BETWEEN ? AND ?"
                                   " ORDER BY seq" % EVENT_COLUMNS, (site, journal, first, as_of)):
            ledger.apply(*row)
        totals, balances = compare_snapshot(pages, ledger)
        return {"verifiable": True, "totals_match": not totals, "balances_match": not balances,
                "mismatches": (totals + balances)[:5]}

    def holds(self, first, last):
        """Whether every seq first..last of one journal is held. Every seq from the ledger's
        start through applied_through is, so only the seqs after it are counted (and only
        once last itself is held: counting is the expensive part)."""
        for site, journal, applied in self.db.execute("SELECT site, journal, applied_through FROM progress").fetchall():
            low = applied + 1 if self.start_seq <= first <= applied + 1 else first
            if low > last:
                return True
            held = "SELECT count(*) FROM event WHERE site = ? AND journal = ? AND seq BETWEEN ? AND ?"
            if (self.db.execute(held, (site, journal, last, last)).fetchone()[0]
                    and self.db.execute(held, (site, journal, low, last)).fetchone()[0] == last + 1 - low):
                return True
        return False

    def snapshots_checked(self):
        return self.db.execute("SELECT count(*) FROM snapshot WHERE checked_at_ms IS NOT NULL").fetchone()[0]

    def summary(self):
        """{"store", "replays", "snapshots"} of the summary: what all instances did."""
        journals = {}
        for site, journal, applied in self.db.execute("SELECT site, journal, applied_through FROM progress"):
            q = (site, journal)
            journals[journal] = {
                "site": site, "applied_through": applied,
                "held": self.db.execute("SELECT count(*) FROM event WHERE site = ? AND journal = ?", q).fetchone()[0],
                "balance_rows": self.db.execute("SELECT count(*) FROM balance WHERE site = ? AND journal = ?"
                                                " AND on_hand != 0", q).fetchone()[0],
                "totals": {kind_name(kind): {"count": count, "qty_milli_sum": qty} for kind, count, qty in
                           self.db.execute("SELECT kind, count, qty FROM total WHERE site = ? AND journal = ?"
                                           " ORDER BY kind", q)}}
        replays = [{"site": r[0], "journal": r[1], "from": r[2], "to": r[3], "at_ms": r[4], "id": r[5],
                    "by_me": r[6] == self.instance}
                   for r in self.db.execute("SELECT site, journal, from_seq, to_seq, at_ms, command_id, instance"
                                            " FROM replay ORDER BY at_ms LIMIT 20")]
        snapshots = [self._snapshot_summary(*r) for r in self.db.execute(
            "SELECT site, journal, snapshot_id, as_of_seq, pages, balance_rows, checked_at_ms, checked_by,"
            " verifiable, totals_match, balances_match, mismatches, (SELECT count(*) FROM snapshot_page g"
            " WHERE g.site = s.site AND g.journal = s.journal AND g.snapshot_id = s.snapshot_id)"
            " FROM snapshot s ORDER BY received_at_ms").fetchall()]
        return {"store": journals, "replays": replays, "snapshots": snapshots}

    def _snapshot_summary(self, site, journal, snapshot_id, as_of_seq, pages, balance_rows, checked_at_ms,
                          checked_by, verifiable, totals_match, balances_match, mismatches, pages_held):
        """A snapshot for the summary; verifiable, totals_match and balances_match are None
        until it is checked (the last two also when it was not verifiable)."""
        def verdict(v):
            return None if v is None else bool(v)
        return {"site": site, "journal": journal, "snapshot_id": snapshot_id, "as_of_seq": as_of_seq,
                "pages": pages, "pages_held": pages_held, "balance_rows": balance_rows,
                "checked": checked_at_ms is not None, "verifiable": verdict(verifiable),
                "totals_match": verdict(totals_match), "balances_match": verdict(balances_match),
                "mismatches": json.loads(mismatches or "[]"), "verified_by_me": checked_by == self.instance}


# --- The MQTT side --------------------------------------------------------------------------

ACK, COMMAND = 1, 2  # ControlType (control.proto)
LIFETIME_MS = 5 * 60 * 1000  # how long a control message stays valid


def canonical(site, journal, ctype, issued_ms, expires_ms, counter, body):
    """The bytes a SignedControl's signature covers (control.proto): a domain string, then
    every field length-prefixed or fixed-width, big-endian."""
    def lp(b):
        return struct.pack(">I", len(b)) + b
    return (b"whagent.v1.SignedControl\0" + lp(site.encode()) + lp(journal.encode()) +
            struct.pack(">IQQQ", ctype, issued_ms & (2**64 - 1), expires_ms & (2**64 - 1), counter) + lp(body))


class ControlSigner:
    """Wraps what the platform sends (PlatformAck, Command) in a SignedControl for one site:
    ECDSA P-256 / SHA-256 by the platform's key over canonical(); the counter grows per site
    and type (microseconds since the epoch, so a restarted platform still goes up). Without a
    key the signature is empty: only an agent with allow_unsigned_control = true takes that."""

    def __init__(self, key_path):
        self.key = self.key_id = None
        self.last = {}
        if key_path:
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            self.key = serialization.load_pem_private_key(open(key_path, "rb").read(), None)
            if not isinstance(self.key, ec.EllipticCurvePrivateKey) or self.key.curve.name != "secp256r1":
                raise SystemExit("%s: not an EC P-256 private key" % key_path)
            self.algorithm = ec.ECDSA(hashes.SHA256())
            der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo)
            self.key_id = hashlib.sha256(der).digest()

    def counter(self, site, ctype):
        c = max(self.last.get((site, ctype), 0) + 1, time.time_ns() // 1000)
        self.last[site, ctype] = c
        return c

    def wrap(self, site, journal, ctype, body, counter=None):
        """The SignedControl's bytes (and its counter: the one given, else the next of
        counter())."""
        issued = now_ms()
        sc = control_pb2().SignedControl(site_id=site, journal_id=journal, type=ctype, issued_at_ms=issued,
                                         expires_at_ms=issued + LIFETIME_MS,
                                         counter=counter or self.counter(site, ctype), body=body)
        if self.key:
            sc.signature = self.key.sign(canonical(site, journal, ctype, issued, sc.expires_at_ms, sc.counter, body),
                                         self.algorithm)
            sc.key_id = self.key_id
        return sc.SerializeToString(), sc.counter


class Commander:
    """Publishes Commands in SignedControls on PREFIX/SITE/cmd, and PlatformAcks on
    PREFIX/SITE/ack (see ControlSigner)."""

    def __init__(self, client, prefix, key_path):
        self.client, self.prefix = client, prefix
        self.signer = ControlSigner(key_path)
        self.ids = itertools.count(1)

    def new_id(self, action):
        """A command id (echoed in its result)."""
        return "%s-%d-%d-%d" % (action, os.getpid(), next(self.ids), now_ms())

    def send(self, site, command_id, action, from_seq=0, to_seq=0, journal="", counter=None):
        """action: replay (from_seq..to_seq of journal), snapshot, status, pause_capture,
        resume_capture."""
        pb = control_pb2()
        cmd = pb.Command(id=command_id, issued_at_ms=now_ms())
        if action == "replay":
            cmd.replay.from_seq, cmd.replay.to_seq = from_seq, to_seq
        else:
            getattr(cmd, action).SetInParent()
        raw, _ = self.signer.wrap(site, journal, COMMAND, cmd.SerializeToString(), counter)
        self.client.publish("%s/%s/cmd" % (self.prefix, site), raw, qos=1)

    def ack(self, site, journal, through, counter=None):
        body = control_pb2().PlatformAck(journal_id=journal, acked_through=through).SerializeToString()
        raw, _ = self.signer.wrap(site, journal, ACK, body, counter)
        self.client.publish("%s/%s/ack" % (self.prefix, site), raw, qos=1)


class Platform:
    """Subscriptions and message handling; this instance's view in a Tracker and TopicStats,
    the shared state in the Store. The backfill topic has an MQTT session of its own
    (backfill_client): a broker queues a session's messages in order, so on one session a new
    event would wait behind every backfill batch queued before it; the two sessions are served
    in turn."""

    def __init__(self, a, client, backfill_client, store):
        self.a, self.client, self.backfill_client, self.store = a, client, backfill_client, store
        self.batch_pb2, self.status_pb2 = pb2("batch"), pb2("status")
        self.tracker = Tracker()
        self.topics = {"events": TopicStats(), "backfill": TopicStats()}
        self.verifier = Verifier(a.verify_cert) if a.verify_cert else None
        self.events_out = open(a.events, "w") if a.events else None
        self.commander = Commander(client, a.prefix, a.command_key)
        self.acks_sent = 0
        self.pending_acks = {}  # (site, journal) -> (through, counter) not sent yet
        self.last_ack = {}  # (site, journal) -> when (monotonic) its last ack was sent
        self.command_results = []
        self.snapshot_asked = False
        self.subscribed = set()
        for c in (client, backfill_client):
            c.on_connect = self.on_connect
            c.on_subscribe = self.on_subscribe
            c.on_message = self.on_message

    def topic(self, name, shared):
        """PREFIX/SITE/name, as a shared subscription of --share's group when shared."""
        t = "%s/%s/%s" % (self.a.prefix, self.a.site, name)
        return "$share/%s/%s" % (self.a.share, t) if shared and self.a.share else t

    def on_connect(self, client, userdata, flags, rc, props=None):
        if client is self.backfill_client:
            client.subscribe([(self.topic("backfill", True), 1)])
            return
        client.subscribe([(self.topic("events", True), 1), (self.topic("snapshot", True), 1),
                          (self.topic("status", False), 1), (self.topic("cmd/result", False), 1)])

    def on_subscribe(self, client, userdata, mid, granted, props=None):
        self.subscribed.add(id(client))
        if self.a.ready and len(self.subscribed) == 2:
            open(self.a.ready, "w").close()

    def on_message(self, client, userdata, msg):
        received = now_ms()
        if msg.topic.endswith("/cmd/result"):
            self.on_result(msg)
        elif msg.topic.endswith("/status"):
            self.on_status(msg)
        elif msg.topic.endswith("/snapshot"):
            snap = pb2("snapshot").Snapshot()
            snap.ParseFromString(msg.payload)
            self.store.add_snapshot_page(snap, msg.payload, received)
        else:  # events or backfill
            self.on_batch(msg, msg.topic.rsplit("/", 1)[1], received)

    def on_status(self, msg):
        st = self.status_pb2.Status()
        st.ParseFromString(msg.payload)
        self.tracker.statuses.append({"state": self.status_pb2.AgentState.Name(st.state), "session": st.session,
                                      "retained": bool(msg.retain), "backlog": st.backlog,
                                      "acked_through": st.acked_through, "journal_id": st.journal_id})
        if st.journal_id and st.acked_through >= self.store.start_seq:
            self.store.note_published(st.site_id, st.journal_id, st.acked_through, now_ms())

    def on_result(self, msg):
        r = control_pb2().CommandResult()
        r.ParseFromString(msg.payload)
        log("command %s: %s %s" % (r.id, "ok" if r.ok else "refused", r.message))
        if len(self.command_results) < 20:
            self.command_results.append({"id": r.id, "ok": r.ok, "message": r.message,
                                         "replay_from": r.replay_from, "replay_to": r.replay_to})

    def on_batch(self, msg, topic, received):
        """An EventBatch from events or backfill: tracked, stored, applied, acknowledged."""
        t = self.tracker
        b = self.batch_pb2.EventBatch()
        b.ParseFromString(msg.payload)
        if self.a.dump_first and t.batches == 0:
            open(self.a.dump_first, "wb").write(msg.payload)
        t.batches += 1
        if self.verifier:
            if not self.verifier.check(msg.payload, b):
                t.signatures["rejected"] += 1
                return
            t.signatures["verified"] += 1
        props = getattr(msg, "properties", None)
        if props is not None and getattr(props, "UserProperty", None):
            t.props_seen = dict(props.UserProperty)
            t.props_seen["content_type"] = getattr(props, "ContentType", "")
        rows = self.decode(b, field_values(msg.payload, 5))
        self.topics[topic].add(b, received, [r[9] for r in rows])
        through, moved, new, counter = self.store.add_events(b.site_id, b.journal_id, rows, received)
        # Also when the batch held only copies: the agent sends again what it has no ack for.
        if self.a.ack and (moved or not new) and through >= self.store.start_seq:
            self.queue_ack(b.site_id, b.journal_id, through, counter)
        if [r[0] for r in rows] != list(range(b.first_seq, b.last_seq + 1)):
            t.bad_batches.append({"first_seq": b.first_seq, "last_seq": b.last_seq, "n": len(rows)})
        if self.a.snapshot_cmd and not self.snapshot_asked:
            self.snapshot_asked = True
            self.send(b.site_id, "snapshot", journal=b.journal_id)

    def decode(self, b, payloads):
        """The store's rows of a batch's events (see Store.add_events); tracks each event."""
        t, rows, kinds = self.tracker, [], Counter()
        for e, payload in zip(b.events, payloads):
            body = e.WhichOneof("body")
            m = getattr(e, body)
            h, item, q = m.header, m.item, m.quantity
            rows.append((h.seq, h.kind, h.event_id, item.sku, item.lot, q.uom, q.milli, m.location.bin,
                         m.destination.bin if body == "inventory" else "", h.captured_at_ms, payload))
            kinds[h.kind] += 1
            if t.add(b.journal_id, h.seq):
                if self.events_out:
                    self.events_out.write(json_format.MessageToJson(e, indent=None) + "\n")
                if self.a.follow:
                    print("%s %s seq %d %s txn %s sku %s %g %s at %s" % (
                        b.site_id, b.journal_id[:8], h.seq, kind_name(h.kind), h.source_key, item.sku,
                        q.milli / 1000, q.uom, m.location.bin), flush=True)
        if self.events_out:
            self.events_out.flush()  # a reader (tail -f, a test) sees each batch as it comes
        for kind, n in kinds.items():
            name = kind_name(kind)
            t.kinds[name] = t.kinds.get(name, 0) + n
        return rows

    def send(self, site, action, from_seq=0, to_seq=0, command_id=None, journal="", counter=None):
        """Sends a command to a site (logged; its result arrives on cmd/result)."""
        command_id = command_id or self.commander.new_id(action)
        log("asking %s for %s%s (command %s)" % (site, action, " %d-%d" % (from_seq, to_seq) if from_seq else "",
                                                 command_id))
        self.commander.send(site, command_id, action, from_seq, to_seq, journal,
                            counter or self.store.next_counter(site, COMMAND))

    def queue_ack(self, site, journal, through, counter):
        """Acks through (with its counter) now, or once ACK_INTERVAL_S has passed since the
        journal's last ack: a later ack (a later counter never acks less) replaces a waiting one."""
        key = (site, journal)
        waiting = self.pending_acks.get(key)
        if waiting is None or counter > waiting[1]:
            self.pending_acks[key] = (through, counter)
        self.flush_acks()

    def flush_acks(self, force=False):
        now = time.monotonic()
        for key, (through, counter) in list(self.pending_acks.items()):
            if force or now - self.last_ack.get(key, 0) >= ACK_INTERVAL_S:
                self.commander.ack(key[0], key[1], through, counter)
                self.acks_sent += 1
                self.last_ack[key] = now
                del self.pending_acks[key]

    def tick(self):
        """Periodic work on the store: acks that waited, replays of holes waited on too long,
        snapshots ready."""
        self.flush_acks()
        if self.a.replay_after:
            for site, journal, first, last, command_id, counter in self.store.claim_replays(
                    now_ms(), int(self.a.replay_after * 1000), self.commander.new_id):
                self.send(site, "replay", first, last, command_id, journal, counter)
        for (site, journal, snapshot_id), v in self.store.check_snapshots(now_ms()):
            log("snapshot %d of %s/%s: %s" % (
                snapshot_id, site, journal,
                "not verifiable (events missing)" if not v["verifiable"] else
                "matches" if v["totals_match"] and v["balances_match"] else "MISMATCH %s" % v["mismatches"]))

    def done(self):
        """Whether what --expect-last and --expect-snapshots ask for is there (False when
        neither is given: then only --timeout or SIGTERM end the run)."""
        a = self.a
        if not a.expect_last and not a.expect_snapshots:
            return False
        if a.expect_last:
            events = (self.store.holds(a.expect_first, a.expect_last) if a.store != ":memory:"
                      else self.tracker.complete(a.expect_first, a.expect_last))
            if not events:
                return False
        return self.store.snapshots_checked() >= a.expect_snapshots

    def summary(self):
        """The JSON summary: this instance's view, then the store's (all instances)."""
        out = self.tracker.summary()
        out["topics"] = {name: s.summary() for name, s in self.topics.items()}
        out["acks_sent"] = self.acks_sent
        out["command_results"] = self.command_results
        out["instance"] = self.store.instance
        out.update(self.store.summary())
        return out

    def close(self):
        if self.events_out:
            self.events_out.close()


def serve(clients, timeout):
    """Waits (at most timeout s) until a session has something to read, then gives each
    session a turn: a packet read, what is queued written. TLS may hold bytes already read
    from the socket: then there is no wait."""
    socks = [c.socket() for c in clients if c.socket() is not None]
    if not any(getattr(sock, "pending", lambda: 0)() for sock in socks):
        select.select(socks, [], [], timeout)
    for c in clients:
        c.loop(timeout=0)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=1883)
    ap.add_argument("--prefix", default="whagent/v1")
    ap.add_argument("--site", default="+")
    ap.add_argument("--cafile")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--proto", default=default_proto_dir(),
                    help="the .proto files (default: the source tree's, else the package's)")
    ap.add_argument("--expect-last", type=int, default=0, help="exit when seq FIRST..N are held")
    ap.add_argument("--expect-first", type=int, default=1)
    ap.add_argument("--expect-snapshots", type=int, default=0, metavar="K",
                    help="exit only once K snapshots were checked (in the store)")
    ap.add_argument("--timeout", type=float, default=0, help="exit after this many seconds")
    ap.add_argument("--events", help="write every decoded event as a JSON line to this file (flushed per batch)")
    ap.add_argument("--follow", action="store_true",
                    help="print one line per new event as it arrives: site, journal, seq, kind, txn, sku, quantity, bin")
    ap.add_argument("--ready", help="touch this file once subscribed")
    ap.add_argument("--verify-cert", help="device certificate: accept only batches it signed")
    ap.add_argument("--dump-first", help="write the first batch's raw bytes to this file")
    ap.add_argument("--ack", action="store_true",
                    help="publish PlatformAck on PREFIX/SITE/ack: every seq up to it is held and applied")
    ap.add_argument("--ack-from", type=int,
                    help="seqs below this are already held elsewhere (a consumer joining late): "
                         "the ledger starts here (default: --expect-first)")
    ap.add_argument("--store", default=":memory:",
                    help="SQLite file with the platform's state, shared by instances (default: in memory)")
    ap.add_argument("--share", metavar="GROUP",
                    help="take events, backfill and snapshots as MQTT shared subscription GROUP")
    ap.add_argument("--staging", default="STAGING",
                    help="the agent's staging location (picks without destination, shipments without bin)")
    ap.add_argument("--shipment-from", choices=("bin", "staging"), default="bin",
                    help="the agent's [ledger] shipment_from")
    ap.add_argument("--replay-after", type=float, default=0, metavar="SECONDS",
                    help="ask for a replay of a hole open this long (0: never)")
    ap.add_argument("--platform-key", "--command-key", metavar="PEM", dest="command_key",
                    help="the platform's EC P-256 private key: signs acks and commands (without it "
                         "they go unsigned, which only an agent with allow_unsigned_control takes)")
    ap.add_argument("--snapshot-cmd", action="store_true",
                    help="after the first batch, ask its site for a snapshot")
    a = ap.parse_args()

    load_protos(a.proto)
    instance = "%s-%d" % (socket.gethostname(), os.getpid())
    store = Store(a.store, (a.staging, a.shipment_from == "staging"), a.ack_from or a.expect_first, instance)
    clients = [mqtt.Client(client_id="whagent-consumer-%d%s" % (os.getpid(), suffix), protocol=mqtt.MQTTv5)
               for suffix in ("", "-backfill")]
    platform = Platform(a, clients[0], clients[1], store)
    for client in clients:
        if a.cafile:
            client.tls_set(ca_certs=a.cafile, certfile=a.cert, keyfile=a.key)
        client.connect(a.host, a.port, keepalive=30)
    deadline = time.monotonic() + a.timeout if a.timeout else None
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))  # summary, then exit
    next_tick = 0
    while not stop:
        serve(clients, 0.2)
        if time.monotonic() >= next_tick:
            platform.tick()
            next_tick = time.monotonic() + TICK_S
            if platform.done():
                break
        if deadline and time.monotonic() > deadline:
            break
    platform.flush_acks(force=True)
    for _ in range(5):  # statuses published together with the last batch; our last acks
        serve(clients, 0.1)
    for client in clients:
        client.disconnect()
    platform.close()
    print(json.dumps(platform.summary()))
    return 1 if (a.expect_last or a.expect_snapshots) and not platform.done() else 0


if __name__ == "__main__":
    sys.exit(main())
