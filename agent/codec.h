/* Protobuf encoding of canonical events (whagent.v1.Event) with protobuf-c. */
#ifndef WHAGENT_CODEC_H
#define WHAGENT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "event.h"

/* Encodes ev as a whagent.v1.Event carrying seq, captured_at_ms and source.
 * On success *ret_buf is a new buffer of *ret_len bytes; caller frees with wh_free. */
wh_err codec_event_encode(const struct event *ev, const char *source, uint64_t seq,
			  int64_t captured_at_ms, uint8_t **ret_buf, size_t *ret_len);

#endif
