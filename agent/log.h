/* Logging to stderr in the ntpd style: log_warn appends strerror(errno), log_warnx does not.
 * Under systemd (JOURNAL_STREAM set) lines carry <N> syslog priority prefixes. */
#ifndef WHAGENT_LOG_H
#define WHAGENT_LOG_H

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
/* Start-up only: log and exit(1). */
void fatalx(const char *fmt, ...) WH_PRINTF(1, 2) __attribute__((noreturn));

#endif
