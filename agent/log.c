/* Logging to stderr; one line per call, with level and, under journald, a priority prefix. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static enum log_level max_level = LOG_LVL_INFO;

void
log_set_level(enum log_level level)
{
	max_level = level;
}

int
log_level_parse(const char *name)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"error", LOG_LVL_ERR},
		     {"warn", LOG_LVL_WARN},
		     {"info", LOG_LVL_INFO},
		     {"debug", LOG_LVL_DEBUG}};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcasecmp(name, names[i].name) == 0)
			return (int)names[i].level;
	return -1;
}

static void
vlog(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	static const char *tags[8] = {"", "", "", "error: ", "warning: ", "", "", "debug: "};
	char line[1024];

	if (level > max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	if (getenv("JOURNAL_STREAM") != NULL)
		fprintf(stderr, "<%d>", (int)level);
	if (errstr != NULL)
		fprintf(stderr, "whagent: %s%s: %s\n", tags[level], line, errstr);
	else
		fprintf(stderr, "whagent: %s%s\n", tags[level], line);
}

#define LOG_BODY(level, errstr)                                                                    \
	do {                                                                                       \
		va_list ap;                                                                        \
		va_start(ap, fmt);                                                                 \
		vlog(level, errstr, fmt, ap);                                                      \
		va_end(ap);                                                                        \
	} while (0)

void
log_warn(const char *fmt, ...)
{
	const char *e = strerror(errno);

	LOG_BODY(LOG_LVL_WARN, e);
}

void
log_warnx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_WARN, NULL);
}

void
log_errx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERR, NULL);
}

void
log_info(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_INFO, NULL);
}

void
log_debug(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_DEBUG, NULL);
}

void
fatalx(const char *fmt, ...)
{
	LOG_BODY(LOG_LVL_ERR, NULL);
	exit(1);
}
