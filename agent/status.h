/* The status document: `whagent status --json` and GET /v1/status give the same JSON. Its
 * journal part comes from the journal (read only); its live part (the MQTT link, the last
 * error, batches in flight, the backfill) from what the running agent publishes (livestate.h),
 * never from the journal's write path. */
#ifndef WHAGENT_STATUS_H
#define WHAGENT_STATUS_H

#include <stddef.h>
#include <stdint.h>

struct conf;
struct journal;
struct journal_stats;
struct livestate;

/* What only the running agent knows, and what it recorded in the journal's meta. */
struct status_live {
	int running;
	long pid;      /* the agent's, as recorded at its start; 0: none */
	char mqtt[32]; /* disabled, connecting, connected, disconnected, stopped */
	int64_t mqtt_since_ms;
	int64_t mqtt_down_since_ms; /* when the link last left connected; 0: up or unknown */
	int64_t last_connect_ms;
	char last_error[320];
	int64_t last_error_ms;
	int error_current; /* the last error still stands: no connection or ack since */
	int inflight;
	char journal_note[2048];   /* salvage report of the last start, if any */
	char journal_full[256];	   /* the bound the journal is at (budget, free space); "" */
	uint64_t backfill_through; /* a backfill lane drains up to it; 0: none */
	char acked_ranges[2048];   /* acknowledged above the watermark ("first-last,...") */
	char alarms[512];	   /* the running agent's active alarms, comma-separated */
	char inputs[320];	   /* its inputs failing now, with what their source said */
};

/* The one "in sync" answer. The backlog counts against the watermark that deletes: the
 * platform's acked_through with ack_mode = platform, the broker's otherwise. */
struct status_sync {
	const char *watermark;	 /* "platform" or "broker" */
	uint64_t through;	 /* that watermark */
	uint64_t backlog;	 /* last_seq - through */
	uint64_t broker_backlog; /* last_seq - the broker's watermark, in either mode */
	int64_t oldest_ms;	 /* captured_at of the oldest event past through; 0: none */
	/* "in sync"; "lagging" (an event waited longer than [metrics] lagging_after_s; since:
	 * when it was captured); "link down" (MQTT not connected; since: when it went);
	 * "no uplink" (no [mqtt] host); "stopped" (the agent does not run) */
	char state[16];
	int64_t since_ms; /* 0 for "in sync" and "no uplink" */
};

/* The sync state from the journal's figures st and the link (lv->mqtt, lv->mqtt_since_ms). */
void status_sync(const struct conf *c, const struct journal_stats *st, const struct status_live *lv,
		 struct status_sync *ret);

/* Why /healthz should answer 503 beyond the journal: the oldest unacknowledged event or the
 * link down longer than [input.http] healthz_max_unsent_s (0: never). Writes the reason
 * into buf and returns 1, or returns 0. */
int status_unhealthy(const struct conf *c, const struct status_sync *s, char *buf, size_t len);

/* The journal's part (read only): the agent's pid and whether it runs, the salvage report,
 * the acknowledged ranges. Zeroes lv first. */
void status_read_journal(struct journal *j, struct status_live *lv);
/* The live part from what the agent published (ls NULL: nothing yet), given lv->running and
 * lv->pid: "disabled" without [mqtt] host, "stopped" when the agent is not running (the last
 * connection and error as it left them). */
void status_set_link(const struct conf *c, const struct livestate *ls, struct status_live *lv);
/* For the CLI: both, reading the live-state file whose path the agent recorded in the
 * journal's meta (live_state_path) at its start. */
void status_read_live(const struct conf *c, struct journal *j, struct status_live *lv);

/* How the platform's control messages are taken, from c: "signed (1 platform key)",
 * "UNSIGNED TAKEN (allow_unsigned_control = true)", "refused (no platform key)", or
 * "none (no uplink)". Static text. */
const char *status_control(const struct conf *c);

/* The JSON document; caller frees with cJSON_free. NULL when memory runs out. */
char *status_json(const struct conf *c, const struct journal_stats *st,
		  const struct status_live *lv);
/* The same document as a cJSON object to add to (the agent adds its health); caller frees
 * with cJSON_Delete. */
struct cJSON;
struct cJSON *status_doc(const struct conf *c, const struct journal_stats *st,
			 const struct status_live *lv);
/* Seconds since since_ms (0 when since_ms is 0). */
int64_t status_age_s(int64_t since_ms);

#endif
