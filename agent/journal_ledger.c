/* The ledger inside the journal: balance changes appended with each event, folded into the
 * balance rows in key order, control totals, and consistent snapshots read in pages. */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "journal_int.h"
#include "journal_salvage.h"

/* The control totals as committed (under the write lock: another process may append). */
wh_err
journal_load_totals(struct journal *j, struct journal_total totals[JOURNAL_KINDS])
{
	sqlite3_stmt *s = j->st[ST_TOTAL_ALL];
	int rc;

	memset(totals, 0, sizeof(struct journal_total) * JOURNAL_KINDS);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(s, 0);
		struct journal_total *t;

		if (kind <= 0 || kind >= JOURNAL_KINDS ||
		    sqlite3_column_bytes(s, 3) != JOURNAL_HASH_LEN)
			continue;
		t = &totals[kind];
		t->count = (uint64_t)sqlite3_column_int64(s, 1);
		t->qty_milli = sqlite3_column_int64(s, 2);
		memcpy(t->hash, sqlite3_column_blob(s, 3), JOURNAL_HASH_LEN);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WH_OK : journal_db_fail(j, rc, "reading the control totals");
}

wh_err
journal_save_totals(struct journal *j)
{
	sqlite3_stmt *s = j->st[ST_TOTAL_SET];
	wh_err err = WH_OK;

	for (int k = 1; k < JOURNAL_KINDS && err == WH_OK; k++) {
		if (!(j->txn.totals_dirty & (1u << k)))
			continue;
		sqlite3_bind_int(s, 1, k);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)j->txn.totals[k].count);
		sqlite3_bind_int64(s, 3, j->txn.totals[k].qty_milli);
		sqlite3_bind_blob(s, 4, j->txn.totals[k].hash, JOURNAL_HASH_LEN, SQLITE_STATIC);
		err = journal_run(j, ST_TOTAL_SET);
	}
	return err;
}

/* The ledger and the control totals take a new event (inside its transaction). */
wh_err
journal_count_event(struct journal *j, const struct journal_event *ev, uint64_t seq)
{
	sqlite3_stmt *s = j->st[ST_DELTA_ADD];
	struct crypto_sha256 h;
	struct journal_total *t;
	wh_err err = WH_OK;

	for (int i = 0; i < ev->ndeltas && err == WH_OK; i++) {
		const struct ledger_delta *d = &ev->deltas[i];

		sqlite3_bind_text(s, 1, d->sku, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, d->location, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 3, d->lot, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, d->uom, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, d->milli);
		sqlite3_bind_int64(s, 6, (sqlite3_int64)seq);
		err = journal_run(j, ST_DELTA_ADD);
	}
	if (err != WH_OK || ev->kind <= 0 || ev->kind >= JOURNAL_KINDS)
		return err;
	if (!j->txn.totals_loaded) {
		if ((err = journal_load_totals(j, j->txn.totals)) != WH_OK)
			return err;
		j->txn.totals_loaded = 1;
	}
	t = &j->txn.totals[ev->kind];
	t->count++;
	t->qty_milli += ev->qty_milli;
	crypto_sha256_start(&h);
	crypto_sha256_update(&h, t->hash, JOURNAL_HASH_LEN);
	crypto_sha256_update(&h, ev->event_id, JOURNAL_HASH_LEN);
	crypto_sha256_finish(&h, t->hash);
	j->txn.totals_dirty |= 1u << ev->kind;
	return WH_OK;
}

/* --- ledger and snapshots ------------------------------------------------------------- */

wh_err
journal_ledger_fold(struct journal *j, uint64_t min_rows, uint64_t *ret_folded)
{
	uint64_t lo, hi;
	wh_err err;

	*ret_folded = 0;
	if (j->depth > 0)
		return journal_fail(j, WH_ERR_BUSY, "a transaction is open");
	if ((err = journal_row(j, ST_DELTA_SPAN)) != WH_OK)
		return err;
	lo = (uint64_t)sqlite3_column_int64(j->st[ST_DELTA_SPAN], 0);
	hi = (uint64_t)sqlite3_column_int64(j->st[ST_DELTA_SPAN], 1);
	sqlite3_reset(j->st[ST_DELTA_SPAN]);
	if (hi == 0 || hi - lo + 1 < min_rows)
		return WH_OK;
	/* maintenance: folding frees space, so it runs when the budget is reached too */
	if ((err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE)) != WH_OK)
		return err;
	sqlite3_bind_int64(j->st[ST_FOLD], 1, (sqlite3_int64)hi);
	sqlite3_bind_int64(j->st[ST_FOLD_DEL], 1, (sqlite3_int64)hi);
	if ((err = journal_run(j, ST_FOLD)) == WH_OK)
		err = journal_run(j, ST_FOLD_DEL);
	if ((err = journal_txn_end(j, err)) == WH_OK)
		*ret_folded = hi - lo + 1;
	return err;
}

static wh_err
read_snapshot_totals(struct journal *j, struct journal_snapshot *ret)
{
	wh_err err;

	memset(ret, 0, sizeof(*ret));
	if ((err = journal_meta_need_int(j, "next_seq", &ret->as_of_seq)) != WH_OK ||
	    (err = journal_meta_need_int(j, "ledger_from_seq", &ret->from_seq)) != WH_OK ||
	    (err = journal_load_totals(j, ret->totals)) != WH_OK)
		return err;
	ret->as_of_seq--;
	return WH_OK;
}

