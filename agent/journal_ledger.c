/* The ledger inside the journal: balance changes appended with each event, folded into the
 * balance rows in key order, control totals, and consistent snapshots read in pages. */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "journal_int.h"

/* The control totals as committed (under the write lock: another process may append). */
wh_err
journal_load_totals(struct journal *j)
{
	sqlite3_stmt *s = j->st[ST_TOTAL_ALL];
	int rc;

	memset(j->totals, 0, sizeof(j->totals));
	j->totals_dirty = 0;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int kind = sqlite3_column_int(s, 0);
		struct journal_total *t;

		if (kind <= 0 || kind >= JOURNAL_KINDS ||
		    sqlite3_column_bytes(s, 3) != JOURNAL_HASH_LEN)
			continue;
		t = &j->totals[kind];
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
		if (!(j->totals_dirty & (1u << k)))
			continue;
		sqlite3_bind_int(s, 1, k);
		sqlite3_bind_int64(s, 2, (sqlite3_int64)j->totals[k].count);
		sqlite3_bind_int64(s, 3, j->totals[k].qty_milli);
		sqlite3_bind_blob(s, 4, j->totals[k].hash, JOURNAL_HASH_LEN, SQLITE_STATIC);
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
		const struct journal_delta *d = &ev->deltas[i];

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
	t = &j->totals[ev->kind];
	t->count++;
	t->qty_milli += ev->qty_milli;
	crypto_sha256_start(&h);
	crypto_sha256_update(&h, t->hash, JOURNAL_HASH_LEN);
	crypto_sha256_update(&h, ev->event_id, JOURNAL_HASH_LEN);
	crypto_sha256_finish(&h, t->hash);
	j->totals_dirty |= 1u << ev->kind;
	return WH_OK;
}

/* --- ledger and snapshots ------------------------------------------------------------- */

/* Every balance change: the folded rows and the deltas not folded yet. */
#define LEDGER_ROWS                                                                                \
	"SELECT sku, location, lot, uom, on_hand, last_seq FROM ledger UNION ALL"                  \
	" SELECT sku, location, lot, uom, milli, seq FROM ledger_delta"

wh_err
journal_ledger_fold(struct journal *j, uint64_t min_rows, uint64_t *ret_folded)
{
	uint64_t lo, hi;
	wh_err err;

	*ret_folded = 0;
	if (j->in_txn) {
		snprintf(j->errmsg, sizeof(j->errmsg), "a transaction is open");
		return WH_ERR_BUSY;
	}
	if ((err = journal_row(j, ST_DELTA_SPAN)) != WH_OK)
		return err;
	lo = (uint64_t)sqlite3_column_int64(j->st[ST_DELTA_SPAN], 0);
	hi = (uint64_t)sqlite3_column_int64(j->st[ST_DELTA_SPAN], 1);
	sqlite3_reset(j->st[ST_DELTA_SPAN]);
	if (hi == 0 || hi - lo + 1 < min_rows)
		return WH_OK;
	/* not journal_begin: folding frees space, so it runs when the budget is reached too */
	if ((err = journal_run(j, ST_BEGIN)) != WH_OK)
		return err;
	sqlite3_bind_int64(j->st[ST_FOLD], 1, (sqlite3_int64)hi);
	sqlite3_bind_int64(j->st[ST_FOLD_DEL], 1, (sqlite3_int64)hi);
	if ((err = journal_run(j, ST_FOLD)) == WH_OK &&
	    (err = journal_run(j, ST_FOLD_DEL)) == WH_OK &&
	    (err = journal_run(j, ST_COMMIT)) == WH_OK) {
		*ret_folded = hi - lo + 1;
		return WH_OK;
	}
	if (!sqlite3_get_autocommit(j->db))
		journal_run(j, ST_ROLLBACK);
	return err;
}

static wh_err
read_snapshot_totals(struct journal *j, struct journal_snapshot *ret)
{
	wh_err err;

	memset(ret, 0, sizeof(*ret));
	if ((err = journal_meta_get_int(j, "next_seq", &ret->as_of_seq)) != WH_OK ||
	    (err = journal_meta_get_int(j, "ledger_from_seq", &ret->from_seq)) != WH_OK ||
	    (err = journal_load_totals(j)) != WH_OK)
		return err;
	ret->as_of_seq--;
	memcpy(ret->totals, j->totals, sizeof(ret->totals));
	return WH_OK;
}

