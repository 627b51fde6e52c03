/* Requeue of a quarantined record: its raw bytes parsed again (a CSV line with the header
 * kept beside it, or a JSON object) and taken through its input's current mapping, as if it
 * arrived now; journaled (or found a duplicate) it leaves the quarantine, still invalid it
 * stays with the new reason. Shared by `whagent quarantine requeue` and the status page.
 * Opens its own journal transaction; loop thread (or the CLI's only thread). */
#ifndef WHAGENT_REQUEUE_H
#define WHAGENT_REQUEUE_H

#include <stdint.h>

#include "err.h"

struct conf;
struct journal;

enum requeue_result { REQUEUE_JOURNALED, REQUEUE_DUPLICATE, REQUEUE_INVALID };

struct requeue_outcome {
	enum requeue_result result;
	uint64_t seq;	  /* JOURNALED: its seq; DUPLICATE: the original's */
	char reason[320]; /* INVALID: why, now kept with the entry */
};

/* Requeues entry id under c. WH_OK with ret->result; WH_ERR_NOTFOUND (no such entry),
 * WH_ERR_NOMEM, journal errors (nothing changed; for INVALID, keeping the new reason
 * failed). */
wh_err requeue_entry(const struct conf *c, struct journal *j, int64_t id,
		     struct requeue_outcome *ret);

#endif
