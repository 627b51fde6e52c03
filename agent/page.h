/* The status page for site staff (GET / on the HTTP listener): HTML with every number
 * rendered on the server (readable without JS), the CSS and a little JS embedded in the
 * binary (agent/ui/, turned into C arrays at build time), refreshed from GET
 * /v1/status?detail=1. Everything that came from outside (reasons, raw records, positions,
 * SKUs, error texts) is HTML-escaped. Read only. Loop thread only. */
#ifndef WHAGENT_PAGE_H
#define WHAGENT_PAGE_H

#include <stddef.h>

#include "err.h"

struct cJSON;
struct journal;

#define PAGE_QUARANTINE_ROWS 20	 /* the newest quarantine entries shown */
#define PAGE_RECENT_EVENTS   10	 /* the last events shown */
#define PAGE_RAW_BYTES	     240 /* of each quarantined record's raw bytes */

/* Adds "quarantine" (the newest entries: id, received_at_ms, input, position, reason, raw
 * as text, truncated) and "recent" (the last events still in the journal, decoded) to o. */
wh_err page_add_journal(struct journal *j, struct cJSON *o);

/* The HTML page for the status document doc (status_doc plus health_json and
 * page_add_journal, with detail). Caller frees with wh_free; NULL when memory runs out. */
char *page_render(const struct cJSON *doc);

/* s with &, <, >, " and ' as character references, in a new string (wh_free); NULL: out of
 * memory. */
char *page_escape(const char *s);

#endif
