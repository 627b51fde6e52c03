/* Freeing space on purpose: purging quarantined records in one maintenance transaction, and
 * giving the freed pages back to the file system (incremental vacuum, then a checkpoint that
 * truncates the WAL), so that an operator can make room on a full disk. */
#include <sqlite3.h>
#include <stdio.h>

#include "journal.h"
#include "journal_int.h"
#include "journal_quarantine.h"

wh_err
journal_quarantine_purge(struct journal *j, int64_t before_ms, int64_t *ret_count)
{
	sqlite3_stmt *s = NULL;
	int64_t n = 0;
	wh_err err;
	int rc;

	if ((err = journal_txn_begin(j, JOURNAL_TXN_MAINTENANCE)) != WH_OK)
		return err;
	rc = sqlite3_prepare_v2(j->db, journal_sql_quarantine_purge, -1, &s, NULL);
	if (rc == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, before_ms);
		rc = sqlite3_step(s);
	}
	if (rc == SQLITE_DONE)
		n = sqlite3_changes64(j->db);
	else
		err = journal_db_fail(j, rc, journal_sql_quarantine_purge);
	j->quar_known = 0;
	sqlite3_finalize(s);
	err = journal_txn_end(j, err);
	if (err == WH_OK)
		*ret_count = n;
	return err;
}

wh_err
journal_give_back(struct journal *j)
{
	sqlite3_stmt *s = NULL;
	wh_err err;
	int rc;

	if (j->depth > 0)
		return journal_fail(j, WH_ERR_INVAL, "giving space back inside a transaction");
	if ((err = journal_exec(j, journal_sql_incremental_vacuum)) != WH_OK)
		return err;
	rc = sqlite3_prepare_v2(j->db, journal_sql_checkpoint_truncate, -1, &s, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		/* busy: another connection (the running agent) reads; it checkpoints later */
		if (sqlite3_column_int(s, 0) != 0)
			err = journal_fail(j, WH_ERR_BUSY,
					   "the WAL is in use by another connection: checkpointed "
					   "later");
	} else {
		err = journal_db_fail(j, rc, journal_sql_checkpoint_truncate);
	}
	sqlite3_finalize(s);
	return err;
}
