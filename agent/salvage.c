/* Salvage of a damaged journal: move aside, read back what can be read, re-append it with new
 * sequence numbers in a fresh journal, carry the ledger's balances over (its control totals
 * start after the salvaged events), record a report in its meta. Spool cursors are not
 * salvaged: files still in the spool are read again and recognised as duplicates. */
#include "salvage.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "codec.h"
#include "journal.h"
#include "journal_event.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "journal_salvage.h"
#include "log.h"
#include "mem.h"
#include "platform.h"

#define SALVAGE_TXN_ROWS 1000

struct ctx {
	struct journal *j;
	uint64_t appended, duplicates, undecodable, quarantined, in_txn;
};

static wh_err
step(struct ctx *c)
{
	wh_err err;

	if (++c->in_txn < SALVAGE_TXN_ROWS)
		return WH_OK;
	c->in_txn = 0;
	if ((err = journal_txn_end(c->j, WH_OK)) != WH_OK)
		return err;
	return journal_txn_begin(c->j, JOURNAL_TXN_MAINTENANCE);
}

static wh_err
on_event(const struct journal_salvaged *e, void *arg)
{
	struct ctx *c = arg;
	struct journal_event je = {.source = e->source,
				   .source_key = e->source_key,
				   .kind = e->kind,
				   .captured_at_ms = e->captured_at_ms};
	uint8_t *payload = NULL;
	uint64_t seq;
	int dup;
	wh_err err =
		codec_event_reseq(e->payload, e->len, journal_next_seq(c->j), &payload, &je.len);

	if (err == WH_ERR_CORRUPT) {
		c->undecodable++;
		return WH_OK;
	}
	if (err != WH_OK)
		return err;
	je.payload = payload;
	err = journal_append(c->j, &je, &seq, &dup);
	wh_free(payload);
	if (err != WH_OK)
		return err;
	if (dup)
		c->duplicates++;
	else
		c->appended++;
	return step(c);
}

static wh_err
on_quarantine(const struct journal_quarantined *q, void *arg)
{
	struct ctx *c = arg;
	wh_err err = journal_quarantine(c->j, q, NULL);

	if (err != WH_OK)
		return err;
	c->quarantined++;
	return step(c);
}

/* path → aside, with its -wal and -shm (the WAL may hold committed transactions). */
static int
move_aside(const char *path, char *aside, size_t len)
{
	static const char *const suffixes[] = {"", "-wal", "-shm"};
	char from[4200], to[4200];

	snprintf(aside, len, "%s.damaged-%" PRId64, path, platform_now_ms());
	for (int i = 2; i >= 0; i--) {
		snprintf(from, sizeof(from), "%s%s", path, suffixes[i]);
		snprintf(to, sizeof(to), "%s%s", aside, suffixes[i]);
		if (rename(from, to) != 0 && access(from, F_OK) == 0)
			return -1;
	}
	return 0;
}

static int
newest_first(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? 1 : x > y ? -1 : 0;
}

/* Deletes the damaged journals moved aside next to path (PATH.damaged-MS, with their -wal
 * and -shm) but the newest keep. */
static void
prune_damaged(const char *path, int keep)
{
	const char *slash = strrchr(path, '/');
	char dir[4096], prefix[300], victim[4200];
	int64_t ms[256];
	size_t plen;
	int n = 0;
	DIR *d;
	struct dirent *de;

	snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
	snprintf(prefix, sizeof(prefix), "%s.damaged-", slash ? slash + 1 : path);
	plen = strlen(prefix);
	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL && n < (int)(sizeof(ms) / sizeof(ms[0]))) {
		char *end;
		long long v;

		if (strncmp(de->d_name, prefix, plen) != 0)
			continue;
		errno = 0;
		v = strtoll(de->d_name + plen, &end, 10);
		if (errno == 0 && end != de->d_name + plen && *end == '\0')
			ms[n++] = v;
	}
	closedir(d);
	if (keep == 0 || n == (int)(sizeof(ms) / sizeof(ms[0])))
		return; /* kept, or too many to know which are the newest: none deleted */
	qsort(ms, (size_t)n, sizeof(ms[0]), newest_first);
	for (int i = keep; i < n; i++) {
		static const char *const suffixes[] = {"-wal", "-shm", ""};

		for (int k = 0; k < 3; k++) {
			snprintf(victim, sizeof(victim), "%s.damaged-%" PRId64 "%s", path, ms[i],
				 suffixes[k]);
			unlink(victim);
		}
		log_info("salvage: deleted the damaged journal %s.damaged-%" PRId64
			 " ([journal] damaged_keep = %d)",
			 path, ms[i], keep);
	}
}

wh_err
salvage_if_damaged(const char *path, const struct journal_opts *o, int keep, char *report,
		   size_t len)
{
	struct journal_opts fresh = *o;
	struct journal_salvage_counts counts = {0};
	struct ctx c = {0};
	char why[256], aside[4096], ledger[320];
	uint64_t balances = 0;
	wh_err err;

	report[0] = '\0';
	err = journal_check(path, why, sizeof(why));
	if (err != WH_ERR_CORRUPT)
		return err;
	log_errx("journal %s failed its integrity check (%s): moving it aside and salvaging", path,
		 why);
	if (move_aside(path, aside, sizeof(aside)) != 0) {
		log_warn("cannot move %s aside", path);
		return WH_ERR_IO;
	}
	fresh.max_bytes = 0; /* what was in the old journal fits the new one */
	fresh.reserve_bytes = 0;
	/* maintenance: what the damaged journal held was accepted, so no budget applies */
	if ((err = journal_open(path, &fresh, &c.j)) != WH_OK ||
	    (err = journal_txn_begin(c.j, JOURNAL_TXN_MAINTENANCE)) != WH_OK)
		goto out;
	err = journal_salvage_read(aside, on_event, on_quarantine, &c, &counts);
	if (err == WH_OK) {
		err = journal_ledger_take(c.j, aside, &balances);
		if (err == WH_OK)
			snprintf(ledger, sizeof(ledger), "%" PRIu64 " ledger balances kept",
				 balances);
		else if (err == WH_ERR_CORRUPT)
			snprintf(ledger, sizeof(ledger),
				 "the ledger was lost (%s): balances restart at zero",
				 journal_errmsg(c.j));
		err = err == WH_ERR_CORRUPT ? WH_OK : err;
	}
	if (err == WH_OK) {
		snprintf(report, len,
			 "journal failed its integrity check (%s) and was moved to %s; new journal "
			 "%s holds %" PRIu64 " salvaged unacknowledged events (the old one was "
			 "acknowledged through seq %" PRIu64 ") and %" PRIu64
			 " quarantined records; %" PRIu64
			 " events could not be decoded, %d damaged "
			 "stretches were skipped; spool files still in the folder are read again; "
			 "%s; control totals count from seq %" PRIu64,
			 why, aside, journal_id(c.j), c.appended, counts.acked_through,
			 c.quarantined, c.undecodable, counts.read_errors, ledger,
			 journal_next_seq(c.j));
		err = journal_meta_set(c.j, "salvage_report", report);
	}
	err = journal_txn_end(c.j, err);
	if (err == WH_OK)
		prune_damaged(path, keep);
out:
	if (err != WH_OK && c.j != NULL)
		log_errx("salvage: %s: %s", wh_strerror(err), journal_errmsg(c.j));
	journal_close(c.j);
	return err;
}
