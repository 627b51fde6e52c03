/* Requeue: the quarantined record held, parsed again, taken through intake in a transaction
 * of its own, and deleted from the quarantine in the same transaction. */
#include "requeue.h"

#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "csv.h"
#include "intake.h"
#include "journal.h"
#include "journal_quarantine.h"
#include "mem.h"
#include "record.h"

/* What requeue needs of a quarantined record, copied out of the statement. */
struct held {
	int found;
	char *input, *source, *position, *format, *context;
	char *raw;
	size_t raw_len, raw_full_len;
};

static void
hold_entry(const struct journal_quarantined *q, void *arg)
{
	struct held *h = arg;

	h->found = 1;
	h->input = wh_strdup(q->input);
	h->source = wh_strdup(q->source);
	h->position = wh_strdup(q->position);
	h->format = wh_strdup(q->format);
	h->context = wh_strdup(q->context);
	h->raw = wh_strndup(q->raw, q->raw_len);
	h->raw_len = q->raw_len;
	h->raw_full_len = q->raw_full_len;
}

static void
held_free(struct held *h)
{
	wh_free(h->input);
	wh_free(h->source);
	wh_free(h->position);
	wh_free(h->format);
	wh_free(h->context);
	wh_free(h->raw);
}

/* Parses the held raw bytes into r again: a CSV line with its header, or a JSON object.
 * r borrows from hdr and row, which the caller frees with csv_row_done. */
static wh_err
reparse(const struct held *h, char delim, struct csv_row *hdr, struct csv_row *row,
	struct record *r, char *why, size_t whylen)
{
	const char *pwhy = NULL;
	size_t used;

	if (strcmp(h->format, "csv") != 0)
		return record_from_json(r, h->raw, h->raw_len, why, whylen);
	if (h->context == NULL) {
		snprintf(why, whylen, "no header row kept with the record");
		return WH_ERR_INVAL;
	}
	if (csv_row_init(hdr, strlen(h->context)) != 0 || csv_row_init(row, h->raw_len) != 0)
		return WH_ERR_NOMEM;
	if (csv_parse(hdr, h->context, strlen(h->context), 1, delim, &used, &pwhy) != CSV_ROW) {
		snprintf(why, whylen, "header row: %s", pwhy ? pwhy : "empty");
		return WH_ERR_INVAL;
	}
	if (csv_parse(row, h->raw, h->raw_len, 1, delim, &used, &pwhy) != CSV_ROW) {
		snprintf(why, whylen, "%s", pwhy ? pwhy : "empty record");
		return WH_ERR_INVAL;
	}
	return record_from_csv(r, hdr, row, why, whylen);
}

wh_err
requeue_entry(const struct conf *c, struct journal *j, int64_t id, struct requeue_outcome *ret)
{
	struct intake in = {.journal = j, .ledger = conf_ledger_rules(c)};
	const struct conf_spool *sp;
	struct intake_outcome out = {0};
	struct intake_raw raw = {0};
	struct held h = {0};
	struct csv_row hdr = {0}, row = {0};
	struct record *r = wh_malloc(sizeof(*r));
	wh_err err = WH_ERR_NOMEM;

	memset(ret, 0, sizeof(*ret));
	if (r == NULL)
		return WH_ERR_NOMEM;
	record_init(r);
	if ((err = journal_quarantine_get(j, id, hold_entry, &h)) != WH_OK)
		goto out;
	if (h.raw == NULL || h.format == NULL) {
		err = WH_ERR_NOMEM;
		goto out;
	}
	if (h.raw_full_len > h.raw_len) { /* the entry keeps its reason */
		ret->result = REQUEUE_INVALID;
		snprintf(ret->reason, sizeof(ret->reason),
			 "only the first %zu bytes of it were kept: it cannot be taken again; have "
			 "the WMS send it again",
			 h.raw_len);
		err = WH_OK;
		goto out;
	}
	/* the mapping of the input the record came through */
	in.input = h.input;
	conf_input_map(c, h.input, &in.map);
	sp = conf_spool_find(c, h.input);
	err = reparse(&h, sp != NULL ? conf_delimiter(sp) : ',', &hdr, &row, r, out.reason,
		      sizeof(out.reason));
	if (err == WH_OK && (err = journal_txn_begin(j, JOURNAL_TXN_APPEND)) == WH_OK) {
		raw = (struct intake_raw){.position = h.position,
					  .format = h.format,
					  .context = h.context,
					  .bytes = h.raw,
					  .len = h.raw_len};
		in.source = h.source;
		err = intake_record(&in, r, NULL, &raw, &out);
		if (err == WH_OK && out.result == INTAKE_QUARANTINED) {
			journal_txn_end(j, WH_ERR_INVAL); /* nothing changes */
			err = WH_ERR_INVAL;
		} else {
			if (err == WH_OK)
				err = journal_quarantine_delete(j, id);
			err = journal_txn_end(j, err);
		}
	}
	if (err == WH_ERR_INVAL) { /* still invalid: the entry keeps the new reason */
		ret->result = REQUEUE_INVALID;
		snprintf(ret->reason, sizeof(ret->reason), "%s", out.reason);
		err = journal_quarantine_set_reason(j, id, out.reason);
		goto out;
	}
	if (err == WH_OK) {
		ret->result =
			out.result == INTAKE_DUPLICATE ? REQUEUE_DUPLICATE : REQUEUE_JOURNALED;
		ret->seq = out.seq;
	}
out:
	held_free(&h);
	csv_row_done(&hdr);
	csv_row_done(&row);
	record_done(r);
	wh_free(r);
	return err;
}
