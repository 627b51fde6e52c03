/* Inside the uplink (uplink.c: session, lanes, publishing; uplink_control.c: what the
 * platform asks of it, commands, acks and snapshots): its state and the helpers they share.
 * Not for other modules. Loop thread only. */
#ifndef WHAGENT_UPLINK_INT_H
#define WHAGENT_UPLINK_INT_H

#include <mosquitto.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "identity.h"
#include "lanes.h"
#include "log.h"
#include "loop.h"
#include "uplink.h"

#define SAVE_MS		   500 /* watermark persisted at most this often */
#define REPLAY_WINDOW	   8   /* replay batches in flight */
#define SNAPSHOT_WINDOW	   4   /* snapshot pages in flight */
#define CONTENT_TYPE_BATCH "application/x-protobuf;proto=whagent.v1.EventBatch"
#define CONTENT_TYPE_STAT  "application/x-protobuf;proto=whagent.v1.Status"
#define CONTENT_TYPE_SNAP  "application/x-protobuf;proto=whagent.v1.Snapshot"

enum state { UP_DISCONNECTED, UP_CONNECTING, UP_CONNECTED };

struct inflight {
	int mid;
	uint64_t first, last;
	enum lane lane;
};

struct uplink {
	const struct conf *conf;
	struct journal *journal;
	struct loop *loop;
	struct mosquitto *mosq;
	int fd;
	enum state state;
	int lost; /* set by callbacks: tear the session down after they return */
	int draining;
	int failed; /* a batch was refused: hold sending until the retry */
	uint64_t session;
	char topic_events[300], topic_backfill[300], topic_status[300], topic_ack[300],
		topic_cmd[300], topic_result[300], topic_snapshot[300];
	char *password;
	struct codec_batch batch;
	struct inflight *win; /* batches of both lanes in flight, in no particular order */
	int nwin;
	struct lanes lanes;		 /* what to send next; the watermark and acked ranges */
	uint64_t saved;			 /* watermark persisted */
	int ranges_dirty;		 /* acked ranges changed since persisted */
	uint64_t noted_backfill;	 /* backfill_through as last reported */
	uint64_t platform_acked;	 /* ack_mode = platform: the platform's watermark */
	int64_t drain_start_ms;		 /* when this connection started sending; 0: caught up */
	int caught_up;			 /* connected, nothing unsent, nothing in flight */
	uint64_t replay_next, replay_to; /* a replay being carried out; none: next > to */
	struct inflight replay_win[REPLAY_WINDOW];
	int nreplay;
	struct snapshot *snap; /* being published */
	int snap_mids[SNAPSHOT_WINDOW];
	int nsnap;
	int snap_due;	   /* take a scheduled snapshot once connected */
	int64_t tokens;	   /* max_bytes_per_s: bytes that may go out now (may be < 0) */
	int64_t tokens_ms; /* when they were counted */
	struct command_verifier *commands;
	uint64_t drain_from;
	int64_t backoff_ms;
	struct loop_timer connect_timer, linger_timer, status_timer, save_timer, retry_timer;
	struct loop_timer prune_timer, rate_timer, snapshot_timer;
	struct uplink_stats stats;
	char last_error[320];
	int64_t last_error_ms;
	int error_current; /* see uplink_stats */
	int attempt_error; /* an error was recorded since this connection attempt */
	const char *link;  /* see uplink_stats */
	int64_t link_since_ms, last_connect_ms;
	void (*on_change)(void *arg); /* uplink_on_change */
	void *change_arg;
	char lib_error[192]; /* libmosquitto's last error log line (OpenSSL's reason) */
	struct identity identity;
};

/* Publishes unsent events while the window and the rate allow, then replays and snapshots. */
void uplink_pump(struct uplink *up);
/* Logs a failure and records it for `whagent status`. */
void uplink_record_error(struct uplink *up, const char *fmt, ...) WH_PRINTF(2, 3);
/* MQTT 5 properties of a message (content type, site, journal; b's seq range if given);
 * NULL with MQTT 3.1.1. Caller frees with mosquitto_property_free_all. */
mosquitto_property *uplink_properties(struct uplink *up, const char *content_type,
				      const struct codec_batch *b);
void uplink_publish_status(struct uplink *up, int online);
/* max_bytes_per_s: 1 when something may go out now, else arms the timer that says when;
 * uplink_spend counts what went out. */
int uplink_rate_ok(struct uplink *up);
void uplink_spend(struct uplink *up, size_t len);

/* uplink_control.c */
/* mosquitto's message callback: commands and platform acks. */
void uplink_on_message(struct mosquitto *mosq, void *obj, const struct mosquitto_message *msg,
		       const mosquitto_property *p);
/* Takes a snapshot (command_id NULL when scheduled) and starts publishing it. 0, or -1 with
 * why set; why also says what was taken. */
int uplink_start_snapshot(struct uplink *up, const char *command_id, char *why, size_t whylen);
/* Publishes the pages of the snapshot being taken, a few in flight at a time. */
void uplink_pump_snapshot(struct uplink *up);
void uplink_on_snapshot_timer(void *arg);
/* On connecting: a scheduled snapshot that fell due while away. */
void uplink_snapshot_if_due(struct uplink *up);

#endif
