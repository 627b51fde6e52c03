/* Intake and snapshots over a real journal: a record is taken, recognised as a duplicate, or
 * quarantined with its raw bytes and reason; counts follow commit and rollback. A snapshot is
 * paged, decodes with the wire contract, adds up, and stays what it was while events keep
 * coming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "intake.h"
#include "journal.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "mem.h"
#include "record.h"
#include "snapshot.h"
#include "testutil.h"
#include "whagent/v1/snapshot.pb-c.h"

static char dir[512];
static char path[600];
static const struct journal_opts opts = {0};

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	snprintf(path, sizeof(path), "%s/journal.db", dir);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

static struct journal *
open_ok(void)
{
	struct journal *j = NULL;

	assert_int_equal(journal_open(path, &opts, &j), WH_OK);
	return j;
}

static void
intake_init(struct intake *in, struct journal *j)
{
	memset(in, 0, sizeof(*in));
	in->journal = j;
	in->input = "spool";
	in->source = "wms";
	in->ledger.staging = "STAGING";
	event_map_init(&in->map, NULL);
}

/* A receipt of qty at bin for sku, under txn_id txn. */
static wh_err
take(struct intake *in, const char *txn, const char *sku, const char *bin, const char *qty,
     struct intake_outcome *out)
{
	const char *keys[] = {"kind", "txn_id", "event_time", "sku", "uom", "qty", "bin"};
	const char *vals[] = {"RECEIPT", txn, "2026-03-01T14:05:00Z", sku, "EA", qty, bin};
	struct intake_raw raw = {
		.position = "r.csv line 2", .format = "csv", .bytes = txn, .len = strlen(txn)};
	struct record r;
	wh_err err;

	record_init(&r);
	for (int i = 0; i < 7; i++) {
		if (vals[i] == NULL)
			continue;
		r.key[r.n] = keys[i];
		r.val[r.n++] = vals[i];
	}
	memset(out, 0, sizeof(*out));
	err = intake_record(in, &r, NULL, &raw, out);
	record_done(&r);
	return err;
}

struct held {
	char reason[320], raw[64], position[64];
};

static void
on_entry(const struct journal_quarantined *q, void *arg)
{
	struct held *h = arg;

	snprintf(h->reason, sizeof(h->reason), "%s", q->reason);
	snprintf(h->position, sizeof(h->position), "%s", q->position);
	snprintf(h->raw, sizeof(h->raw), "%.*s", (int)q->raw_len, (const char *)q->raw);
}

static void
test_taken_duplicate_quarantined(void **state)
{
	struct journal *j = open_ok();
	struct intake in;
	struct intake_outcome out;
	struct journal_stats st;
	struct held h;

	(void)state;
	intake_init(&in, j);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(take(&in, "T1", "S1", "A", "5", &out), WH_OK);
	assert_int_equal(out.result, INTAKE_TAKEN);
	assert_int_equal(out.seq, 1);
	assert_int_equal(take(&in, "T1", "S1", "A", "5", &out), WH_OK);
	assert_int_equal(out.result, INTAKE_DUPLICATE);
	assert_int_equal(out.seq, 1);
	assert_int_equal(take(&in, "T2", NULL, "A", "5", &out), WH_OK); /* no sku */
	assert_int_equal(out.result, INTAKE_QUARANTINED);
	assert_non_null(strstr(out.reason, "sku"));
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	intake_committed(&in);
	assert_int_equal(in.total.taken[EVENT_RECEIPT], 1);
	assert_int_equal(in.total.duplicates, 1);
	assert_int_equal(in.total.invalid, 1);
	/* the quarantine keeps the raw bytes, the position and the reason */
	assert_int_equal(journal_quarantine_get(j, out.quarantine_id, on_entry, &h), WH_OK);
	assert_string_equal(h.raw, "T2");
	assert_string_equal(h.position, "r.csv line 2");
	assert_string_equal(h.reason, out.reason);

	/* rolled back: nothing journaled, nothing counted, the seq is not used up */
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(take(&in, "T3", "S1", "A", "1", &out), WH_OK);
	assert_int_equal(out.seq, 2);
	assert_int_equal(journal_txn_end(j, WH_ERR_IO), WH_ERR_IO);
	intake_rolled_back(&in);
	assert_int_equal(in.total.taken[EVENT_RECEIPT], 1);
	assert_int_equal(journal_stats(j, &st), WH_OK);
	assert_int_equal(st.last_seq, 1);
	assert_int_equal(st.quarantined, 1);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	assert_int_equal(take(&in, "T3", "S1", "A", "1", &out), WH_OK);
	assert_int_equal(out.seq, 2);
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
	journal_close(j);
}

