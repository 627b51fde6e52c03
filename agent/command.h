/* Commands from the central platform (PREFIX/SITE/cmd): decoding and verification. With a
 * command_pubkey a command must carry a valid ECDSA P-256 signature by the central key, its
 * timestamp must lie within the skew window, and a command id seen before is refused (replayed
 * commands). Results are encoded here too. Runs on the loop thread. */
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

struct command_verifier;

/* pubkey_file: PEM public key of the central platform, or NULL/"" to take unsigned commands.
 * Caller frees with command_verifier_free. */
wh_err command_verifier_new(const char *pubkey_file, int64_t max_skew_s,
			    struct command_verifier **ret_v, char *why, size_t whylen);
void command_verifier_free(struct command_verifier *v);

/* Decodes and checks a whagent.v1.SignedCommand. WH_ERR_INVAL with a reason (which also goes
 * back to the platform) when it is malformed, unsigned, wrongly signed, stale or replayed;
 * WH_ERR_NOMEM (with a reason) when memory ran out decoding it; ret->id is set whenever the
 * command could be decoded. */
wh_err command_parse(struct command_verifier *v, const void *buf, size_t len, int64_t now_ms,
		     struct command *ret, char *why, size_t whylen);

/* Encodes a whagent.v1.CommandResult; caller frees *ret_buf with wh_free. */
wh_err command_result_encode(const char *id, int ok, const char *message, uint64_t replay_from,
			     uint64_t replay_to, uint8_t **ret_buf, size_t *ret_len);

#endif
