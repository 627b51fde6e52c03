/* The journal's quarantine: records kept with a bounded prefix of their raw bytes, their full
 * length and SHA-256, within a row and a byte bound (the oldest evicted, counted) and an age;
 * and the byte budget an APPEND transaction spends record by record. */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "journal_int.h"
#include "journal_meta.h"

/* Bytes a row takes besides what the bounds count (its id, times, column headers). */
#define ROW_OVERHEAD 64

static void
bind_text_or_null(sqlite3_stmt *s, int i, const char *v)
{
	if (v != NULL)
		sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, i);
}

wh_err
journal_spend(struct journal *j, size_t n)
{
	if (j->kind != JOURNAL_TXN_APPEND || j->opts.max_bytes <= 0)
		return WH_OK;
	if ((int64_t)n > j->txn.room)
		return journal_fail(j, WH_ERR_FULL,
				    "the journal's budget (max_bytes %" PRId64 ") takes no more in "
				    "this transaction",
				    j->opts.max_bytes);
	j->txn.room -= (int64_t)n;
	return WH_OK;
}

wh_err
journal_quarantine(struct journal *j, const struct journal_quarantined *q, int64_t *ret_id)
{
	sqlite3_stmt *s = j->st[ST_QUAR_INSERT];
	size_t keep = q->raw_len, full;
	uint8_t digest[32];
	char hex[65];
	struct crypto_sha256 h;
	wh_err err;

	if ((err = journal_need_write(j)) != WH_OK)
		return err;
	if (j->opts.quarantine_raw_max > 0 && keep > j->opts.quarantine_raw_max)
		keep = j->opts.quarantine_raw_max;
	if ((err = journal_spend(j, keep + strlen(q->reason) + strlen(q->position) +
					    (q->context ? strlen(q->context) : 0) +
					    ROW_OVERHEAD)) != WH_OK)
		return err;
	/* a record already cut (salvaged, or an over-long line's prefix) keeps its full length
	 * (SIZE_MAX: unknown, stored as -1) and hash */
	full = q->raw_full_len > q->raw_len ? q->raw_full_len : q->raw_len;
	if (full > q->raw_len && q->raw_sha256 != NULL) {
		snprintf(hex, sizeof(hex), "%s", q->raw_sha256);
	} else {
		crypto_sha256_start(&h);
		crypto_sha256_update(&h, q->raw_len ? q->raw : "", q->raw_len);
		crypto_sha256_finish(&h, digest);
		crypto_hex(digest, sizeof(digest), hex);
	}
	sqlite3_bind_text(s, 1, q->input, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, q->source, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 3, q->position, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 4, q->received_at_ms);
	sqlite3_bind_text(s, 5, q->reason, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 6, q->format, -1, SQLITE_STATIC);
	bind_text_or_null(s, 7, q->context);
	sqlite3_bind_blob(s, 8, keep ? q->raw : "", (int)keep, SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, full == SIZE_MAX ? -1 : (sqlite3_int64)full);
	if (full == SIZE_MAX && q->raw_sha256 == NULL)
		sqlite3_bind_null(s, 10); /* the hash of a prefix would say nothing */
	else
		sqlite3_bind_text(s, 10, hex, -1, SQLITE_TRANSIENT);
	if ((err = journal_run(j, ST_QUAR_INSERT)) != WH_OK)
		return err;
	j->txn.quarantined++;
	j->quar_rows++;
	j->quar_bytes += (int64_t)(keep + strlen(q->reason) + strlen(q->position) +
				   (q->context ? strlen(q->context) : 0));
	if (ret_id != NULL)
		*ret_id = sqlite3_last_insert_rowid(j->db);
	return WH_OK;
}

void
journal_read_quarantined(sqlite3_stmt *s, struct journal_quarantined *q)
{
	memset(q, 0, sizeof(*q));
	q->id = sqlite3_column_int64(s, 0);
	q->input = (const char *)sqlite3_column_text(s, 1);
	q->source = (const char *)sqlite3_column_text(s, 2);
	q->position = (const char *)sqlite3_column_text(s, 3);
	q->received_at_ms = sqlite3_column_int64(s, 4);
	q->reason = (const char *)sqlite3_column_text(s, 5);
	q->format = (const char *)sqlite3_column_text(s, 6);
	q->context = (const char *)sqlite3_column_text(s, 7);
	q->raw = sqlite3_column_blob(s, 8);
	q->raw_len = (size_t)sqlite3_column_bytes(s, 8);
	q->raw_full_len = q->raw_len;
	if (sqlite3_column_count(s) > 10) { /* salvage reads journals of earlier schemas too */
		int64_t full = sqlite3_column_int64(s, 9);

		q->raw_full_len = full < 0 ? SIZE_MAX : (size_t)full;
		q->raw_sha256 = (const char *)sqlite3_column_text(s, 10);
	}
}

