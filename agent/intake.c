/* Record intake: validation, encoding with the next seq, append or quarantine. */
#include "intake.h"

#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "conf.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_quarantine.h"
#include "mem.h"
#include "platform.h"
#include "record.h"

static wh_err quarantine(struct intake *in, const struct intake_raw *raw, const char *reason,
			 struct intake_outcome *ret);

/* The position of the transaction's latest record, for the status page (cheap: per record). */
static void
keep_position(struct intake *in, const char *position)
{
	size_t n = position ? strnlen(position, sizeof(in->pending_position) - 1) : 0;

	memcpy(in->pending_position, position ? position : "", n);
	in->pending_position[n] = '\0';
}

wh_err
intake_reject(struct intake *in, const struct intake_raw *raw, const char *reason,
	      struct intake_outcome *ret)
{
	wh_err err = quarantine(in, raw, reason, ret);

	if (err == WH_OK)
		in->pending.unparsable++;
	return err;
}

void
intake_configure(struct intake *in, const struct conf *c, const char *source)
{
	in->source = source;
	in->ledger = conf_ledger_rules(c);
	in->ahead_ms = (int64_t)c->health.event_time_ahead_s * 1000;
	in->behind_ms = (int64_t)c->health.event_time_behind_s * 1000;
	conf_input_map(c, in->input, &in->map);
}

void
intake_committed(struct intake *in)
{
	struct intake_counts *t = &in->total, *p = &in->pending;

	for (int k = 0; k <= EVENT_SHIPMENT; k++)
		t->taken[k] += p->taken[k];
	t->duplicates += p->duplicates;
	t->unparsable += p->unparsable;
	t->invalid += p->invalid;
	t->time_ahead += p->time_ahead;
	t->time_behind += p->time_behind;
	if (in->pending_position[0] != '\0') {
		in->last_ms = platform_now_ms();
		memcpy(in->last_position, in->pending_position, sizeof(in->last_position));
		in->pending_position[0] = '\0';
	}
	memset(p, 0, sizeof(*p));
}

void
intake_rolled_back(struct intake *in)
{
	memset(&in->pending, 0, sizeof(in->pending));
	in->pending_position[0] = '\0';
}

static wh_err
quarantine(struct intake *in, const struct intake_raw *raw, const char *reason,
	   struct intake_outcome *ret)
{
	struct journal_quarantined q = {
		.received_at_ms = platform_now_ms(),
		.input = in->input,
		.source = in->source,
		.position = raw->position,
		.reason = reason,
		.format = raw->format,
		.context = raw->context,
		.raw = raw->bytes,
		.raw_len = raw->len,
		.raw_full_len = raw->full_len,
	};
	wh_err err;

	keep_position(in, raw->position);
	if (reason != ret->reason)
		snprintf(ret->reason, sizeof(ret->reason), "%s", reason);
	err = journal_quarantine(in->journal, &q, &ret->quarantine_id);
	if (err == WH_OK)
		ret->result = INTAKE_QUARANTINED;
	return err;
}

wh_err
intake_record(struct intake *in, const struct record *r, const int *fields,
	      const struct intake_raw *raw, struct intake_outcome *ret)
{
	struct event ev;
	struct journal_event je;
	struct ledger_delta deltas[LEDGER_MAX_DELTAS];
	uint8_t id[EVENT_ID_LEN], *payload = NULL;
	int dup = 0;
	wh_err err;

	if (event_from_record(&in->map, r, fields, &ev, ret->reason, sizeof(ret->reason)) !=
	    WH_OK) {
		err = quarantine(in, raw, ret->reason, ret);
		if (err == WH_OK)
			in->pending.invalid++;
		return err;
	}
	event_id(in->source, ev.f[EF_TXN_ID], id);
	je = (struct journal_event){.source = in->source,
				    .source_key = ev.f[EF_TXN_ID],
				    .kind = (int)ev.kind,
				    .captured_at_ms = platform_now_ms(),
				    .event_id = id,
				    .qty_milli = ev.qty_milli,
				    .deltas = deltas,
				    .ndeltas = ledger_deltas(&ev, &in->ledger, deltas)};
	err = codec_event_encode(&ev, in->source, id, journal_next_seq(in->journal),
				 je.captured_at_ms, &payload, &je.len);
	if (err != WH_OK)
		return err;
	je.payload = payload;
	err = journal_append(in->journal, &je, &ret->seq, &dup);
	wh_free(payload);
	if (err != WH_OK)
		return err;
	ret->result = dup ? INTAKE_DUPLICATE : INTAKE_TAKEN;
	keep_position(in, raw->position);
	if (dup) {
		in->pending.duplicates++;
	} else {
		in->pending.taken[ev.kind]++;
		/* flagged, not refused: the WMS's clock, or a backlog, may be behind this */
		if (in->ahead_ms > 0 && ev.event_time_ms - je.captured_at_ms > in->ahead_ms)
			in->pending.time_ahead++;
		if (in->behind_ms > 0 && je.captured_at_ms - ev.event_time_ms > in->behind_ms)
			in->pending.time_behind++;
	}
	return WH_OK;
}
