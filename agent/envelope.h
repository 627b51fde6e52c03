/* The signed envelope of everything the central platform sends (whagent.v1.SignedControl,
 * proto/whagent/v1/control.proto): the platform keys (at most two, for rotation, pinned to
 * P-256), the canonical bytes they sign, and the checks, cheapest first: size, envelope,
 * type, site, journal, time window, counter, then the signature. The replay counter itself is
 * kept by the caller (in the journal). Loop thread only. */
#ifndef WHAGENT_ENVELOPE_H
#define WHAGENT_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define ENVELOPE_MAX_BYTES   8192 /* a larger control message is refused unread */
#define ENVELOPE_MAX_KEYS    2
#define ENVELOPE_MAX_LIFE_MS (24LL * 3600 * 1000) /* expires_at - issued_at at most */

enum envelope_type { ENVELOPE_ACK = 1, ENVELOPE_COMMAND = 2 }; /* = ControlType */

struct envelope_keys;

/* Reads the PEM EC P-256 public keys in files[0..n) (empty names are skipped). n = 0 (or only
 * empty names) makes an empty table. Caller frees with envelope_keys_free. WH_ERR_CONF with
 * why (naming the file) when one cannot be read or is not a P-256 key; WH_ERR_NOMEM. */
wh_err envelope_keys_new(const char *const *files, int n, struct envelope_keys **ret_k, char *why,
			 size_t whylen);
/* Accepts NULL. */
void envelope_keys_free(struct envelope_keys *k);
/* How many keys the table holds (0 for NULL). */
int envelope_keys_count(const struct envelope_keys *k);

/* What the agent expects of a message on one topic. */
struct envelope_expect {
	enum envelope_type type;
	const char *site_id;	/* borrowed */
	const char *journal_id; /* this journal's id, borrowed */
	int journal_required;	/* 1: the envelope must name this journal (acks) */
	int64_t now_ms;
	int64_t max_skew_ms;   /* clock skew tolerance */
	uint64_t last_counter; /* the last counter accepted of this type */
	int64_t not_before_ms; /* refused when issued before: the journal's first start with
				* control messages (its counters begin then); 0: none */
	int allow_unsigned; /* take a message without signature ([mqtt] allow_unsigned_control) */
};

/* An opened envelope. */
struct envelope {
	uint64_t counter;  /* set once the envelope decoded, also when refused */
	int named_journal; /* the envelope named this journal */
	int is_signed;	   /* verified with a key (0: taken unsigned) */
	uint8_t *body;	   /* owned: envelope_done */
	size_t body_len;
};

/* Decodes and checks a SignedControl against x and the keys (k may be NULL: none). WH_OK with
 * ret's body; WH_ERR_INVAL with why (text safe to log) when it is refused; WH_ERR_NOMEM.
 * Call envelope_done on ret in every case. */
wh_err envelope_open(const struct envelope_keys *k, const struct envelope_expect *x,
		     const void *buf, size_t len, struct envelope *ret, char *why, size_t whylen);
void envelope_done(struct envelope *e);

/* The canonical bytes signed (see control.proto). On success *ret_buf is new (wh_free). */
wh_err envelope_canonical(const char *site_id, const char *journal_id, enum envelope_type type,
			  int64_t issued_at_ms, int64_t expires_at_ms, uint64_t counter,
			  const void *body, size_t body_len, uint8_t **ret_buf, size_t *ret_len);

#endif
