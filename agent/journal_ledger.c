/* The ledger inside the journal: balance changes appended with each event, folded into the
 * balance rows in key order, control totals, and consistent snapshots read in pages. */
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "journal_int.h"
#include "journal_salvage.h"
#include "mem.h"

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

/* --- the transaction's balance changes ------------------------------------------------ */

static uint32_t
key_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)key[i]) * 16777619u;
	return h;
}

static void
slot_put(struct journal *j, uint32_t hash, uint32_t index)
{
	uint32_t mask = j->nslots - 1, i = hash & mask;

	while (j->slots[i] != 0 && j->slots[i] != index + 1) {
		const struct journal_change *c = &j->changes[j->slots[i] - 1];

		/* a later change of the same key takes the slot (the earlier one is frozen) */
		if (c->hash == hash && c->keylen == j->changes[index].keylen &&
		    memcmp(j->arena + c->key, j->arena + j->changes[index].key, c->keylen) == 0)
			break;
		i = (i + 1) & mask;
	}
	j->slots[i] = index + 1;
}

void
journal_changes_rehash(struct journal *j)
{
	if (j->slots == NULL)
		return;
	memset(j->slots, 0, sizeof(*j->slots) * j->nslots);
	for (uint32_t k = 0; k < j->txn.nchanges; k++)
		slot_put(j, j->changes[k].hash, k);
}

void
journal_changes_free(struct journal *j)
{
	wh_free(j->changes);
	wh_free(j->arena);
	wh_free(j->slots);
	j->changes = NULL;
	j->arena = NULL;
	j->slots = NULL;
	j->changes_cap = j->arena_cap = j->nslots = 0;
}

/* Room for one more change and len more arena bytes. */
static wh_err
changes_room(struct journal *j, size_t len)
{
	if (j->txn.nchanges == j->changes_cap) {
		uint32_t cap = j->changes_cap ? 2 * j->changes_cap : 256;
		struct journal_change *c = wh_realloc(j->changes, sizeof(*c) * cap);
		uint32_t *slots;

		if (c == NULL)
			return WH_ERR_NOMEM;
		j->changes = c;
		if ((slots = wh_realloc(j->slots, sizeof(*slots) * 2 * cap)) == NULL)
			return WH_ERR_NOMEM;
		j->slots = slots;
		j->nslots = 2 * cap;
		j->changes_cap = cap;
		journal_changes_rehash(j);
	}
	if (len > UINT32_MAX / 4 || j->txn.arena_len + len > UINT32_MAX / 2)
		return WH_ERR_TOOBIG;
	if (j->txn.arena_len + len > j->arena_cap) {
		uint32_t cap = j->arena_cap ? j->arena_cap : 16384;
		char *a;

		while (cap < j->txn.arena_len + len)
			cap *= 2;
		if ((a = wh_realloc(j->arena, cap)) == NULL)
			return WH_ERR_NOMEM;
		j->arena = a;
		j->arena_cap = cap;
	}
	return WH_OK;
}

/* Adds d to the change of its key made since the last savepoint opened, or to a new one. */
static wh_err
change_add(struct journal *j, const struct ledger_delta *d, uint64_t seq)
{
	const char *part[4] = {d->sku, d->location, d->lot, d->uom};
	size_t plen[4], len = 0;
	uint32_t floor = j->depth > 1 ? j->saved.nchanges : 0, hash, mask, i;
	struct journal_change *c;
	char *key;
	wh_err err;

	for (int k = 0; k < 4; k++)
		len += (plen[k] = strlen(part[k])) + 1;
	if ((err = changes_room(j, len)) != WH_OK)
		return err;
	key = j->arena + j->txn.arena_len;
	for (int k = 0, at = 0; k < 4; at += (int)plen[k++] + 1)
		memcpy(key + at, part[k], plen[k] + 1);
	hash = key_hash(key, len);
	mask = j->nslots - 1;
	for (i = hash & mask; j->slots[i] != 0; i = (i + 1) & mask) {
		c = &j->changes[j->slots[i] - 1];
		if (c->hash != hash || c->keylen != len || memcmp(j->arena + c->key, key, len) != 0)
			continue;
		if (j->slots[i] - 1 < floor)
			break; /* before the savepoint: a rollback must find it untouched */
		c->milli += d->milli;
		c->seq = seq;
		return WH_OK;
	}
	c = &j->changes[j->txn.nchanges];
	*c = (struct journal_change){(uint32_t)j->txn.arena_len, (uint32_t)len, hash, d->milli,
				     seq};
	j->txn.arena_len += (uint32_t)len;
	slot_put(j, hash, j->txn.nchanges++);
	return WH_OK;
}

static void
bind_change(sqlite3_stmt *s, int at, const char *arena, const struct journal_change *c)
{
	const char *p = arena + c->key;

	for (int k = 0; k < 4; k++) {
		size_t n = strlen(p);

		sqlite3_bind_text(s, at + k, p, (int)n, SQLITE_STATIC);
		p += n + 1;
	}
	sqlite3_bind_int64(s, at + 4, c->milli);
	sqlite3_bind_int64(s, at + 5, (sqlite3_int64)c->seq);
}

wh_err
journal_save_changes(struct journal *j)
{
	uint32_t k = 0, n = j->txn.nchanges;
	wh_err err = WH_OK;

	for (; err == WH_OK && n - k >= DELTA_ROWS; k += DELTA_ROWS) {
		for (int r = 0; r < DELTA_ROWS; r++)
			bind_change(j->st[ST_DELTA_ADD_MANY], 1 + 6 * r, j->arena,
				    &j->changes[k + r]);
		err = journal_run(j, ST_DELTA_ADD_MANY);
	}
	for (; err == WH_OK && k < n; k++) {
		bind_change(j->st[ST_DELTA_ADD], 1, j->arena, &j->changes[k]);
		err = journal_run(j, ST_DELTA_ADD);
	}
	return err;
}

/* The ledger and the control totals take a new event (inside its transaction): its balance
 * changes are added up per key and written at commit. */
wh_err
journal_count_event(struct journal *j, const struct journal_event *ev, uint64_t seq)
{
	struct crypto_sha256 h;
	struct journal_total *t;
	wh_err err = WH_OK;

	for (int i = 0; i < ev->ndeltas && err == WH_OK; i++)
		err = change_add(j, &ev->deltas[i], seq);
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

/* Deletes the changes folded, through id hi: all of the table unless another process added
 * some since hi was read (under the write lock now, so none can come in between). */
static wh_err
clear_folded(struct journal *j, uint64_t hi)
{
	uint64_t last;
	wh_err err = journal_row(j, ST_DELTA_SPAN);

	if (err != WH_OK)
		return err;
	last = (uint64_t)sqlite3_column_int64(j->st[ST_DELTA_SPAN], 1);
	sqlite3_reset(j->st[ST_DELTA_SPAN]);
	return journal_run(j, last == hi ? ST_FOLD_CLEAR : ST_FOLD_DEL);
}

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
		err = clear_folded(j, hi);
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