static int
over(const struct journal *j)
{
	return (j->opts.quarantine_max_rows > 0 && j->quar_rows > j->opts.quarantine_max_rows) ||
	       (j->opts.quarantine_max_bytes > 0 && j->quar_bytes > j->opts.quarantine_max_bytes);
}

/* The rows and bytes past the bounds, or 0 and 0: counted (a scan of the table) only when
 * the estimate is unknown or says a bound is passed. */
static wh_err
excess(struct journal *j, int64_t *ret_rows, int64_t *ret_bytes)
{
	wh_err err;

	*ret_rows = *ret_bytes = 0;
	if (j->quar_known && !over(j))
		return WH_OK;
	if ((err = journal_row(j, ST_QUAR_TOTALS)) != WH_OK)
		return err;
	j->quar_rows = sqlite3_column_int64(j->st[ST_QUAR_TOTALS], 0);
	j->quar_bytes = sqlite3_column_int64(j->st[ST_QUAR_TOTALS], 1);
	j->quar_known = 1;
	sqlite3_reset(j->st[ST_QUAR_TOTALS]);
	if (j->opts.quarantine_max_rows > 0)
		*ret_rows = j->quar_rows - j->opts.quarantine_max_rows;
	if (j->opts.quarantine_max_bytes > 0)
		*ret_bytes = j->quar_bytes - j->opts.quarantine_max_bytes;
	return WH_OK;
}

wh_err
journal_quarantine_bound(struct journal *j)
{
	sqlite3_stmt *s = j->st[ST_QUAR_OLDEST];
	int64_t rows, bytes, last = 0, n = 0, freed = 0;
	uint64_t evicted = 0;
	wh_err err = excess(j, &rows, &bytes);
	int rc = SQLITE_ROW;

	if (err != WH_OK || (rows <= 0 && bytes <= 0))
		return err;
	while ((n < rows || freed < bytes) && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		last = sqlite3_column_int64(s, 0);
		freed += sqlite3_column_int64(s, 1);
		n++;
	}
	sqlite3_reset(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return journal_db_fail(j, rc, "reading the quarantine's oldest records");
	sqlite3_bind_int64(j->st[ST_QUAR_DEL_THROUGH], 1, last);
	if ((err = journal_run(j, ST_QUAR_DEL_THROUGH)) != WH_OK ||
	    (err = journal_meta_opt_int(j, "quarantine_evicted", &evicted)) != WH_OK ||
	    (err = journal_meta_set_int(j, "quarantine_evicted", evicted + (uint64_t)n)) != WH_OK)
		return err;
	j->evicted_unsaid += (uint64_t)n;
	j->quar_rows -= n;
	j->quar_bytes -= freed;
	return WH_OK;
}

uint64_t
journal_quarantine_take_evicted(struct journal *j)
{
	uint64_t n = j->evicted_unsaid;

	j->evicted_unsaid = 0;
	return n;
}

wh_err
journal_quarantine_list(struct journal *j, journal_quarantine_cb cb, void *arg)
{
	sqlite3_stmt *s = j->st[ST_QUAR_LIST];
	struct journal_quarantined q;
	int rc;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		journal_read_quarantined(s, &q);
		cb(&q, arg);
	}
	sqlite3_reset(s);
	return rc == SQLITE_DONE ? WH_OK : journal_db_fail(j, rc, "listing the quarantine");
}

wh_err
journal_quarantine_get(struct journal *j, int64_t id, journal_quarantine_cb cb, void *arg)
{
	struct journal_quarantined q;
	wh_err err;

	sqlite3_bind_int64(j->st[ST_QUAR_GET], 1, id);
	if ((err = journal_row(j, ST_QUAR_GET)) != WH_OK)
		return err;
	journal_read_quarantined(j->st[ST_QUAR_GET], &q);
	cb(&q, arg);
	sqlite3_reset(j->st[ST_QUAR_GET]);
	return WH_OK;
}

wh_err
journal_quarantine_delete(struct journal *j, int64_t id)
{
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	sqlite3_bind_int64(j->st[ST_QUAR_DEL], 1, id);
	err = journal_run(j, ST_QUAR_DEL);
	j->quar_known = 0;
	if (err == WH_OK && sqlite3_changes(j->db) != 1)
		err = WH_ERR_NOTFOUND;
	return journal_txn_end(j, err);
}

wh_err
journal_quarantine_set_reason(struct journal *j, int64_t id, const char *reason)
{
	wh_err err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE);

	if (err != WH_OK)
		return err;
	sqlite3_bind_int64(j->st[ST_QUAR_REASON], 1, id);
	sqlite3_bind_text(j->st[ST_QUAR_REASON], 2, reason, -1, SQLITE_STATIC);
	err = journal_run(j, ST_QUAR_REASON);
	if (err == WH_OK && sqlite3_changes(j->db) != 1)
		err = WH_ERR_NOTFOUND;
	return journal_txn_end(j, err);
}
