/* Logging to stderr; one line per call, with level and, under journald, a priority prefix;
 * escaping of text from outside for logs and terminals; rate limits for lines about outside
 * input. */
#include "log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <strings.h>
#include <time.h>

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

/* Length of the character at s to show as it is: printable ASCII, or valid UTF-8 that is
 * not a C1 control, a line or paragraph separator or a bidirectional override; 0 when the
 * byte at s is to be escaped. A backslash is escaped unless keep_backslash. */
static size_t
shown_len(const unsigned char *s, size_t n, int keep_backslash)
{
	size_t len;
	uint32_t cp;

	if (s[0] >= 0x20 && s[0] < 0x7f)
		return s[0] != '\\' || keep_backslash;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	len = s[0] < 0xe0 ? 2 : s[0] < 0xf0 ? 3 : 4;
	if (len > n)
		return 0;
	cp = s[0] & (0x3fu >> (len - 1));
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp < 0xa0 || cp == 0x200e || cp == 0x200f ||
	    (cp >= 0x2028 && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
		return 0;
	return len;
}

/* Bytes that s[0..n) takes escaped. */
static size_t
escaped_len(const unsigned char *s, size_t n, int keep_backslash)
{
	size_t total = 0;

	for (size_t i = 0, len; i < n; i += len ? len : 1) {
		len = shown_len(s + i, n - i, keep_backslash);
		total += len ? len : 4;
	}
	return total;
}

/* Copies src[0..n) escaped into dst, NUL-terminated; what does not fit is cut at a character
 * boundary and marked "...". Returns the length written. */
static size_t
escape(char *dst, size_t dstlen, const char *src, size_t n, int keep_backslash)
{
	const unsigned char *s = (const unsigned char *)src;
	size_t o = 0, i = 0;
	int fits = 0;

	if (dstlen < 4) {
		if (dstlen > 0)
			dst[0] = '\0';
		return 0;
	}
	while (i < n) {
		size_t len = shown_len(s + i, n - i, keep_backslash);
		size_t out = len ? len : 4;

		if (!fits && o + out > dstlen - 4) {
			fits = o + escaped_len(s + i, n - i, keep_backslash) < dstlen;
			if (!fits) {
				memcpy(dst + o, "...", 3);
				o += 3;
				break;
			}
		}
		if (len)
			memcpy(dst + o, s + i, len);
		else
			snprintf(dst + o, 5, "\\x%02x", s[i]);
		o += out;
		i += len ? len : 1;
	}
	dst[o] = '\0';
	return o;
}

size_t
log_escape(char *dst, size_t dstlen, const char *src, size_t n)
{
	return escape(dst, dstlen, src != NULL ? src : "", src != NULL ? n : 0, 0);
}

void
log_escape_write(FILE *f, const char *src, size_t n)
{
	char buf[1024]; /* 200 bytes escaped take at most 800 */

	while (n > 0) {
		size_t take = n < 200 ? n : 200;

		while (take < n && take > 1 && ((unsigned char)src[take] & 0xc0) == 0x80)
			take--; /* the chunk ends where a character does */
		escape(buf, sizeof(buf), src, take, 0);
		fputs(buf, f);
		src += take;
		n -= take;
	}
}

static void
vlog(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	static const char *tags[8] = {"", "", "", "error: ", "warning: ", "", "", "debug: "};
	char line[1024], shown[1024];

	if (level > max_level)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* whatever reached the line from outside: one line, no priority prefix of its own,
	 * nothing a terminal obeys (modules escape what they keep; this is the last guard) */
	escape(shown, sizeof(shown), line, strlen(line), 1);
	if (getenv("JOURNAL_STREAM") != NULL)
		fprintf(stderr, "<%d>", (int)level);
	if (errstr != NULL)
		fprintf(stderr, "whagent: %s%s: %s\n", tags[level], shown, errstr);
	else
		fprintf(stderr, "whagent: %s%s\n", tags[level], shown);
}

static void WH_PRINTF(2, 3) log_at(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
}

static uint64_t held_total;

uint64_t
log_held_total(void)
{
	return held_total;
}

static int
limit_take(struct log_limit *l, uint64_t *ret_held)
{
	struct timespec ts;
	int64_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (int64_t)ts.tv_sec;
	if (l->n == 0 || now - l->start >= (l->period_s ? l->period_s : LOG_LIMIT_PERIOD_S)) {
		*ret_held = l->held;
		l->start = now;
		l->n = 1;
		l->held = 0;
		return 1;
	}
	*ret_held = 0;
	if (l->n < (l->burst ? l->burst : LOG_LIMIT_BURST)) {
		l->n++;
		return 1;
	}
	l->held++;
	held_total++;
	return 0;
}

void
log_limited(struct log_limit *l, enum log_level level, const char *fmt, ...)
{
	uint64_t held;
	va_list ap;

	if (level > max_level || !limit_take(l, &held))
		return;
	if (held > 0)
		log_at(level,
		       "%" PRIu64 " lines like the next were held back (at most %u per %d s)", held,
		       l->burst ? l->burst : LOG_LIMIT_BURST,
		       l->period_s ? l->period_s : LOG_LIMIT_PERIOD_S);
	va_start(ap, fmt);
	vlog(level, NULL, fmt, ap);
	va_end(ap);
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
