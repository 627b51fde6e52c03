/* Command envelope: SignedCommand {command bytes, signature}; checks in the order a person
 * would want them reported: malformed, unsigned or wrongly signed, stale, replayed. */
#include "command.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "crypto.h"
#include "mem.h"
#include "whagent/v1/control.pb-c.h"

#define SEEN_IDS 256

struct command_verifier {
	struct crypto_verifier *key; /* NULL: unsigned commands are taken */
	int64_t max_skew_ms;
	char seen[SEEN_IDS][64]; /* ids of recent commands, a ring */
	int next;
};

wh_err
command_verifier_new(const char *pubkey_file, int64_t max_skew_s, struct command_verifier **ret_v,
		     char *why, size_t whylen)
{
	struct command_verifier *v = wh_calloc(1, sizeof(*v));

	if (v == NULL) {
		snprintf(why, whylen, "out of memory");
		return WH_ERR_NOMEM;
	}
	v->max_skew_ms = max_skew_s * 1000;
	if (pubkey_file != NULL && pubkey_file[0] != '\0' &&
	    crypto_verifier_new(pubkey_file, &v->key, why, whylen) != 0) {
		wh_free(v);
		return WH_ERR_CONF;
	}
	*ret_v = v;
	return WH_OK;
}

void
command_verifier_free(struct command_verifier *v)
{
	if (v == NULL)
		return;
	crypto_verifier_free(v->key);
	wh_free(v);
}

static int
seen_before(struct command_verifier *v, const char *id)
{
	for (int i = 0; i < SEEN_IDS; i++)
		if (v->seen[i][0] != '\0' && strcmp(v->seen[i], id) == 0)
			return 1;
	snprintf(v->seen[v->next], sizeof(v->seen[0]), "%s", id);
	v->next = (v->next + 1) % SEEN_IDS;
	return 0;
}

static wh_err
fill(const Whagent__V1__Command *c, struct command *ret, char *why, size_t whylen)
{
	switch (c->action_case) {
	case WHAGENT__V1__COMMAND__ACTION_STATUS:
		ret->action = COMMAND_STATUS;
		break;
	case WHAGENT__V1__COMMAND__ACTION_SNAPSHOT:
		ret->action = COMMAND_SNAPSHOT;
		break;
	case WHAGENT__V1__COMMAND__ACTION_PAUSE_CAPTURE:
		ret->action = COMMAND_PAUSE_CAPTURE;
		break;
	case WHAGENT__V1__COMMAND__ACTION_RESUME_CAPTURE:
		ret->action = COMMAND_RESUME_CAPTURE;
		break;
	case WHAGENT__V1__COMMAND__ACTION_REPLAY:
		if (c->replay == NULL || c->replay->from_seq == 0 ||
		    c->replay->to_seq < c->replay->from_seq) {
			snprintf(why, whylen, "replay needs 1 <= from_seq <= to_seq");
			return WH_ERR_INVAL;
		}
		ret->action = COMMAND_REPLAY;
		ret->from_seq = c->replay->from_seq;
		ret->to_seq = c->replay->to_seq;
		break;
	default:
		snprintf(why, whylen, "unknown command");
		return WH_ERR_INVAL;
	}
	return WH_OK;
}

wh_err
command_parse(struct command_verifier *v, const void *buf, size_t len, int64_t now_ms,
	      struct command *ret, char *why, size_t whylen)
{
	struct codec_alloc a;
	Whagent__V1__SignedCommand *sc;
	Whagent__V1__Command *c = NULL;
	wh_err err = WH_ERR_INVAL;
	int64_t skew;

	memset(ret, 0, sizeof(*ret));
	codec_alloc_init(&a);
	sc = whagent__v1__signed_command__unpack(&a.pb, len, buf);
	if (sc == NULL ||
	    (c = whagent__v1__command__unpack(&a.pb, sc->command.len, sc->command.data)) == NULL) {
		if (a.oom)
			err = WH_ERR_NOMEM;
		snprintf(why, whylen, "%s",
			 a.oom ? "out of memory decoding the command"
			       : "not a whagent.v1.SignedCommand");
		goto out;
	}
	snprintf(ret->id, sizeof(ret->id), "%s", c->id ? c->id : "");
	if (v->key != NULL &&
	    (sc->signature.len == 0 || crypto_verify(v->key, sc->command.data, sc->command.len,
						     sc->signature.data, sc->signature.len) != 0)) {
		snprintf(why, whylen, "%s",
			 sc->signature.len ? "signature does not verify"
					   : "unsigned command refused");
		goto out;
	}
	skew = now_ms - c->issued_at_ms;
	if (v->key != NULL && (skew > v->max_skew_ms || -skew > v->max_skew_ms)) {
		snprintf(why, whylen,
			 "issued_at is %" PRId64 " s away from this clock (limit %" PRId64
			 " s): stale or replayed",
			 skew / 1000, v->max_skew_ms / 1000);
		goto out;
	}
	if (ret->id[0] == '\0') {
		snprintf(why, whylen, "command without an id");
		goto out;
	}
	if (v->key != NULL && seen_before(v, ret->id)) {
		snprintf(why, whylen, "command %s was already carried out (replayed)", ret->id);
		goto out;
	}
	err = fill(c, ret, why, whylen);
out:
	whagent__v1__command__free_unpacked(c, &a.pb);
	whagent__v1__signed_command__free_unpacked(sc, &a.pb);
	return err;
}

wh_err
command_result_encode(const char *id, int ok, const char *message, uint64_t replay_from,
		      uint64_t replay_to, uint8_t **ret_buf, size_t *ret_len)
{
	Whagent__V1__CommandResult r;
	uint8_t *buf;

	whagent__v1__command_result__init(&r);
	r.id = (char *)(uintptr_t)(id ? id : "");
	r.ok = ok != 0;
	r.message = (char *)(uintptr_t)(message ? message : "");
	r.replay_from = replay_from;
	r.replay_to = replay_to;
	*ret_len = whagent__v1__command_result__get_packed_size(&r);
	buf = wh_malloc(*ret_len ? *ret_len : 1);
	if (buf == NULL)
		return WH_ERR_NOMEM;
	whagent__v1__command_result__pack(&r, buf);
	*ret_buf = buf;
	return WH_OK;
}
