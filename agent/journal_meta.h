/* The journal's own state and figures: free-form meta values, the session number, the
 * capture pause, and the statistics that status, metrics and the uplink report. */
#ifndef WHAGENT_JOURNAL_META_H
#define WHAGENT_JOURNAL_META_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "journal.h"

/* Text values in meta. get: WH_ERR_NOTFOUND when key is absent. set: in the caller's
 * transaction or one of its own. */
wh_err journal_meta_get(struct journal *j, const char *key, char *buf, size_t len);
wh_err journal_meta_set(struct journal *j, const char *key, const char *value);

/* Increments the persisted session number (every start of the agent), full or not, and drops
 * meta keys of earlier versions that are no longer journal data. */
wh_err journal_start_session(struct journal *j, uint64_t *ret_session);

/* Pauses (or resumes) capture, persistently: while paused, APPEND transactions are refused
 * with WH_ERR_PAUSED, which inputs answer with back-pressure. */
wh_err journal_set_capture_paused(struct journal *j, int paused);

struct journal_stats {
	char journal_id[JOURNAL_ID_LEN + 1];
	uint64_t session;
	uint64_t last_seq;		 /* 0: no event yet */
	uint64_t acked_through;		 /* the uplink's watermark (broker acknowledgements) */
	uint64_t platform_acked_through; /* what the central platform confirmed */
	uint64_t backlog;		 /* last_seq - acked_through */
	int64_t oldest_unsent_ms;	 /* captured_at of acked_through + 1, 0 if none */
	int64_t oldest_unconfirmed_ms;	 /* captured_at of platform_acked_through + 1, 0 if none */
	uint64_t quarantined;
	uint64_t quarantine_evicted; /* the oldest records its bounds evicted, ever */
	uint64_t duplicates;
	int64_t bytes; /* size of the database file */
};

/* The figures, read together (they agree with each other). */
wh_err journal_stats(struct journal *j, struct journal_stats *ret);

#endif
