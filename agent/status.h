/* The status document: `whagent status --json` and GET /v1/status give the same JSON. */
#ifndef WHAGENT_STATUS_H
#define WHAGENT_STATUS_H

#include <stdint.h>

struct conf;
struct journal;
struct journal_stats;

/* What only the running agent knows (or recorded in the journal's meta for the CLI). */
struct status_live {
	int running;
	char mqtt[32]; /* disabled, connecting, connected, disconnected, stopped */
	int64_t last_connect_ms;
	char last_error[320];
	char journal_note[2048];   /* salvage report of the last start, if any */
	uint64_t backfill_through; /* a backfill lane drains up to it; 0: none */
	char acked_ranges[2048];   /* acknowledged above the watermark ("first-last,...") */
};

/* What the agent recorded in the journal's meta (its pid, MQTT state, last connection and
 * error); running is checked against the pid. */
void status_read_live(const struct conf *c, struct journal *j, struct status_live *lv);

/* The JSON document; caller frees with cJSON_free. NULL when memory runs out. */
char *status_json(const struct conf *c, const struct journal_stats *st,
		  const struct status_live *lv);
/* Seconds since since_ms (0 when since_ms is 0). */
int64_t status_age_s(int64_t since_ms);

#endif
