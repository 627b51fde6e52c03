/* Health that does not lie: the alarms (link down, ack stall, source silence inside operating
 * hours, clock not synchronised, clock jump, event times out of range, journal refusing
 * writes), the clock's quality (NTP flag, boot id, jumps of the wall clock against the
 * monotonic one) and the status page's history (a bounded ring of 1440 samples: backlog,
 * oldest unsent age, events) with events per minute by input and kind. Keeps no descriptor or
 * timer: the agent feeds it every second (health_tick). Loop thread only. */
#ifndef WHAGENT_HEALTH_H
#define WHAGENT_HEALTH_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"
#include "hours.h"

struct conf;
struct intake;
struct health;
struct cJSON;

#define HEALTH_HISTORY	  1440
#define HEALTH_MAX_INPUTS 20

enum health_alarm_kind {
	HEALTH_LINK_DOWN,
	HEALTH_ACK_STALL,
	HEALTH_CLOCK_UNSYNCED,
	HEALTH_CLOCK_JUMP,
	HEALTH_EVENT_TIME,
	HEALTH_JOURNAL,
	HEALTH_SILENCE /* one per input from here */
};

struct health_alarm {
	char name[48];	/* "ack_stall", "silence:spool", ... */
	char text[320]; /* what a person can act on */
	int64_t since_ms;
	int active;
};

/* What the agent knows every second. */
struct health_facts {
	int uplink;	    /* an uplink is configured */
	int connected;	    /* the MQTT session is up */
	int inflight;	    /* batches in flight */
	int64_t stalled_ms; /* in flight and none acknowledged for this long */
	uint64_t acks;	    /* batches acknowledged, ever */
	int64_t link_down_since_ms;
	uint64_t backlog;
	int64_t oldest_ms;	     /* captured_at of the oldest unacknowledged event; 0 none */
	const char *journal_refuses; /* why the journal takes no writes; NULL: it does */
};

/* c is borrowed until health_reconfigure. Caller frees with health_free. WH_ERR_NOMEM. */
wh_err health_new(const struct conf *c, struct health **ret_h);
void health_free(struct health *h);
void health_reconfigure(struct health *h, const struct conf *c);
/* The inputs to watch, in: borrowed; their silence settings come from c's section of the
 * input called in->input. Replaces the previous list. */
void health_set_inputs(struct health *h, const struct intake *const *in, int n);

/* Once a second. Returns 1 when an ack stall was detected now: the caller reconnects
 * (uplink_reconnect with health_stall_text). */
int health_tick(struct health *h, const struct health_facts *f);
const char *health_stall_text(const struct health *h);
/* 1 when the next health_tick takes a history sample: only then does it read backlog and
 * oldest_ms (the caller may skip reading the journal's figures otherwise). */
int health_sample_due(const struct health *h);

/* The clock check alone, for tests: wall and mono are two readings taken together. Returns 1
 * when the wall clock moved by more than clock_jump_ms against the monotonic one since the
 * previous call (delta in *ret_delta_ms). */
int health_clock_step(struct health *h, int64_t wall_ms, int64_t mono_ms, int64_t *ret_delta_ms);

/* Active alarms: the i-th of health_alarm_count (NULL past the end). */
int health_alarm_count(const struct health *h);
const struct health_alarm *health_alarm_at(const struct health *h, int i);
/* 1 when an alarm that makes /healthz answer 503 is active (ack stall, source silence),
 * with its text in buf. */
int health_unhealthy(const struct health *h, char *buf, size_t len);

struct health_clock {
	int synced; /* 1, 0, -1 unknown */
	char boot_id[40];
	uint64_t jumps;
	int64_t last_jump_ms, last_jump_delta_ms;
	uint64_t time_flagged; /* events with event_time out of range, since start */
};
void health_clock(const struct health *h, struct health_clock *ret);

/* Adds "alarms", "clock" and "inputs" to the status object o; with detail also "history"
 * (the chart's samples). 0, or WH_ERR_NOMEM. */
wh_err health_json(const struct health *h, struct cJSON *o, int detail);

#endif
