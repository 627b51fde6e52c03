/* Commands from the central platform (PREFIX/SITE/cmd): the body of a SignedControl (its
 * signature, site, time and counter are checked by envelope.h first), decoded here; results
 * are encoded here too. Runs on the loop thread. */
#ifndef WHAGENT_COMMAND_H
#define WHAGENT_COMMAND_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

enum command_action {
	COMMAND_STATUS,
	COMMAND_REPLAY,
	COMMAND_SNAPSHOT,
	COMMAND_PAUSE_CAPTURE,
	COMMAND_RESUME_CAPTURE
};

struct command {
	char id[64];
	enum command_action action;
	uint64_t from_seq, to_seq; /* replay */
};

/* Decodes a whagent.v1.Command: the body of a SignedControl that envelope_open accepted.
 * WH_ERR_INVAL with a reason (which also goes back to the platform) when it is malformed or
 * unknown; WH_ERR_NOMEM (with a reason). ret->id is set whenever the command decoded. */
wh_err command_parse(const void *buf, size_t len, struct command *ret, char *why, size_t whylen);

/* Encodes a whagent.v1.CommandResult; caller frees *ret_buf with wh_free. */
wh_err command_result_encode(const char *id, uint64_t counter, int ok, const char *message,
			     uint64_t replay_from, uint64_t replay_to, uint8_t **ret_buf,
			     size_t *ret_len);

#endif
