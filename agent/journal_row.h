/* Inside the journal module (journal.c, journal_salvage.c): reading a quarantine row. */
#ifndef WHAGENT_JOURNAL_ROW_H
#define WHAGENT_JOURNAL_ROW_H

#include <sqlite3.h>

#include "journal.h"

/* Fills q from a row of id, input, source, position, received_at, reason, format, context,
 * raw; q borrows the row's values until the statement steps again. */
void journal_read_quarantined(sqlite3_stmt *s, struct journal_quarantined *q);

#endif
