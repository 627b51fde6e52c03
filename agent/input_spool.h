/* Spool-folder input: takes *.csv (RFC 4180 with a header row) and *.jsonl files that the WMS
 * drops in a folder, once complete (renamed in, or unchanged for settle_ms), commits their
 * records with a cursor (file identity + byte offset) in one transaction per group, and moves
 * finished files to done_dir (or deletes them). Runs on the loop thread. */
#ifndef WHAGENT_INPUT_SPOOL_H
#define WHAGENT_INPUT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

struct conf;
struct conf_spool;
struct journal;
struct loop;
struct intake;
struct spool;

/* Starts watching the folder of c's spool input cs (creating done_dir if needed); the input
 * is named cs->name ("spool" or "spool.NAME": quarantine input, cursor prefix, metrics). c and
 * cs are borrowed until spool_free or the next spool_reconfigure; j and l are borrowed.
 * Caller frees with spool_free. On failure, why says what went wrong (for the caller to
 * log). */
wh_err spool_new(const struct conf *c, const struct conf_spool *cs, struct journal *j,
		 struct loop *l, struct spool **ret_sp, char *why, size_t whylen);
void spool_free(struct spool *sp);
/* Takes the settings of a reloaded configuration that has this input, with the same dir,
 * done_dir and max_record_bytes (agent.c keeps the old configuration when those change). */
void spool_reconfigure(struct spool *sp, const struct conf *c);
/* The input's counters (for metrics). */
const struct intake *spool_intake(const struct spool *sp);
/* 1 when no file is ready or being taken (for tests and `run --once`). */
int spool_idle(const struct spool *sp);

#endif