/* Receipts of sku SKU-00..SKU-(n-1) at bin A, qty i + 1 each. */
static void
receipts(struct journal *j, int from, int n)
{
	struct intake in;
	struct intake_outcome out;
	char txn[32], sku[32], qty[16];

	intake_init(&in, j);
	assert_int_equal(journal_txn_begin(j, JOURNAL_TXN_APPEND), WH_OK);
	for (int i = from; i < from + n; i++) {
		snprintf(txn, sizeof(txn), "R%d", i);
		snprintf(sku, sizeof(sku), "SKU-%02d", i);
		snprintf(qty, sizeof(qty), "%d", i + 1);
		assert_int_equal(take(&in, txn, sku, "A", qty, &out), WH_OK);
		assert_int_equal(out.result, INTAKE_TAKEN);
	}
	assert_int_equal(journal_txn_end(j, WH_OK), WH_OK);
}

static void
test_snapshot_pages(void **state)
{
	struct journal *j = open_ok();
	struct snapshot *s = NULL, *other = NULL;
	uint8_t *buf;
	size_t len;
	int64_t sum = 0;
	int rows = 0, page = 0, receipt_totals;
	char last[64] = "";

	(void)state;
	receipts(j, 0, 25);
	assert_int_equal(snapshot_new(j, "SITE1", "cmd-1", 10, &s), WH_OK);
	assert_int_equal(snapshot_new(j, "SITE1", NULL, 10, &other), WH_ERR_BUSY);
	assert_int_equal(snapshot_as_of_seq(s), 25);
	assert_int_equal(snapshot_rows(s), 25);
	assert_int_equal(snapshot_pages(s), 3);
	receipts(j, 25, 5); /* after the snapshot was taken: not in it */
	while (snapshot_next_page(s, &buf, &len) == WH_OK) {
		Whagent__V1__Snapshot *m = whagent__v1__snapshot__unpack(NULL, len, buf);

		wh_free(buf);
		assert_non_null(m);
		assert_int_equal(m->page, ++page);
		assert_int_equal(m->pages, 3);
		assert_int_equal(m->as_of_seq, 25);
		assert_int_equal(m->balance_rows, 25);
		assert_string_equal(m->site_id, "SITE1");
		assert_string_equal(m->journal_id, journal_id(j));
		assert_true(m->n_balances <= 10);
		for (size_t i = 0; i < m->n_balances; i++) {
			assert_true(strcmp(m->balances[i]->sku, last) > 0); /* key order */
			snprintf(last, sizeof(last), "%s", m->balances[i]->sku);
			sum += m->balances[i]->on_hand_milli;
			rows++;
		}
		receipt_totals = 0;
		for (size_t i = 0; i < m->n_totals; i++) {
			if (m->totals[i]->kind != WHAGENT__V1__EVENT_KIND__EVENT_KIND_RECEIPT)
				continue;
			assert_int_equal(m->totals[i]->count, 25); /* every page carries them */
			assert_int_equal(m->totals[i]->qty_milli_sum, 325 * 1000);
			receipt_totals++;
		}
		assert_int_equal(receipt_totals, 1);
		whagent__v1__snapshot__free_unpacked(m, NULL);
	}
	assert_int_equal(page, 3);
	assert_int_equal(rows, 25);
	assert_int_equal(sum, 325 * 1000); /* 1 + 2 + ... + 25 */
	snapshot_free(s);
	/* the next snapshot sees the later events */
	assert_int_equal(snapshot_new(j, "SITE1", NULL, 10, &s), WH_OK);
	assert_int_equal(snapshot_as_of_seq(s), 30);
	assert_int_equal(snapshot_rows(s), 30);
	snapshot_free(s);
	journal_close(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_taken_duplicate_quarantined, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_pages, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
