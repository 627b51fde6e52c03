/* What the central platform asks of the uplink: signed commands (status, replay, snapshot,
 * pause and resume capture) answered on their response topic, platform acks (ack_mode =
 * platform: they bound pruning), replays (batches marked historical, with a window of their
 * own, beside the live window) and on-hand snapshots published in pages (on command and on a
 * schedule). Part of the uplink (uplink.h); loop thread only. */
#ifndef WHAGENT_CONTROL_H
#define WHAGENT_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct conf;
struct control;
struct journal;
struct loop;
struct mqtt;
struct mqtt_msg;
struct sender;
struct uplink_stats;

struct control_cb {
	void (*pump)(void *arg); /* publish what may go out now (the whole uplink) */
	void *arg;
};

/* c, j, l, m and sn are borrowed (c until control_reconfigure); cb is copied. Caller frees
 * with control_free. WH_ERR_CONF when command_pubkey cannot be read, WH_ERR_NOMEM, a journal
 * error; why says what failed (for the caller to log). */
wh_err control_new(const struct conf *c, struct journal *j, struct loop *l, struct mqtt *m,
		   struct sender *sn, const struct control_cb *cb, struct control **ret_ctl,
		   char *why, size_t whylen);
/* Accepts NULL. */
void control_free(struct control *ctl);
/* A reload: the snapshot schedule follows it. */
void control_reconfigure(struct control *ctl, const struct conf *c);

/* Connecting, before the birth: subscribes to commands (and to platform acks). */
void control_subscribe(struct control *ctl);
/* Connected: a scheduled snapshot that fell due while away starts. */
void control_connected(struct control *ctl);
/* The connection is gone: a replay goes on later from what was not acknowledged; a snapshot
 * being published is taken again, whole, on the next connection. */
void control_lost(struct control *ctl);

/* A message on a subscribed topic (a command or a PlatformAck); others are ignored. */
void control_message(struct control *ctl, const struct mqtt_msg *msg);
/* The broker acknowledged mid: 1 when it was a replay batch or a snapshot page. */
int control_published(struct control *ctl, int mid);
/* Publishes replay batches and snapshot pages while their windows and the rate allow. */
void control_pump(struct control *ctl);

/* ack_mode = platform: the platform's watermark. */
uint64_t control_platform_acked(const struct control *ctl);
/* Fills ret's snapshot count. */
void control_stats(const struct control *ctl, struct uplink_stats *ret);

#endif
