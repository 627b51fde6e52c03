/* On-hand snapshots: a consistent copy of the journal's ledger and control totals, encoded as
 * whagent.v1.Snapshot pages of a bounded number of balance rows, one page per call, so that a
 * large warehouse is never one giant message and memory stays flat. Runs on the loop thread. */
#ifndef WHAGENT_SNAPSHOT_H
#define WHAGENT_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct journal;
struct snapshot;

/* Takes a snapshot of j now (see journal_snapshot_begin). site_id and command_id (NULL or ""
 * when taken on schedule) are copied. Caller frees with snapshot_free, which releases the
 * journal's copy. WH_ERR_BUSY while another snapshot of j is open. */
wh_err snapshot_new(struct journal *j, const char *site_id, const char *command_id, int page_rows,
		    struct snapshot **ret_s);
void snapshot_free(struct snapshot *s);

/* Encodes the next page into a new buffer (caller frees with wh_free). WH_ERR_NOTFOUND once
 * every page was returned. */
wh_err snapshot_next_page(struct snapshot *s, uint8_t **ret_buf, size_t *ret_len);

/* What the snapshot is: its id, the seq it is taken at, pages and balance rows. */
uint64_t snapshot_id(const struct snapshot *s);
uint64_t snapshot_as_of_seq(const struct snapshot *s);
uint32_t snapshot_pages(const struct snapshot *s);
uint64_t snapshot_rows(const struct snapshot *s);

#endif
