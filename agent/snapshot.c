/* Snapshot pages: balance rows read from the journal's copy, encoded with protobuf-c. */
#include "snapshot.h"

#include <string.h>

#include "journal.h"
#include "journal_ledger.h"
#include "mem.h"
#include "platform.h"
#include "whagent/v1/snapshot.pb-c.h"

struct snapshot {
	struct journal *journal;
	char *site_id, *command_id;
	struct journal_snapshot info;
	uint64_t id;
	int64_t taken_at_ms;
	int page_rows;
	uint32_t page, pages; /* pages returned so far, of pages */
	uint64_t after;	      /* the last row read */
	/* the page being built: strings are copied, the journal's row values are borrowed */
	Whagent__V1__Balance *rows;
	Whagent__V1__Balance **row_ptrs;
	char **strings;
	int nrows;
	wh_err err;
};

wh_err
snapshot_new(struct journal *j, const char *site_id, const char *command_id, int page_rows,
	     struct snapshot **ret_s)
{
	struct snapshot *s = wh_calloc(1, sizeof(*s));
	wh_err err = WH_ERR_NOMEM;

	if (s == NULL)
		return WH_ERR_NOMEM;
	s->page_rows = page_rows;
	s->site_id = wh_strdup(site_id);
	s->command_id = wh_strdup(command_id ? command_id : "");
	s->rows = wh_calloc((size_t)page_rows, sizeof(*s->rows));
	s->row_ptrs = wh_calloc((size_t)page_rows, sizeof(*s->row_ptrs));
	s->strings = wh_calloc((size_t)page_rows * 4, sizeof(*s->strings));
	if (s->site_id == NULL || s->command_id == NULL || s->rows == NULL || s->row_ptrs == NULL ||
	    s->strings == NULL)
		goto fail;
	if ((err = journal_snapshot_begin(j, &s->info)) != WH_OK)
		goto fail;
	s->journal = j;
	s->taken_at_ms = platform_now_ms();
	s->id = (uint64_t)s->taken_at_ms;
	s->pages = (uint32_t)((s->info.rows + (uint64_t)page_rows - 1) / (uint64_t)page_rows);
	if (s->pages == 0)
		s->pages = 1; /* the totals go out even for an empty ledger */
	*ret_s = s;
	return WH_OK;
fail:
	snapshot_free(s);
	return err;
}

static void
clear_rows(struct snapshot *s)
{
	for (int i = 0; i < s->nrows * 4; i++) {
		wh_free(s->strings[i]);
		s->strings[i] = NULL;
	}
	s->nrows = 0;
}

void
snapshot_free(struct snapshot *s)
{
	if (s == NULL)
		return;
	if (s->journal != NULL)
		journal_snapshot_end(s->journal);
	if (s->strings != NULL)
		clear_rows(s);
	wh_free(s->strings);
	wh_free(s->row_ptrs);
	wh_free(s->rows);
	wh_free(s->site_id);
	wh_free(s->command_id);
	wh_free(s);
}

static void
add_row(const struct journal_balance *b, void *arg)
{
	struct snapshot *s = arg;
	Whagent__V1__Balance *r = &s->rows[s->nrows];
	char **str = &s->strings[s->nrows * 4];

	if (s->err != WH_OK || s->nrows >= s->page_rows)
		return;
	str[0] = wh_strdup(b->sku);
	str[1] = wh_strdup(b->location);
	str[2] = wh_strdup(b->lot);
	str[3] = wh_strdup(b->uom);
	s->row_ptrs[s->nrows++] = r;
	if (str[0] == NULL || str[1] == NULL || str[2] == NULL || str[3] == NULL) {
		s->err = WH_ERR_NOMEM;
		return;
	}
	whagent__v1__balance__init(r);
	r->sku = str[0];
	r->location = str[1];
	r->lot = str[2];
	r->uom = str[3];
	r->on_hand_milli = b->on_hand_milli;
	r->last_seq = b->last_seq;
}

/* Packs the header, the totals and the rows read into a new buffer. */
static wh_err
pack_page(struct snapshot *s, uint8_t **ret_buf, size_t *ret_len)
{
	Whagent__V1__Snapshot m;
	Whagent__V1__ControlTotal t[JOURNAL_KINDS], *tp[JOURNAL_KINDS];
	uint8_t *buf;
	size_t n = 0, len;

	whagent__v1__snapshot__init(&m);
	m.site_id = s->site_id;
	m.journal_id = (char *)(uintptr_t)journal_id(s->journal);
	m.snapshot_id = s->id;
	m.as_of_seq = s->info.as_of_seq;
	m.page = s->page;
	m.pages = s->pages;
	m.balance_rows = s->info.rows;
	m.n_balances = (size_t)s->nrows;
	m.balances = s->row_ptrs;
	m.taken_at_ms = s->taken_at_ms;
	m.command_id = s->command_id;
	m.ledger_from_seq = s->info.from_seq;
	for (int k = 1; k < JOURNAL_KINDS; k++) {
		whagent__v1__control_total__init(&t[n]);
		t[n].kind = (Whagent__V1__EventKind)k;
		t[n].from_seq = s->info.from_seq;
		t[n].count = s->info.totals[k].count;
		t[n].qty_milli_sum = s->info.totals[k].qty_milli;
		t[n].hash.data = s->info.totals[k].hash;
		t[n].hash.len = JOURNAL_HASH_LEN;
		tp[n] = &t[n];
		n++;
	}
	m.n_totals = n;
	m.totals = tp;
	len = whagent__v1__snapshot__get_packed_size(&m);
	if ((buf = wh_malloc(len)) == NULL)
		return WH_ERR_NOMEM;
	whagent__v1__snapshot__pack(&m, buf);
	*ret_buf = buf;
	*ret_len = len;
	return WH_OK;
}

wh_err
snapshot_next_page(struct snapshot *s, uint8_t **ret_buf, size_t *ret_len)
{
	wh_err err;

	if (s->page >= s->pages)
		return WH_ERR_NOTFOUND;
	clear_rows(s);
	s->err = WH_OK;
	err = journal_snapshot_page(s->journal, s->after, s->page_rows, add_row, s, &s->after);
	if (err == WH_OK)
		err = s->err;
	if (err != WH_OK)
		return err;
	s->page++;
	err = pack_page(s, ret_buf, ret_len);
	clear_rows(s);
	return err;
}

uint64_t
snapshot_id(const struct snapshot *s)
{
	return s->id;
}

uint64_t
snapshot_as_of_seq(const struct snapshot *s)
{
	return s->info.as_of_seq;
}

uint32_t
snapshot_pages(const struct snapshot *s)
{
	return s->pages;
}

uint64_t
snapshot_rows(const struct snapshot *s)
{
	return s->info.rows;
}
