/* Source cursors in the journal (spool file and offset, table high-water mark), written in
 * the same transaction as the events they cover. */
#ifndef WHAGENT_JOURNAL_CURSOR_H
#define WHAGENT_JOURNAL_CURSOR_H

#include <stddef.h>

#include "err.h"

struct journal;

/* Copies cursor name's position into buf; WH_ERR_NOTFOUND when there is none. */
wh_err journal_cursor_get(struct journal *j, const char *name, char *buf, size_t len);
/* Inside a write transaction (WH_ERR_INVAL otherwise): sets cursor name to position. */
wh_err journal_cursor_set(struct journal *j, const char *name, const char *position);
/* Deletes cursor name (in the caller's transaction or one of its own). */
wh_err journal_cursor_delete(struct journal *j, const char *name);
/* Calls cb for every cursor name (for clean-up of stale ones). */
wh_err journal_cursor_each(struct journal *j, void (*cb)(const char *name, void *arg), void *arg);

#endif
