/* The path every input shares: raw record → field map → validation → journal append, or
 * quarantine with the raw bytes and a reason. Called inside a journal transaction. */
#ifndef WHAGENT_INTAKE_H
#define WHAGENT_INTAKE_H

#include <stdint.h>

#include "err.h"
#include "event.h"
#include "ledger.h"

struct journal;
struct record;

/* What an input took, counted when its transaction commits. */
struct intake_counts {
	uint64_t taken[EVENT_SHIPMENT + 1]; /* by enum event_kind */
	uint64_t duplicates;
	uint64_t unparsable;  /* quarantined: not even a record (CSV/JSON syntax, size) */
	uint64_t invalid;     /* quarantined: a record that failed validation */
	uint64_t time_ahead;  /* taken with an event_time later than ahead_ms past captured_at */
	uint64_t time_behind; /* taken with an event_time earlier than behind_ms before it */
};

struct intake {
	struct journal *journal;    /* borrowed */
	const char *input;	    /* "spool", "http": borrowed */
	const char *source;	    /* source name of the events: borrowed */
	struct ledger_rules ledger; /* borrows the configuration's strings */
	struct event_map map;
	struct intake_counts total;   /* committed, since start */
	struct intake_counts pending; /* in the open transaction */
	int64_t ahead_ms, behind_ms;  /* [health] event_time_ahead_s, _behind_s; 0: off */
	int64_t last_ms;	      /* when a record (any outcome) was last committed; 0 none */
	char last_position[160];      /* its position ("orders.csv line 17") */
	char pending_position[160];
};

/* Where a record came from and its raw bytes; borrowed for the call. */
struct intake_raw {
	const char *position; /* "orders.csv line 17" */
	const char *format;   /* "csv", "jsonl" */
	const char *context;  /* CSV header line, or NULL */
	const void *bytes;
	size_t len;
	size_t full_len; /* more than len: bytes is a prefix (SIZE_MAX: of unknown length) */
};

enum intake_result { INTAKE_TAKEN, INTAKE_DUPLICATE, INTAKE_QUARANTINED };

struct intake_outcome {
	enum intake_result result;
	uint64_t seq;	       /* TAKEN: its seq; DUPLICATE: the original's */
	int64_t quarantine_id; /* QUARANTINED */
	char reason[320];      /* QUARANTINED */
};

/* Validates r and appends it, or quarantines raw with the reason. fields as in
 * event_from_record. Errors are journal errors (the transaction should be rolled back); a bad
 * record is not an error. */
wh_err intake_record(struct intake *in, const struct record *r, const int *fields,
		     const struct intake_raw *raw, struct intake_outcome *ret);
/* Quarantines raw bytes that could not even be parsed into a record. */
wh_err intake_reject(struct intake *in, const struct intake_raw *raw, const char *reason,
		     struct intake_outcome *ret);

struct conf;

/* Takes the settings of input in->input from c: source (borrowed), ledger rules, the
 * event-time flags of [health] and the input's map (conf_input_map). */
void intake_configure(struct intake *in, const struct conf *c, const char *source);

/* The transaction committed: the pending counts become totals. */
void intake_committed(struct intake *in);
/* The transaction was rolled back: the pending counts are dropped. */
void intake_rolled_back(struct intake *in);

#endif
