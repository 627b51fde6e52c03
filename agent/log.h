/* Logging to stderr in the ntpd style: log_warn appends strerror(errno), log_warnx does not.
 * Under systemd (JOURNAL_STREAM set) lines carry <N> syslog priority prefixes. */
#ifndef WHAGENT_LOG_H
#define WHAGENT_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h" /* WH_PRINTF */

enum log_level { LOG_LVL_ERR = 3, LOG_LVL_WARN = 4, LOG_LVL_INFO = 6, LOG_LVL_DEBUG = 7 };

/* Sets the most verbose level printed (default info). */
void log_set_level(enum log_level level);
/* Parses "error", "warn", "info" or "debug"; returns -1 if unknown. */
int log_level_parse(const char *name);

void log_warn(const char *fmt, ...) WH_PRINTF(1, 2);
void log_warnx(const char *fmt, ...) WH_PRINTF(1, 2);
void log_errx(const char *fmt, ...) WH_PRINTF(1, 2);
void log_info(const char *fmt, ...) WH_PRINTF(1, 2);
void log_debug(const char *fmt, ...) WH_PRINTF(1, 2);
/* Copies n bytes of text from outside (a file name, a reason, raw record bytes; NULL is "")
 * into dst for a log line, a status or a terminal: control characters, backslashes, bytes
 * that are not valid UTF-8, C1 controls, line separators and bidirectional overrides become
 * \xNN. Always NUL-terminated; what does not fit is cut at a character and marked "...".
 * Returns the length written. Every log line also gets this (backslashes kept) as a last
 * guard: one call, one line. */
size_t log_escape(char *dst, size_t dstlen, const char *src, size_t n);
/* The same, written to f whatever n is. */
void log_escape_write(FILE *f, const char *src, size_t n);

/* Lines about outside input (a record, a POST, a file, a message) through a limit of their
 * own: at most burst lines per period_s (0: LOG_LIMIT_BURST, LOG_LIMIT_PERIOD_S); the next
 * line let through says how many were held back. Zero-initialised but for those two. */
enum { LOG_LIMIT_BURST = 20, LOG_LIMIT_PERIOD_S = 10 };
struct log_limit {
	unsigned burst;
	int period_s;
	int64_t start;
	unsigned n;
	uint64_t held;
};
void log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...) WH_PRINTF(3, 4);
/* A limited line at this call site (a static limit of its own). */
#define LOG_LIMITED(level, ...)                                                                    \
	do {                                                                                       \
		static struct log_limit log_limit_;                                                \
		log_limited(&log_limit_, level, __VA_ARGS__);                                      \
	} while (0)
/* Lines held back since the start, for the metrics. */
uint64_t log_held_total(void);

/* Start-up only: log and exit(1). */
void fatalx(const char *fmt, ...) WH_PRINTF(1, 2) __attribute__((noreturn));

#endif
