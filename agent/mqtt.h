/* The uplink's MQTT session: one libmosquitto object per connection, driven from the agent's
 * loop through its external-loop calls; connecting with exponential backoff and jitter, TLS
 * and credentials, the will, the birth, heartbeat and death Status, subscriptions; the link's
 * state and the uplink's last error (for `whagent status`). mosquitto codes are translated
 * here only. Part of the uplink (uplink.h); loop thread only. */
#ifndef WHAGENT_MQTT_H
#define WHAGENT_MQTT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "log.h"

struct codec_status;
struct conf;
struct identity;
struct journal;
struct loop;
struct mqtt;
struct uplink_stats;

/* A message from the broker; valid during the callback only. */
struct mqtt_msg {
	const char *topic;
	const void *payload;
	size_t len;
	const void *props; /* its MQTT 5 properties, for mqtt_reply */
	int retained;	   /* sent from the broker's store, not live */
};

/* What the session tells its owner; every callback runs on the loop thread, the
 * message-related ones from inside libmosquitto's calls. */
struct mqtt_cb {
	/* The broker accepted the connection. The owner subscribes, sends the birth
	 * (mqtt_birth) and starts publishing. */
	void (*connected)(void *arg);
	/* The connection is gone and torn down: nothing in flight will be acknowledged. */
	void (*lost)(void *arg);
	/* The broker acknowledged message mid; refused: its reason, NULL when accepted. */
	void (*published)(void *arg, int mid, const char *refused);
	void (*message)(void *arg, const struct mqtt_msg *msg);
	/* Every heartbeat, after the Status went out. */
	void (*heartbeat)(void *arg);
	/* Fills the journal's part of a Status (last seq, watermarks, backlog). */
	void (*status)(void *arg, struct codec_status *cs);
	/* The link's state or the last error changed. */
	void (*changed)(void *arg);
	void *arg;
};

/* What to publish at QoS 1 (MQTT 5: with the content type and the site and journal as user
 * properties). */
struct mqtt_pub {
	const char *topic;
	const void *buf;
	size_t len;
	const char *content_type;
	uint64_t first_seq, last_seq; /* an EventBatch's range, as user properties; 0: none */
	const char *what; /* for the error ("a batch"); NULL: a failure is only returned */
};

/* Starts connecting to c's broker at once. c, j, l and id are borrowed (c until
 * mqtt_reconfigure; id is read at every Status); cb is copied. session is this start's
 * session number. Caller frees with mqtt_free. WH_ERR_NOMEM, WH_ERR_IO (the password file
 * cannot be read), with why saying what failed (for the caller to log). */
wh_err mqtt_new(const struct conf *c, struct journal *j, struct loop *l, const struct identity *id,
		uint64_t session, const struct mqtt_cb *cb, struct mqtt **ret_m, char *why,
		size_t whylen);
/* Disconnects at once (no death Status: the will says it). Accepts NULL. */
void mqtt_free(struct mqtt *m);
/* Takes a reloaded configuration (c borrowed); broker settings themselves need a restart. */
void mqtt_reconfigure(struct mqtt *m, const struct conf *c);
/* Reconnects now (a new client certificate): the connection is torn down before the next
 * poll. */
void mqtt_reconnect(struct mqtt *m, const char *why);

/* 1 while connected and not being torn down. */
int mqtt_connected(const struct mqtt *m);
/* Subscribes to topic at QoS 1 (from the connected callback: before the birth, so that
 * nothing sent in answer to it is missed); a failure is recorded as the last error. */
void mqtt_subscribe(struct mqtt *m, const char *topic);
/* Publishes the ONLINE Status (retained) and starts the heartbeat. */
void mqtt_birth(struct mqtt *m);
/* Publishes a Status now (online 1: ONLINE, 0: OFFLINE). Failures are logged. */
void mqtt_publish_status(struct mqtt *m, int online);
/* Publishes p; *ret_mid (may be NULL) is its message id. WH_ERR_IO when libmosquitto refused
 * it: with p->what set, that is recorded as the last error and the connection is torn down
 * before the next poll. */
wh_err mqtt_publish(struct mqtt *m, const struct mqtt_pub *p, int *ret_mid);
/* Answers a command on topic (never on a response topic the message names), echoing its MQTT 5
 * correlation data. Failures are not reported: the platform asks again. */
void mqtt_reply(struct mqtt *m, const struct mqtt_msg *in, const char *topic, const void *buf,
		size_t len);

/* Logs a failure of the uplink and records it, with its time, as its last error. */
void mqtt_record_error(struct mqtt *m, const char *fmt, ...) WH_PRINTF(2, 3);
/* Sending works (a batch was acknowledged): the last error no longer stands. */
void mqtt_link_ok(struct mqtt *m);

/* Graceful stop: no reconnecting from now on; a lost connection stops the loop. */
void mqtt_drain(struct mqtt *m);
/* Publishes the OFFLINE Status, disconnects (writing for a bounded time), link "stopped". */
void mqtt_shutdown(struct mqtt *m);

/* Fills ret's connection and link fields (connected, reconnects, link, last error). */
void mqtt_stats(const struct mqtt *m, struct uplink_stats *ret);

#endif
