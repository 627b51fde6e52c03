/* The uplink: publishes the journal over MQTT (libmosquitto driven from the agent's loop through
 * its external-loop calls), in seq order, as EventBatch messages at QoS 1 with a window of
 * batches in flight, an old backlog on a backfill lane beside the live one (lanes.h); advances
 * the acknowledged watermark contiguously on PUBACK, resends from it after a reconnect or
 * restart, prunes what is acknowledged (by the platform, with ack_mode = platform) and past
 * retention; answers commands; publishes birth, heartbeat and death Status messages and
 * on-hand snapshots. This header is its interface for the agent, metrics and the CLI; inside,
 * mqtt.h (the session), sender.h (what goes out) and control.h (what the platform asks) each
 * own their state. Runs on the loop thread. */
#ifndef WHAGENT_UPLINK_H
#define WHAGENT_UPLINK_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct conf;
struct journal;
struct loop;
struct uplink;

struct control_stats {	     /* the platform's control messages (control.c) */
	uint64_t accepted;   /* acks and commands taken */
	uint64_t refused;    /* refused: unsigned, forged, replayed, another site, ... */
	uint64_t acks_moved; /* accepted acks that moved the platform's watermark */
	int keys;	     /* platform keys in use */
	int unsigned_allowed;
};

struct uplink_stats {
	int connected;
	uint64_t batches, events, publish_errors, reconnects;
	uint64_t acked_through;
	uint64_t backfill_through; /* a backfill lane drains up to it; 0: none */
	uint64_t acked_above;	   /* events acknowledged above the watermark */
	uint64_t snapshots;	   /* snapshots published */
	struct control_stats control;
	int inflight;
	uint64_t acks;	    /* batches acknowledged by the broker */
	int64_t stalled_ms; /* batches in flight and none acknowledged for this long; 0: none */
	int has_client_cert;
	int cert_days_left;
	/* The link, for `whagent status` (live state, not journal data): */
	char link[16];		 /* disconnected, connecting, connected, stopped */
	int64_t link_since_ms;	 /* when link took that value */
	int64_t down_since_ms;	 /* when it last left connected (or the start); 0: connected */
	int64_t last_connect_ms; /* 0: not in this run */
	char last_error[320];	 /* "": none in this run */
	int64_t last_error_ms;
	int error_current; /* no connection made and no batch acknowledged since the error */
};

/* Starts connecting to c's broker. c, j and l are borrowed (c until uplink_reconfigure).
 * session is this start's session number. Caller frees with uplink_free. On failure why says
 * what went wrong (for the caller to log). */
wh_err uplink_new(const struct conf *c, struct journal *j, struct loop *l, uint64_t session,
		  struct uplink **ret_up, char *why, size_t whylen);
void uplink_free(struct uplink *up);
/* Takes a reloaded configuration (broker settings themselves need a restart). A replaced
 * client certificate or key is taken by reconnecting; batches in flight are resent from the
 * watermark, so nothing is lost. */
void uplink_reconfigure(struct uplink *up, const struct conf *c);
/* Before uplink_reconfigure: reads what a reload must be able to read (the platform keys).
 * WH_ERR_CONF with why: refuse the reload (nothing changed). */
wh_err uplink_prepare(struct uplink *up, const struct conf *c, char *why, size_t whylen);
/* New events were committed: publish them after linger_ms. */
void uplink_notify(struct uplink *up);

/* 1 when connected with every journaled event acknowledged (for `run --until-idle`). */
int uplink_idle(const struct uplink *up);

/* Tears the connection down and reconnects, recording why as the last error (an ack stall:
 * the broker takes publishes and acknowledges none). What was in flight is resent. */
void uplink_reconnect(struct uplink *up, const char *why);

/* fill(arg, cs) adds the agent's health (alarms, clock) to every Status published; arg is
 * borrowed. */
struct codec_status;
void uplink_on_status(struct uplink *up, void (*fill)(void *arg, struct codec_status *cs),
		      void *arg);

/* Graceful stop, step 1: publish nothing new; stops the loop once no batch is in flight.
 * Run the loop (with a deadline) after calling it. */
void uplink_drain(struct uplink *up);
/* Step 2: persists the watermark, publishes the OFFLINE status and disconnects. */
void uplink_shutdown(struct uplink *up);

void uplink_stats(const struct uplink *up, struct uplink_stats *ret);

/* cb(arg) is called (on the loop thread, never from inside uplink_stats) whenever the link,
 * the last error or the backfill changes; cb NULL: no longer. arg is borrowed. */
void uplink_on_change(struct uplink *up, void (*cb)(void *arg), void *arg);

#endif
