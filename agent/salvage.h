/* A journal that fails SQLite's integrity check at start is moved aside, what SQLite can
 * still read of it is copied into a fresh journal (new journal_id, new seqs), and a report
 * says what was salvaged. The newest damaged journals are kept ([journal] damaged_keep). */
#ifndef WHAGENT_SALVAGE_H
#define WHAGENT_SALVAGE_H

#include <stddef.h>

#include "err.h"

struct journal_opts;

/* Checks the journal at path; if damaged, salvages it as above, then deletes damaged journals
 * moved aside before but the newest keep (this one counts). report gets a text for the log and
 * for `whagent status` (empty when the journal was sound). WH_OK also after a salvage; an
 * error only when the check or the salvage itself could not run. */
wh_err salvage_if_damaged(const char *path, const struct journal_opts *o, int keep, char *report,
			  size_t len);

#endif
