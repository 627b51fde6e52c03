/* Protobuf encoding of canonical events (whagent.v1.Event) with protobuf-c. */
#ifndef WHAGENT_CODEC_H
#define WHAGENT_CODEC_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

/* protobuf-c's allocator over agent/mem.h, for every *__unpack and its *__free_unpacked (pass
 * &a->pb to both), so that allocation-failure tests reach unpacking and an unpack that returned
 * NULL can tell running out of memory (a->oom set) from bytes that are not the message.
 * Embedded, one per decode; nothing to release. */
struct codec_alloc {
	ProtobufCAllocator pb;
	int oom; /* an allocation failed */
};

void codec_alloc_init(struct codec_alloc *a);

/* Encodes ev as a whagent.v1.Event carrying seq, captured_at_ms, source and id (event_id()).
 * On success *ret_buf is a new buffer of *ret_len bytes; caller frees with wh_free. The
 * capture's encoder (agent/codec_event.c), written out for this one message. */
wh_err codec_event_encode(const struct event *ev, const char *source,
			  const uint8_t id[EVENT_ID_LEN], uint64_t seq, int64_t captured_at_ms,
			  uint8_t **ret_buf, size_t *ret_len);
/* The same through protobuf-c's generated code: the reference codec_event_encode is tested
 * against, byte for byte (test_codec, fuzz_csv). */
wh_err codec_event_pack(const struct event *ev, const char *source, const uint8_t id[EVENT_ID_LEN],
			uint64_t seq, int64_t captured_at_ms, uint8_t **ret_buf, size_t *ret_len);

/* Re-encodes a stored whagent.v1.Event with another seq (salvage into a new journal).
 * On success *ret_buf is a new buffer; caller frees with wh_free. WH_ERR_CORRUPT if the bytes
 * are not an Event, WH_ERR_NOMEM when memory ran out (the bytes may be fine). */
wh_err codec_event_reseq(const uint8_t *event, size_t len, uint64_t seq, uint8_t **ret_buf,
			 size_t *ret_len);

/* An EventBatch under construction. The journal stores each event already encoded as a
 * whagent.v1.Event, so a batch is those bytes appended as EventBatch field 5 entries, followed by
 * the protobuf-c packed header fields (protobuf fields may come in any order): no event is
 * decoded and encoded again on the way out. */
struct codec_batch {
	uint8_t *buf;
	size_t len, cap;
	uint64_t first_seq, last_seq;
	int nevents;
};

/* Room for max_bytes of events plus the header. 0, or WH_ERR_NOMEM. */
wh_err codec_batch_init(struct codec_batch *b, size_t max_bytes);
void codec_batch_done(struct codec_batch *b);
void codec_batch_reset(struct codec_batch *b);
/* Appends one stored event; -1 (nothing appended) when it does not fit. */
int codec_batch_add(struct codec_batch *b, uint64_t seq, const uint8_t *event, size_t len);
/* What a batch is: new events, an old backlog draining beside them, or a replay asked for
 * by a command (the last two are marked historical). */
enum codec_batch_kind { CODEC_BATCH_LIVE, CODEC_BATCH_BACKFILL, CODEC_BATCH_REPLAY };

/* Appends the header; the batch's bytes are then b->buf[0..b->len). */
wh_err codec_batch_finish(struct codec_batch *b, const char *site_id, const char *journal_id,
			  enum codec_batch_kind kind);

/* Appends EventBatch fields 7 (signature) and 8 (key fingerprint) after codec_batch_finish:
 * the signature covers the batch's bytes as they were before. */
wh_err codec_batch_add_signature(struct codec_batch *b, const uint8_t *sig, size_t sig_len,
				 const uint8_t *fingerprint, size_t fp_len);

/* Decodes a whagent.v1.PlatformAck: journal_id (JOURNAL_ID_LEN + 1 bytes) and acked_through.
 * WH_ERR_INVAL if the bytes are not one or its journal id does not fit in id_len (so it is
 * not this journal's), WH_ERR_NOMEM when memory ran out. */
wh_err codec_platform_ack_decode(const void *buf, size_t len, char *journal_id, size_t id_len,
				 uint64_t *ret_through);

/* The fields of a stored whagent.v1.Event the status page shows (strings truncated). */
struct codec_event_summary {
	int kind; /* enum event_kind (the proto's EventKind), 0 unknown */
	int64_t event_time_ms, captured_at_ms;
	char source_key[96];
	char sku[96];
	int64_t qty_milli;
	char uom[16];
	char location[96];
};
/* Decodes event into *ret. WH_ERR_CORRUPT, WH_ERR_NOMEM. */
wh_err codec_event_summary(const uint8_t *event, size_t len, struct codec_event_summary *ret);

#define CODEC_STATUS_ALARMS 20

/* What a Status message says (birth, heartbeat, death). */
struct codec_status {
	const char *site_id;
	const char *journal_id;
	int online;
	uint64_t session;
	uint64_t last_seq, acked_through, backlog, quarantined;
	int64_t oldest_unsent_age_s;
	int64_t time_ms;
	int has_client_cert;
	int cert_days_left;
	uint64_t platform_acked_through;
	const char *sync_watermark; /* borrowed; NULL: "" */
	uint64_t broker_backlog;
	char sync_state[16];
	int64_t sync_since_ms;
	char last_error[320];
	int64_t last_error_ms;
	int last_error_current;
	int unsigned_control; /* allow_unsigned_control */
	/* health: alarms borrowed for the call */
	int nalarms;
	const char *alarm_name[CODEC_STATUS_ALARMS], *alarm_text[CODEC_STATUS_ALARMS];
	int64_t alarm_since_ms[CODEC_STATUS_ALARMS];
	int clock_synced; /* 1, 0, -1 unknown */
	const char *boot_id;
	uint64_t clock_jumps, event_time_flagged;
	int64_t mono_offset_ms;
};

/* Encodes st as a whagent.v1.Status into a new buffer; caller frees with wh_free. */
wh_err codec_status_encode(const struct codec_status *st, uint8_t **ret_buf, size_t *ret_len);

#endif
