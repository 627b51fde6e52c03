/* The durable journal (store-and-forward) in SQLite: schema and migrations, gapless sequence
 * numbers, unique source keys, source cursors, quarantine, byte budget, bounded page reads,
 * acknowledgement watermark and pruning, and the ledger (on-hand balances and control totals,
 * updated in the event's transaction). One connection, used from the loop thread only.
 * Functions return WH_OK or an error code; journal_errmsg says what SQLite reported. */
#ifndef WHAGENT_JOURNAL_H
#define WHAGENT_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define JOURNAL_ID_LEN 32 /* hex digits */

struct journal;

struct journal_opts {
	int64_t max_bytes;     /* byte budget of the database; 0: none */
	int64_t reserve_bytes; /* free space kept on its file system */
	int sync_normal;       /* synchronous=NORMAL instead of FULL */
	int readonly;	       /* for `whagent status`: no migrations, no writes */
};

/* A change of one on-hand balance (ledger.h says which an event makes); borrowed strings. */
struct journal_delta {
	const char *sku, *location, *lot, *uom;
	int64_t milli;
};

/* An event to append; every pointer is borrowed for the call. */
struct journal_event {
	const char *source;
	const char *source_key;
	int kind;
	int64_t captured_at_ms;
	const uint8_t *payload; /* encoded with seq = journal_next_seq() */
	size_t len;
	/* For the ledger and the control totals (NULL event_id: neither is touched). */
	const uint8_t *event_id; /* JOURNAL_HASH_LEN bytes */
	int64_t qty_milli;
	const struct journal_delta *deltas;
	int ndeltas;
};

#define JOURNAL_KINDS	 6 /* control totals indexed by enum event_kind (1..5) */
#define JOURNAL_HASH_LEN 32

/* Control totals of one event kind: h(0) = zeros, h(n) = SHA-256(h(n-1) || event_id). */
struct journal_total {
	uint64_t count;
	int64_t qty_milli;
	uint8_t hash[JOURNAL_HASH_LEN];
};

/* What a snapshot holds besides its balance rows. */
struct journal_snapshot {
	uint64_t as_of_seq; /* balances and totals include exactly the events up to it */
	uint64_t from_seq;  /* the first seq the totals count */
	uint64_t rows;	    /* balance rows (those not zero) */
	struct journal_total totals[JOURNAL_KINDS];
};

/* A balance row of a snapshot; borrowed strings. */
struct journal_balance {
	const char *sku, *location, *lot, *uom;
	int64_t on_hand_milli;
	uint64_t last_seq;
};

/* A quarantined record; every pointer is borrowed. */
struct journal_quarantined {
	int64_t id; /* set by the journal */
	int64_t received_at_ms;
	const char *input;    /* "spool", "http", ... */
	const char *source;   /* the source name events of the input get */
	const char *position; /* where in the input: "orders.csv line 17" */
	const char *reason;
	const char *format;  /* "csv", "jsonl" */
	const char *context; /* CSV header line, or NULL */
	const void *raw;
	size_t raw_len;
};

struct journal_stats {
	char journal_id[JOURNAL_ID_LEN + 1];
	uint64_t session;
	uint64_t last_seq;		 /* 0: no event yet */
	uint64_t acked_through;		 /* the uplink's watermark (broker acknowledgements) */
	uint64_t platform_acked_through; /* what the central platform confirmed */
	uint64_t backlog;		 /* last_seq - acked_through */
	int64_t oldest_unsent_ms;	 /* captured_at of acked_through + 1, 0 if none */
	uint64_t quarantined;
	uint64_t duplicates;
	int64_t bytes; /* size of the database file */
};

/* Runs SQLite's quick_check on the journal at path (if it exists). WH_ERR_CORRUPT with the
 * first problem in why when it fails; WH_OK for a sound or missing file. */
wh_err journal_check(const char *path, char *why, size_t whylen);

/* A row read back from a damaged journal file. */
struct journal_salvaged {
	uint64_t seq;
	const char *source, *source_key;
	int kind;
	int64_t captured_at_ms;
	const uint8_t *payload;
	size_t len;
};

struct journal_salvage_counts {
	uint64_t events, quarantined; /* rows read */
	uint64_t acked_through;	      /* the damaged journal's watermark, 0 if unreadable */
	int read_errors;	      /* scans that stopped on damage */
};

/* Reads what can be read from the damaged journal file at path: events after its watermark,
 * in seq order (forwards, then backwards from the end past a damaged stretch), and the
 * quarantine. cb_event and cb_quarantine get borrowed rows. */
wh_err journal_salvage_read(const char *path,
			    wh_err (*cb_event)(const struct journal_salvaged *e, void *arg),
			    wh_err (*cb_quarantine)(const struct journal_quarantined *q, void *arg),
			    void *arg, struct journal_salvage_counts *ret);

/* Opens (creating and migrating unless readonly) the journal at path.
 * Caller closes with journal_close. WH_ERR_CORRUPT if the file is not a whagent journal or
 * was written by a newer version; *ret_j is still set so journal_errmsg can be read
 * (close it afterwards). */
wh_err journal_open(const char *path, const struct journal_opts *o, struct journal **ret_j);
void journal_close(struct journal *j);
/* What SQLite or the journal said about the last failure. */
const char *journal_errmsg(const struct journal *j);
const char *journal_id(const struct journal *j);

/* Changes the byte budget and free-space reserve (configuration reload). */
void journal_set_limits(struct journal *j, int64_t max_bytes, int64_t reserve_bytes);

/* Increments the persisted session number (every start of the agent). */
wh_err journal_start_session(struct journal *j, uint64_t *ret_session);

