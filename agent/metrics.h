/* Prometheus text exposition (format 0.0.4) of the agent's counters and gauges: served on
 * GET /metrics and written to a textfile for node_exporter. Runs on the loop thread. */
#ifndef WHAGENT_METRICS_H
#define WHAGENT_METRICS_H

#include <stddef.h>

#include "err.h"

struct conf;
struct health;
struct http;
struct intake;
struct journal;
struct table;
struct uplink;

#define METRICS_MAX_INPUTS 20 /* the spool and table inputs (8 each) and http */
#define METRICS_MAX_TABLES 8

/* Where the numbers come from; all borrowed, uplink and http may be NULL. */
struct metrics_src {
	const struct conf *conf;
	struct journal *journal;
	const struct intake *inputs[METRICS_MAX_INPUTS];
	int ninputs;
	const struct table *tables[METRICS_MAX_TABLES]; /* the table inputs, also in inputs */
	int ntables;
	const struct uplink *uplink;
	const struct http *http;
	const struct health *health; /* NULL: no alarm or clock figures */
};

/* The exposition text; caller frees with wh_free. NULL when memory or the journal fails. */
char *metrics_render(const struct metrics_src *m);
/* Writes text to path atomically (a temporary file renamed over it). */
wh_err metrics_write_textfile(const char *path, const char *text);

#endif
