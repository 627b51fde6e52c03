/* What the central platform asks of the uplink, each message inside a SignedControl checked by
 * envelope.h (its counter kept in the journal's meta): commands (status, replay, snapshot,
 * pause and resume capture) answered on PREFIX/SITE/cmd/result, platform acks (ack_mode =
 * platform: they bound pruning, never beyond the broker's watermark), replays (batches marked
 * historical, with a window of their own, beside the live window) and on-hand snapshots published
 * in pages (on command and on a schedule). Part of the uplink (uplink.h); loop thread only. */
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
 * with control_free. WH_ERR_CONF when a platform key cannot be read, WH_ERR_NOMEM, a journal
 * error; why says what failed (for the caller to log). */
wh_err control_new(const struct conf *c, struct journal *j, struct loop *l, struct mqtt *m,
		   struct sender *sn, const struct control_cb *cb, struct control **ret_ctl,
		   char *why, size_t whylen);
/* Accepts NULL. */
void control_free(struct control *ctl);
/* A reload, step 1: reads the platform keys c names. WH_ERR_CONF (why says which key and
 * why) when one cannot be read: the reload must then be refused, the running keys stay. */
wh_err control_prepare(struct control *ctl, const struct conf *c, char *why, size_t whylen);
/* Step 2: the keys read by control_prepare replace the running ones; the snapshot schedule
 * and the unsigned opt-in follow c. */
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
/* Fills ret's snapshot count and control figures. */
void control_stats(const struct control *ctl, struct uplink_stats *ret);

#endif