/* Starts a write transaction. WH_ERR_FULL when the budget or reserve is reached, WH_ERR_PAUSED
 * while capture is paused: nothing may be appended, and the input holds its source back
 * (back-pressure). */
wh_err journal_begin(struct journal *j);
/* Commits; on failure the transaction is rolled back. */
wh_err journal_commit(struct journal *j);
/* Commit latency histogram (seconds), Prometheus style: cumulative counts per upper bound. */
#define JOURNAL_LATENCY_BUCKETS 10
extern const double journal_latency_bounds[JOURNAL_LATENCY_BUCKETS];
struct journal_latency {
	uint64_t le[JOURNAL_LATENCY_BUCKETS]; /* commits that took <= bound */
	uint64_t count;
	double sum_s;
};
const struct journal_latency *journal_commit_latency(const struct journal *j);

/* cb is called after each commit that appended events (the uplink's cue). */
void journal_on_commit(struct journal *j, void (*cb)(void *arg), void *arg);
void journal_rollback(struct journal *j);

/* Inside a transaction: the seq the next new event gets. */
uint64_t journal_next_seq(const struct journal *j);
/* Appends ev. *ret_seq is its seq; if (source, source_key) is already journaled, nothing is
 * stored, *ret_dup is 1 and *ret_seq the original's seq. */
wh_err journal_append(struct journal *j, const struct journal_event *ev, uint64_t *ret_seq,
		      int *ret_dup);
wh_err journal_quarantine(struct journal *j, const struct journal_quarantined *q, int64_t *ret_id);

/* Source cursors, written in the same transaction as the events they cover. */
wh_err journal_cursor_get(struct journal *j, const char *name, char *buf, size_t len);
wh_err journal_cursor_set(struct journal *j, const char *name, const char *position);
wh_err journal_cursor_delete(struct journal *j, const char *name);
/* Calls cb for every cursor name (for clean-up of stale ones). */
wh_err journal_cursor_each(struct journal *j, void (*cb)(const char *name, void *arg), void *arg);

/* Reads events with seq > after_seq in order, at most max_events and (after the first) at most
 * max_bytes of payload; cb gets borrowed bytes. *ret_count is how many were read. */
typedef void (*journal_page_cb)(uint64_t seq, const uint8_t *payload, size_t len, void *arg);
wh_err journal_read_page(struct journal *j, uint64_t after_seq, int max_events, size_t max_bytes,
			 journal_page_cb cb, void *arg, int *ret_count);

/* Raises the acknowledged watermark to through (never lowers it, never past last_seq). */
wh_err journal_ack(struct journal *j, uint64_t through);
/* Deletes acknowledged events with seq <= through (clamped to the watermark). */
wh_err journal_prune(struct journal *j, uint64_t through, int64_t *ret_deleted);

/* The oldest seq still held, 0 when the journal holds no event. */
wh_err journal_first_seq(struct journal *j, uint64_t *ret_seq);

/* Pauses (or resumes) capture, persistently: while paused, journal_begin refuses with
 * WH_ERR_PAUSED, which inputs answer with back-pressure. */
wh_err journal_set_capture_paused(struct journal *j, int paused);

/* Raises the platform's watermark to through (never lowers it, never past last_seq). */
wh_err journal_platform_ack(struct journal *j, uint64_t through);

/* Deletes acknowledged events captured before cutoff_ms (the retention window), by seq range,
 * never past limit (the platform's watermark with ack_mode = platform, else UINT64_MAX), and
 * returns the freed pages to the file system. */
wh_err journal_prune_retained(struct journal *j, int64_t cutoff_ms, uint64_t limit,
			      int64_t *ret_deleted);

/* Adds the balance changes appended since the last fold into the ledger's rows, in key order
 * and in a transaction of its own (outside any other), when at least min_rows are waiting;
 * *ret_folded is how many were. Balances read the same before and after. */
wh_err journal_ledger_fold(struct journal *j, uint64_t min_rows, uint64_t *ret_folded);

/* Takes a consistent copy of the ledger (the balances not zero) and the control totals, for
 * reading in pages across loop turns while events keep being appended. Outside a transaction;
 * one snapshot at a time; end it with journal_snapshot_end. */
wh_err journal_snapshot_begin(struct journal *j, struct journal_snapshot *ret);
/* Reads up to max balance rows of the snapshot after row number after (0: from the start), in
 * (sku, location, lot, uom) order; *ret_last is the last row's number. */
wh_err journal_snapshot_page(struct journal *j, uint64_t after, int max,
			     void (*cb)(const struct journal_balance *b, void *arg), void *arg,
			     uint64_t *ret_last);
void journal_snapshot_end(struct journal *j);

/* Salvage: inside a transaction, adds the balances of the damaged journal at path (its ledger
 * already counts the events salvaged into this one) and starts the control totals at the next
 * seq. WH_ERR_CORRUPT when its ledger cannot be read (balances then restart at zero). */
wh_err journal_ledger_take(struct journal *j, const char *path, uint64_t *ret_rows);

/* Free-form state in meta (uplink state for `whagent status`): text values. */
wh_err journal_meta_get(struct journal *j, const char *key, char *buf, size_t len);
wh_err journal_meta_set(struct journal *j, const char *key, const char *value);

wh_err journal_stats(struct journal *j, struct journal_stats *ret);

/* Quarantine: cb gets borrowed fields; list omits raw. */
typedef void (*journal_quarantine_cb)(const struct journal_quarantined *q, void *arg);
wh_err journal_quarantine_list(struct journal *j, journal_quarantine_cb cb, void *arg);
wh_err journal_quarantine_get(struct journal *j, int64_t id, journal_quarantine_cb cb, void *arg);
/* Deletes quarantine entry id (inside or outside a transaction). */
wh_err journal_quarantine_delete(struct journal *j, int64_t id);

#endif
