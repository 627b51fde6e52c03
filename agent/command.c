/* Commands: the body of a SignedControl once envelope.c has checked it, decoded into a
 * struct command; and the CommandResult. */
#include "command.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "mem.h"
#include "whagent/v1/control.pb-c.h"

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
command_parse(const void *buf, size_t len, struct command *ret, char *why, size_t whylen)
{
	struct codec_alloc a;
	Whagent__V1__Command *c;
	wh_err err = WH_ERR_INVAL;

	memset(ret, 0, sizeof(*ret));
	codec_alloc_init(&a);
	if ((c = whagent__v1__command__unpack(&a.pb, len, buf)) == NULL) {
		if (a.oom)
			err = WH_ERR_NOMEM;
		snprintf(why, whylen, "%s",
			 a.oom ? "out of memory decoding the command" : "not a whagent.v1.Command");
		goto out;
	}
	snprintf(ret->id, sizeof(ret->id), "%s", c->id ? c->id : "");
	err = fill(c, ret, why, whylen);
out:
	whagent__v1__command__free_unpacked(c, &a.pb);
	return err;
}

wh_err
command_result_encode(const char *id, uint64_t counter, int ok, const char *message,
		      uint64_t replay_from, uint64_t replay_to, uint8_t **ret_buf, size_t *ret_len)
{
	Whagent__V1__CommandResult r;
	uint8_t *buf;

	whagent__v1__command_result__init(&r);
	r.id = (char *)(uintptr_t)(id ? id : "");
	r.ok = ok != 0;
	r.message = (char *)(uintptr_t)(message ? message : "");
	r.replay_from = replay_from;
	r.replay_to = replay_to;
	r.counter = counter;
	*ret_len = whagent__v1__command_result__get_packed_size(&r);
	buf = wh_malloc(*ret_len ? *ret_len : 1);
	if (buf == NULL)
		return WH_ERR_NOMEM;
	whagent__v1__command_result__pack(&r, buf);
	*ret_buf = buf;
	return WH_OK;
}