wh_err
journal_snapshot_begin(struct journal *j, struct journal_snapshot *ret)
{
	/* the rows alone when every change is folded (a copy in key order), else rows and
	 * changes summed (a sort of them all: several times slower) */
	static const char rows[] = "DROP TABLE IF EXISTS temp.snapshot;"
				   "CREATE TEMP TABLE snapshot AS SELECT sku, location, lot, uom,"
				   " on_hand, last_seq FROM ledger WHERE on_hand != 0"
				   " ORDER BY sku, location, lot, uom";
	static const char summed[] =
		"DROP TABLE IF EXISTS temp.snapshot;"
		"CREATE TEMP TABLE snapshot AS SELECT sku, location, lot, uom,"
		" sum(on_hand) AS on_hand, max(last_seq) AS last_seq FROM (" LEDGER_ROWS ")"
		" GROUP BY sku, location, lot, uom HAVING sum(on_hand) != 0"
		" ORDER BY sku, location, lot, uom";
	uint64_t folded, pending;
	wh_err err;
	int rc;

	if (j->in_txn || j->snap_page != NULL) {
		snprintf(j->errmsg, sizeof(j->errmsg), "a transaction or snapshot is open");
		return WH_ERR_BUSY;
	}
	/* only to make the copy cheap: without it the changes are summed in */
	journal_ledger_fold(j, 1, &folded);
	/* One read transaction: the totals and the copy see the same events. */
	if ((err = journal_exec(j, "BEGIN")) != WH_OK)
		return err;
	err = read_snapshot_totals(j, ret);
	/* another process (whagent quarantine requeue) may have appended since the fold:
	 * pending is the lowest change id waiting, 0 when none */
	if (err == WH_OK && (err = journal_count(j, ST_DELTA_SPAN, &pending)) == WH_OK)
		err = journal_exec(j, pending == 0 ? rows : summed);
	if (err == WH_OK)
		err = journal_exec(j, "COMMIT");
	if (err != WH_OK) {
		sqlite3_exec(j->db, "ROLLBACK", NULL, NULL, NULL);
		return err;
	}
	rc = sqlite3_prepare_v2(j->db, "SELECT count(*) FROM temp.snapshot", -1, &j->snap_page,
				NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(j->snap_page)) == SQLITE_ROW)
		ret->rows = (uint64_t)sqlite3_column_int64(j->snap_page, 0);
	sqlite3_finalize(j->snap_page);
	j->snap_page = NULL;
	if (rc == SQLITE_ROW)
		rc = sqlite3_prepare_v2(
			j->db,
			"SELECT rowid, sku, location, lot, uom, on_hand, last_seq"
			" FROM temp.snapshot WHERE rowid > ?1 ORDER BY rowid LIMIT ?2",
			-1, &j->snap_page, NULL);
	if (rc != SQLITE_OK) {
		err = journal_db_fail(j, rc, "reading the snapshot");
		journal_snapshot_end(j);
	}
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
	sqlite3_exec(j->db, "DROP TABLE IF EXISTS temp.snapshot", NULL, NULL, NULL);
}

wh_err
journal_ledger_take(struct journal *j, const char *path, uint64_t *ret_rows)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	sqlite3_stmt *add = j->st[ST_DELTA_ADD];
	wh_err err;
	int rc;

	*ret_rows = 0;
	if ((err = journal_need_txn(j)) != WH_OK ||
	    (err = journal_meta_set_int(j, "ledger_from_seq", j->next_seq)) != WH_OK ||
	    (err = journal_exec(j, "SAVEPOINT ledger_take")) != WH_OK)
		return err;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, LEDGER_ROWS, -1, &st, NULL);
	while (rc == SQLITE_OK && err == WH_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		for (int i = 0; i < 4; i++)
			sqlite3_bind_value(add, i + 1, sqlite3_column_value(st, i));
		sqlite3_bind_int64(add, 5, sqlite3_column_int64(st, 4));
		sqlite3_bind_int64(add, 6, 0);
		if ((err = journal_run(j, ST_DELTA_ADD)) == WH_OK)
			(*ret_rows)++;
		rc = SQLITE_OK;
	}
	if (err == WH_OK && rc != SQLITE_DONE) {
		snprintf(j->errmsg, sizeof(j->errmsg), "its ledger cannot be read: %s",
			 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		err = WH_ERR_CORRUPT;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	/* all of the damaged ledger or none of it: balances from part of it match nothing */
	if (err != WH_OK) {
		*ret_rows = 0;
		sqlite3_exec(j->db, "ROLLBACK TO ledger_take", NULL, NULL, NULL);
	}
	sqlite3_exec(j->db, "RELEASE ledger_take", NULL, NULL, NULL);
	return err;
}
