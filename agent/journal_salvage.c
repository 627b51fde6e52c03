/* Reading a damaged journal file back (salvage) and checking one, each with a connection of
 * its own: the part of the journal module that must work when journal_open cannot. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "journal_int.h"
#include "journal_salvage.h"

wh_err
journal_check(const char *path, char *why, size_t whylen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	wh_err err = WH_OK;
	int rc;

	why[0] = '\0';
	if (access(path, F_OK) != 0)
		return WH_OK;
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, journal_sql_quick_check, -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *v = (const char *)sqlite3_column_text(st, 0);

		if (v == NULL || strcmp(v, "ok") != 0) {
			snprintf(why, whylen, "%s", v ? v : "quick_check failed");
			for (char *p = why; *p; p++)
				if (*p == '\n')
					*p = ' ';
			err = WH_ERR_CORRUPT;
		}
	} else if ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) {
		snprintf(why, whylen, "%s", sqlite3_errstr(rc));
		err = WH_ERR_CORRUPT;
	} else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(why, whylen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		err = WH_ERR_IO;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	return err;
}

/* Scans events in one direction from a seq, calling cb until the end or damage. */
static int
salvage_scan(sqlite3 *db, const char *sql_text, uint64_t from, uint64_t *last,
	     wh_err (*cb)(const struct journal_salvaged *e, void *arg), void *arg, uint64_t *count,
	     wh_err *ret_err)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql_text, -1, &st, NULL);

	if (rc != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(st, 1, (sqlite3_int64)from);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *ret_err == WH_OK) {
		struct journal_salvaged e = {
			.seq = (uint64_t)sqlite3_column_int64(st, 0),
			.source = (const char *)sqlite3_column_text(st, 1),
			.source_key = (const char *)sqlite3_column_text(st, 2),
			.kind = sqlite3_column_int(st, 3),
			.captured_at_ms = sqlite3_column_int64(st, 4),
			.payload = sqlite3_column_blob(st, 5),
			.len = (size_t)sqlite3_column_bytes(st, 5),
		};

		if (e.source == NULL || e.source_key == NULL || e.payload == NULL)
			continue;
		*ret_err = cb(&e, arg);
		*last = e.seq;
		(*count)++;
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

static wh_err
note_seq(const struct journal_salvaged *e, void *arg)
{
	(void)e;
	(void)arg;
	return WH_OK;
}

wh_err
journal_salvage_read(const char *path,
		     wh_err (*cb_event)(const struct journal_salvaged *e, void *arg),
		     wh_err (*cb_quarantine)(const struct journal_quarantined *q, void *arg),
		     void *arg, struct journal_salvage_counts *ret)
{
	const char *fwd = journal_sql_salvage_forward, *back = journal_sql_salvage_backward;
	struct journal_salvage_counts c = {0};
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	uint64_t last = 0, tail_last = 0;
	wh_err err = WH_OK;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(db);
		return WH_ERR_IO;
	}
	if (sqlite3_prepare_v2(db, journal_sql_salvage_watermark, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		c.acked_through = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	last = c.acked_through;
	if (salvage_scan(db, fwd, c.acked_through, &last, cb_event, arg, &c.events, &err) != 0 &&
	    err == WH_OK) {
		/* Damage ahead: find where the readable tail starts by reading from the end, then
		 * take the tail forwards, so that events keep their order. */
		uint64_t counted = 0;
		wh_err none = WH_OK;

		c.read_errors++;
		salvage_scan(db, back, last + 1, &tail_last, note_seq, NULL, &counted, &none);
		if (tail_last > last + 1 && salvage_scan(db, fwd, tail_last - 1, &last, cb_event,
							 arg, &c.events, &err) != 0)
			c.read_errors++;
	}
	/* schema 3 keeps the full length and hash of a cut record: carried over where there */
	if (err == WH_OK &&
	    (sqlite3_prepare_v2(db, journal_sql_salvage_quarantine_v3, -1, &st, NULL) ==
		     SQLITE_OK ||
	     sqlite3_prepare_v2(db, journal_sql_salvage_quarantine, -1, &st, NULL) == SQLITE_OK)) {
		int rc;

		while (err == WH_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
			struct journal_quarantined q;

			journal_read_quarantined(st, &q);
			if (q.input == NULL || q.source == NULL || q.position == NULL ||
			    q.reason == NULL || q.format == NULL)
				continue;
			err = cb_quarantine(&q, arg);
			c.quarantined++;
		}
		if (rc != SQLITE_DONE && rc != SQLITE_ROW)
			c.read_errors++;
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
	*ret = c;
	return err;
}