/* Prepares the snapshot's page statement and counts its rows. */
static wh_err
open_pages(struct journal *j, struct journal_snapshot *ret)
{
	int rc = sqlite3_prepare_v2(j->db, journal_sql_snapshot_count, -1, &j->snap_page, NULL);

	if (rc == SQLITE_OK && (rc = sqlite3_step(j->snap_page)) == SQLITE_ROW)
		ret->rows = (uint64_t)sqlite3_column_int64(j->snap_page, 0);
	sqlite3_finalize(j->snap_page);
	j->snap_page = NULL;
	if (rc == SQLITE_ROW)
		rc = sqlite3_prepare_v2(j->db, journal_sql_snapshot_page, -1, &j->snap_page, NULL);
	return rc == SQLITE_OK ? WH_OK : journal_db_fail(j, rc, "reading the snapshot");
}

wh_err
journal_snapshot_begin(struct journal *j, struct journal_snapshot *ret)
{
	uint64_t folded, pending;
	wh_err err;

	if (j->depth > 0 || j->snap_page != NULL)
		return journal_fail(j, WH_ERR_BUSY, "a transaction or snapshot is open");
	/* only to make the copy cheap: without it the changes are summed in */
	journal_ledger_fold(j, 1, &folded);
	/* One read transaction: the totals and the copy see the same events. */
	if ((err = journal_txn_begin(j, JOURNAL_TXN_READ)) != WH_OK)
		return err;
	err = read_snapshot_totals(j, ret);
	/* another process (whagent quarantine requeue) may have appended since the fold:
	 * pending is the lowest change id waiting, 0 when none */
	if (err == WH_OK && (err = journal_count(j, ST_DELTA_SPAN, &pending)) == WH_OK)
		err = journal_exec(j, pending == 0 ? journal_sql_snapshot_rows
						   : journal_sql_snapshot_summed);
	if ((err = journal_txn_end(j, err)) == WH_OK && (err = open_pages(j, ret)) != WH_OK)
		journal_snapshot_end(j);
	return err;
}

wh_err
journal_snapshot_page(struct journal *j, uint64_t after, int max,
		      void (*cb)(const struct journal_balance *b, void *arg), void *arg,
		      uint64_t *ret_last)
{
	sqlite3_stmt *s = j->snap_page;
	int rc;

	if (s == NULL) {
		snprintf(j->errmsg, sizeof(j->errmsg), "no snapshot open");
		return WH_ERR_INVAL;
	}
	sqlite3_bind_int64(s, 1, (sqlite3_int64)after);
	sqlite3_bind_int(s, 2, max);
	*ret_last = after;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct journal_balance b = {
			.sku = (const char *)sqlite3_column_text(s, 1),
			.location = (const char *)sqlite3_column_text(s, 2),
			.lot = (const char *)sqlite3_column_text(s, 3),
			.uom = (const char *)sqlite3_column_text(s, 4),
			.on_hand_milli = sqlite3_column_int64(s, 5),
			.last_seq = (uint64_t)sqlite3_column_int64(s, 6),
		};

		*ret_last = (uint64_t)sqlite3_column_int64(s, 0);
		if (b.sku != NULL && b.location != NULL && b.lot != NULL && b.uom != NULL)
			cb(&b, arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WH_OK : journal_db_fail(j, rc, "reading the snapshot");
}

void
journal_snapshot_end(struct journal *j)
{
	sqlite3_finalize(j->snap_page);
	j->snap_page = NULL;
	journal_exec(j, journal_sql_snapshot_drop); /* the temp database only */
}

/* Copies the balance rows of the ledger at path into j's changes. */
static wh_err
copy_ledger(struct journal *j, const char *path, uint64_t *ret_rows)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3_stmt *add = j->st[ST_DELTA_ADD];
	wh_err err = WH_OK;
	int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, journal_sql_ledger_rows, -1, &st, NULL);
	while (rc == SQLITE_OK && err == WH_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < 4; i++)
			sqlite3_bind_value(add, i + 1, sqlite3_column_value(st, i));
		sqlite3_bind_int64(add, 5, sqlite3_column_int64(st, 4));
		sqlite3_bind_int64(add, 6, 0);
		if ((err = journal_run(j, ST_DELTA_ADD)) == WH_OK)
			(*ret_rows)++;
		rc = SQLITE_OK;
	}
	if (err == WH_OK && rc != SQLITE_DONE)
		err = journal_fail(j, WH_ERR_CORRUPT, "its ledger cannot be read: %s",
				   db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return err;
}

wh_err
journal_ledger_take(struct journal *j, const char *path, uint64_t *ret_rows)
{
	wh_err err;

	*ret_rows = 0;
	if ((err = journal_need_write(j)) != WH_OK ||
	    (err = journal_meta_set_int(j, "ledger_from_seq", j->txn.next_seq)) != WH_OK)
		return err;
	/* all of the damaged ledger or none of it: balances from part of it match nothing */
	if ((err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE)) != WH_OK)
		return err;
	if ((err = journal_txn_end(j, copy_ledger(j, path, ret_rows))) != WH_OK)
		*ret_rows = 0;
	return err;
}
