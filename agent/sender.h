/* What the uplink sends of the journal: unsent events in seq order, read in bounded pages into
 * EventBatches (signed with sign_batches), on the live and backfill lanes (lanes.h) with a
 * window of batches in flight and a byte rate; the acknowledged watermark, persisted at most
 * every SAVE_MS, and pruning of what is acknowledged and past retention. A batch that could
 * not be made or that the broker refused holds sending; after reconnect_min_ms it resumes from
 * the watermark (copies are possible there: at-least-once). Part of the uplink (uplink.h);
 * loop thread only. */
#ifndef WHAGENT_SENDER_H
#define WHAGENT_SENDER_H

#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "err.h"

struct conf;
struct identity;
struct journal;
struct loop;
struct mqtt;
struct sender;
struct uplink_stats;

struct sender_cb {
	void (*pump)(void *arg);    /* publish what may go out now (the whole uplink) */
	void (*changed)(void *arg); /* the backfill started or ended */
	void *arg;
};

/* Reads the watermark and the acknowledged ranges from j. c, j, l, m and id are borrowed (c
 * until sender_reconfigure); cb is copied. Caller frees with sender_free. WH_ERR_NOMEM, a
 * journal error, WH_ERR_INVAL (no timer left). */
wh_err sender_new(const struct conf *c, struct journal *j, struct loop *l, struct mqtt *m,
		  const struct identity *id, const struct sender_cb *cb, struct sender **ret_sn);
/* Accepts NULL. */
void sender_free(struct sender *sn);
/* Takes a reloaded configuration (c borrowed): the live lane's share, rate, linger, retention
 * and backfill age apply from now on; window and batch limits need a restart. */
void sender_reconfigure(struct sender *sn, const struct conf *c);

/* Connected: what was in flight is forgotten, sending starts again from the watermark. */
void sender_connected(struct sender *sn);
/* A backlog older than backfill_after_s drains on the backfill lane from now on. */
void sender_split(struct sender *sn);
/* Every heartbeat: events another process appended (quarantine requeue) are found here. */
void sender_heartbeat(struct sender *sn);
/* The connection is gone: the window is forgotten, the watermark persisted. */
void sender_lost(struct sender *sn);
/* New events were committed: they go out after linger_ms. */
void sender_notify(struct sender *sn);

/* Publishes batches while the window, the rate and the lanes allow. */
void sender_pump(struct sender *sn);
/* The broker acknowledged mid (refused: its reason). 1: a batch of the window, acknowledged;
 * -1: one refused (sending holds; nothing more may go out now); 0: not a batch of ours. */
int sender_published(struct sender *sn, int mid, const char *refused);

/* Reads up to max_events after seq `after` into a batch of that kind and publishes it on
 * topic: for replays, beside the window. Returns the events sent (*ret_mid, *ret_first and
 * *ret_last written), 0 when there are none, -1 on a failure (recorded as the last error;
 * sending holds, or the connection is torn down). */
int sender_send(struct sender *sn, uint64_t after, int max_events, enum codec_batch_kind kind,
		const char *topic, int *ret_mid, uint64_t *ret_first, uint64_t *ret_last);
/* max_bytes_per_s: 1 when something may go out now, else arms the timer that says when;
 * sender_spend counts what went out. */
int sender_rate_ok(struct sender *sn);
void sender_spend(struct sender *sn, size_t len);

/* ack_mode = platform: what the platform acknowledged may be pruned (soon). */
void sender_prune_through(struct sender *sn, uint64_t through);
/* Every seq up to it is acknowledged (in memory: persisted up to SAVE_MS later). */
uint64_t sender_acked_through(const struct sender *sn);
/* 1 when connected with every journaled event acknowledged. */
int sender_idle(const struct sender *sn);

/* Graceful stop, step 1: nothing new goes out; the loop stops once nothing is in flight. */
void sender_drain(struct sender *sn);
/* Step 2: persists the watermark (and says what is left unacknowledged). */
void sender_shutdown(struct sender *sn);

/* Fills ret's sending fields (batches, events, publish errors, watermark, window, lanes). */
void sender_stats(const struct sender *sn, struct uplink_stats *ret);

#endif
