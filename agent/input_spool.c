/* Spool folder: scanning and settling of candidates, then reading one file at a time in
 * slices of one journal transaction each (commit_records or commit_ms, whichever first). */
#include "input_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "csv.h"
#include "intake.h"
#include "journal.h"
#include "journal_cursor.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "platform.h"
#include "record.h"
#include "spool_cands.h"

/* Records one JSON Lines line may wrap (under [input.spool] records) at most. */
#define SPOOL_WRAPPED_MAX 10000

#define NAME_MAX_LEN   SPOOL_NAME_MAX
#define READ_CHUNK     65536
#define FULL_RETRY_MS  1000
#define ERROR_RETRY_MS 5000
/* The retention of done_dir: a pass every hour, in slices of entries that yield between. */
#define PRUNE_EVERY_MS (3600 * 1000)
#define PRUNE_SLICE    1000

enum fmt { FMT_CSV, FMT_JSONL };

/* The file being taken. Every field but the buffer derives from the committed cursor. */
struct cur {
	int fd;
	char name[NAME_MAX_LEN + 1];
	enum fmt fmt;
	struct stat st;
	char *buf;
	size_t len, pos; /* valid bytes, consumed bytes */
	uint64_t base;	 /* file offset of buf[0] */
	uint64_t line;	 /* line number of buf[pos] */
	int eof;
	int skipping;	  /* discarding the rest of an over-long line */
	int too_long;	  /* the record found is an over-long line's prefix: skip once taken */
	char *header_raw; /* CSV header text, for quarantine context */
	const char *header_err;
	char header_bad[400]; /* why the header cannot work (no kind, wrong delimiter), or "" */
	struct csv_row header;
	int header_fields[CSV_MAX_FIELDS];	 /* event_map_field of each header column */
	uint64_t taken, duplicates, quarantined; /* committed since the file was opened */
	uint64_t resumed_at;			 /* the line a restart resumed at; 0: read whole */
};

struct spool {
	const struct conf *conf;
	const struct conf_spool *cs;	/* this input's section in conf */
	char name[CONF_SPOOL_NAME_MAX]; /* input name: "spool" or "spool.NAME" */
	struct journal *journal;
	struct loop *loop;
	struct platform_watch *watch;
	struct loop_timer scan_timer, work_timer, prune_timer;
	DIR *prune_dir;	 /* done_dir, while a pass of the retention goes through it */
	uid_t owner_uid; /* [input.spool] owner, when check_owner */
	int check_owner;
	uint64_t pruned; /* files that pass deleted */
	struct intake intake;
	struct cands cands;
	struct cur cur;
	int have_cur;
	struct csv_row row;
	struct record rec;
	int full_logged;
};

static int
format_of(const char *name, enum fmt *ret)
{
	size_t n = strlen(name);

	if (name[0] == '.')
		return -1;
	if (n > 4 && strcasecmp(name + n - 4, ".csv") == 0)
		*ret = FMT_CSV;
	else if (n > 6 && strcasecmp(name + n - 6, ".jsonl") == 0)
		*ret = FMT_JSONL;
	else
		return -1; /* includes .tmp, .part and other temporary names */
	return 0;
}

/* The journal cursor of a file: "spool:FILE" for [input.spool], "spool.NAME:FILE". */
static void
cursor_name(const struct spool *sp, const char *file, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%s", sp->name, file);
}

/* Cursor text: identity of the file (dev, inode, and size and mtime when it was last read),
 * then where the committed part ends; " skip=1" when that is inside an over-long line whose
 * rest is being discarded (absent in cursors of earlier versions). */
struct cursor_pos {
	uintmax_t dev, ino;
	intmax_t size, mtime_s;
	long mtime_ns;
	uint64_t off, line;
	int done, skip;
};

static void
cursor_format(const struct stat *st, uint64_t off, uint64_t line, int done, int skip, char *buf,
	      size_t len)
{
	snprintf(buf, len,
		 "dev=%ju ino=%ju size=%jd mtime=%jd.%09ld off=%" PRIu64 " line=%" PRIu64
		 " done=%d%s",
		 (uintmax_t)st->st_dev, (uintmax_t)st->st_ino, (intmax_t)st->st_size,
		 (intmax_t)st->st_mtim.tv_sec, st->st_mtim.tv_nsec, off, line, done,
		 skip ? " skip=1" : "");
}

static int
cursor_parse(const char *text, struct cursor_pos *p)
{
	int n = sscanf(text,
		       "dev=%ju ino=%ju size=%jd mtime=%jd.%ld off=%" SCNu64 " line=%" SCNu64
		       " done=%d skip=%d",
		       &p->dev, &p->ino, &p->size, &p->mtime_s, &p->mtime_ns, &p->off, &p->line,
		       &p->done, &p->skip);

	if (n == 8)
		p->skip = 0;
	return n == 8 || n == 9 ? 0 : -1;
}

/* 1: name has a committed cursor for this very file (same device and inode); 0: none, or one
 * left by another file of that name; -1: the journal could not be read. */
static int
cursor_lookup(struct spool *sp, const char *name, const struct stat *st, struct cursor_pos *p)
{
	char cname[NAME_MAX_LEN + CONF_SPOOL_NAME_MAX + 2], text[256];
	wh_err err;

	cursor_name(sp, name, cname, sizeof(cname));
	err = journal_cursor_get(sp->journal, cname, text, sizeof(text));
	if (err == WH_ERR_NOTFOUND)
		return 0;
	if (err != WH_OK)
		return -1;
	if (cursor_parse(text, p) != 0) {
		log_warnx("spool: ignoring an unreadable cursor for %s: %s", name, text);
		return 0;
	}
	return p->dev == (uintmax_t)st->st_dev && p->ino == (uintmax_t)st->st_ino;
}

/* A done cursor stands only while the file is exactly as it was when it was finished. */
static int
unchanged_since(const struct cursor_pos *p, const struct stat *st)
{
	return p->size == (intmax_t)st->st_size && p->mtime_s == (intmax_t)st->st_mtim.tv_sec &&
	       p->mtime_ns == st->st_mtim.tv_nsec;
}

/* --- candidates ------------------------------------------------------------------------ */

static enum cand_refusal
refusal_of(const struct spool *sp, const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return CAND_SYMLINK;
	if (!S_ISREG(st->st_mode))
		return CAND_NOT_REGULAR;
	if (st->st_nlink > 1)
		return CAND_LINKED;
	return sp->check_owner && st->st_uid != sp->owner_uid ? CAND_OWNER : CAND_OK;
}

/* Says once per file and reason why a file named like input is not read. */
static void
refuse(struct spool *sp, struct cand *c, enum cand_refusal why)
{
	static const char *const text[] = {
		[CAND_SYMLINK] = "a symbolic link: links are never followed; move the file itself "
				 "in",
		[CAND_NOT_REGULAR] = "not a regular file (a FIFO, device, socket or folder)",
		[CAND_LINKED] = "it has other hard links: read once the upload has removed them "
				"(a file linked in from elsewhere is never read)",
		[CAND_OWNER] = "it belongs to another user than [input.spool] owner",
	};

	if (c->refused != why && why != CAND_OK)
		LOG_LIMITED(LOG_LVL_WARN, "%s: not reading %s: %s", sp->name, c->name, text[why]);
	c->refused = why;
}

static void
cand_update(struct spool *sp, const char *name, const struct stat *st, int64_t now)
{
	struct cand *c = cands_find(&sp->cands, name);
	int64_t mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;

	if (c == NULL) {
		struct cursor_pos pos;

		c = cands_add(&sp->cands, name);
		if (c == NULL)
			return; /* retried on the next scan */
		c->stable_since = now;
		/* A file with a committed cursor was complete when it was started: resume now. */
		c->moved_in = S_ISREG(st->st_mode) && cursor_lookup(sp, name, st, &pos) == 1;
	} else if (c->size != st->st_size || c->mtime_ns != mtime_ns) {
		c->stable_since = now;
	}
	c->size = st->st_size;
	c->mtime_ns = mtime_ns;
	c->seen = 1;
	refuse(sp, c, refusal_of(sp, st));
}

static int
cand_ready(const struct spool *sp, const struct cand *c, int64_t now)
{
	return !c->gone && c->refused == CAND_OK &&
	       (c->moved_in || now - c->stable_since >= sp->cs->settle_ms);
}

static void
scan(struct spool *sp)
{
	int64_t now = platform_mono_ms(), next = sp->cs->rescan_ms;
	DIR *d = opendir(sp->cs->dir);
	struct dirent *de;
	enum fmt f;

	if (d == NULL) {
		log_warn("spool: cannot read %s", sp->cs->dir);
		loop_timer_arm(&sp->scan_timer, sp->cs->rescan_ms);
		return;
	}
	cands_scan_begin(&sp->cands);
	while ((de = readdir(d)) != NULL) {
		struct stat st;

		if (format_of(de->d_name, &f) != 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		cand_update(sp, de->d_name, &st, now);
	}
	closedir(d);
	cands_scan_end(&sp->cands, sp->have_cur ? sp->cur.name : NULL);
	for (int i = 0; i < sp->cands.n; i++) {
		struct cand *c = &sp->cands.v[i];

		if (cand_ready(sp, c, now))
			loop_timer_arm_soon(&sp->work_timer, 0);
		else if (c->refused == CAND_OK && c->stable_since + sp->cs->settle_ms - now < next)
			next = c->stable_since + sp->cs->settle_ms - now;
	}
	loop_timer_arm(&sp->scan_timer, next);
}

static void
on_scan_timer(void *arg)
{
	scan(arg);
}

static void
on_watch_event(const char *name, int moved_in, void *arg)
{
	struct spool *sp = arg;
	enum fmt f;

	if (format_of(name, &f) == 0 && moved_in)
		cands_moved_in(&sp->cands, name);
}

static void
on_watch_fd(int fd, short revents, void *arg)
{
	struct spool *sp = arg;

	(void)fd;
	(void)revents;
	if (platform_watch_drain(sp->watch, on_watch_event, sp) != 0)
		log_warn("spool: reading the folder watch");
	loop_timer_arm(&sp->scan_timer, 0);
}

/* The ready candidate that comes first by name: WMS exports usually sort by time. */
static struct cand *
next_ready(struct spool *sp)
{
	int64_t now = platform_mono_ms();

	for (int i = 0; i < sp->cands.n; i++)
		if (cand_ready(sp, &sp->cands.v[i], now))
			return &sp->cands.v[i];
	return NULL;
}

/* --- the current file ------------------------------------------------------------------ */

static void
cur_close(struct spool *sp)
{
	if (!sp->have_cur)
		return;
	close(sp->cur.fd);
	wh_free(sp->cur.header_raw);
	sp->cur.header_raw = NULL;
	sp->have_cur = 0;
}

/* Reads more of the file into the buffer, keeping the unconsumed part. */
static int
cur_fill(struct spool *sp)
{
	struct cur *c = &sp->cur;
	size_t cap = (size_t)sp->cs->max_record_bytes + READ_CHUNK;
	ssize_t n;

	if (c->pos > 0) {
		memmove(c->buf, c->buf + c->pos, c->len - c->pos);
		c->base += c->pos;
		c->len -= c->pos;
		c->pos = 0;
	}
	if (c->len == cap || c->eof)
		return 0;
	do
		n = read(c->fd, c->buf + c->len, cap - c->len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0)
		c->eof = 1;
	c->len += (size_t)n;
	return 0;
}

static uint64_t
count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;

	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))) != NULL; p++)
		lines++;
	return lines;
}

static void
consume(struct cur *c, size_t n)
{
	c->line += count_lines(c->buf + c->pos, n);
	c->pos += n;
}

/* A header that parsed but cannot yield events: no column maps to kind. Says why once, with
 * the likely fix, and makes every record of the file quarantined with that reason. */
static void
header_check(struct spool *sp)
{
	static const struct {
		char ch;
		const char *name;
	} delims[] = {{',', "comma"}, {';', "semicolon"}, {'\t', "tab"}, {'|', "pipe"}};
	struct cur *c = &sp->cur;
	const char *map = sp->cs->map;
	char cols[256], *w = cols;
	size_t left = sizeof(cols);

	c->header_bad[0] = '\0';
	if (c->header.nfields == 0)
		return;
	for (int i = 0; i < c->header.nfields; i++)
		if (c->header_fields[i] == EF_KIND)
			return;
	for (int i = 0; i < c->header.nfields && left > 8; i++) {
		char one[128]; /* a long one is cut and marked "..." */
		int n;

		log_escape(one, sizeof(one), c->header.field[i], strlen(c->header.field[i]));
		n = snprintf(w, left, "%s'%s'", i ? ", " : "", one);
		if (n < 0 || (size_t)n >= left)
			break;
		w += n, left -= (size_t)n;
	}
	if (c->header.nfields == 1) {
		for (size_t d = 0; d < sizeof(delims) / sizeof(delims[0]); d++) {
			if (delims[d].ch == conf_delimiter(sp->cs) ||
			    strchr(c->header.field[0], delims[d].ch) == NULL)
				continue;
			snprintf(c->header_bad, sizeof(c->header_bad),
				 "the header has one column %s: is delimiter = %s?", cols,
				 delims[d].name);
			goto out;
		}
	}
	if (map[0] != '\0')
		snprintf(c->header_bad, sizeof(c->header_bad),
			 "no column of the header (%s) maps to kind: add kind = COLUMN to [map.%s]",
			 cols, map);
	else
		snprintf(c->header_bad, sizeof(c->header_bad),
			 "no column of the header (%s) is kind: name the WMS's column in a "
			 "[map.NAME] section (kind = COLUMN) and set map = NAME in [input.spool]",
			 cols);
out:
	log_warnx("spool: %s: %s; its records are quarantined with this reason", c->name,
		  c->header_bad);
}

/* Reads and parses the CSV header at the start of the file. */
static int
read_header(struct spool *sp)
{
	struct cur *c = &sp->cur;
	const char *why = NULL;
	size_t used = 0;
	enum csv_result r;

	for (;;) {
		if (c->len - c->pos >= 3 && c->base + c->pos == 0 &&
		    memcmp(c->buf, "\xef\xbb\xbf", 3) == 0)
			c->pos = 3; /* UTF-8 byte order mark of spreadsheet exports */
		r = csv_parse(&c->header, c->buf + c->pos, c->len - c->pos, c->eof,
			      conf_delimiter(sp->cs), &used, &why);
		if (r != CSV_MORE || c->eof)
			break;
		if (c->len - c->pos >= (size_t)sp->cs->max_record_bytes) {
			r = CSV_ERR; /* its lines are quarantined, the header with them */
			why = "header row longer than max_record_bytes";
			break;
		}
		if (cur_fill(sp) != 0)
			return -1;
	}
	if (r == CSV_MORE) { /* empty file */
		c->header.nfields = 0;
		return 0;
	}
	c->header_raw = wh_strndup(c->buf + c->pos,
				   used && c->buf[c->pos + used - 1] == '\n' ? used - 1 : used);
	if (c->header_raw == NULL)
		return -1;
	if (r == CSV_ERR)
		c->header_err = why;
	for (int i = 0; i < c->header.nfields; i++)
		c->header_fields[i] = event_map_field(&sp->intake.map, c->header.field[i]);
	if (r != CSV_ERR)
		header_check(sp);
	consume(c, used);
	return 0;
}

static int
cur_seek(struct cur *c, uint64_t off, uint64_t line)
{
	if (lseek(c->fd, (off_t)off, SEEK_SET) < 0)
		return -1;
	c->base = off;
	c->len = c->pos = 0;
	c->line = line;
	c->eof = 0;
	return 0;
}

static int cur_finish(struct spool *sp);

/* The file changed into one not to read between the scan and the open: said once, left to
 * the next scan. -2. */
static int
refuse_open(struct spool *sp, const char *name, enum cand_refusal why)
{
	struct cand *c = cands_find(&sp->cands, name);

	if (c != NULL)
		refuse(sp, c, why);
	return -2;
}

/* Opens name and positions it at its committed cursor. 1 if the file is already done; -2 if
 * it is refused (said); -1 on an error (errno). */
static int
cur_open(struct spool *sp, const char *name)
{
	struct cur *c = &sp->cur;
	struct cursor_pos pos;
	int found;

	memset(&pos, 0, sizeof(pos));
	c->fd = openat(AT_FDCWD, sp->cs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->fd < 0)
		return -1;
	{
		int dfd = c->fd;

		/* no link followed, and a FIFO swapped in since the scan cannot block the open */
		c->fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
		close(dfd);
	}
	if (c->fd < 0 && errno == ELOOP)
		return refuse_open(sp, name, CAND_SYMLINK);
	if (c->fd < 0)
		return -1;
	if (fstat(c->fd, &c->st) != 0) {
		close(c->fd);
		return -1;
	}
	if (refusal_of(sp, &c->st) != CAND_OK) {
		close(c->fd);
		return refuse_open(sp, name, refusal_of(sp, &c->st));
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	format_of(name, &c->fmt);
	c->base = c->len = c->pos = 0;
	c->line = 1;
	c->eof = c->skipping = c->too_long = 0;
	c->header_err = NULL;
	c->header_bad[0] = '\0';
	c->header_raw = NULL;
	c->taken = c->duplicates = c->quarantined = c->resumed_at = 0;
	sp->have_cur = 1;
	found = cursor_lookup(sp, name, &c->st, &pos);
	if (found < 0)
		return -1;
	if (found && pos.done && unchanged_since(&pos, &c->st))
		return 1;
	if (c->fmt == FMT_CSV && read_header(sp) != 0)
		return -1;
	if (found && pos.off > c->base + c->pos) {
		if (cur_seek(c, pos.off, pos.line) != 0)
			return -1;
		log_info("spool: resuming %s at line %" PRIu64, name, pos.line);
		c->resumed_at = pos.line;
		c->skipping = pos.skip;
	}
	return 0;
}

/* --- records --------------------------------------------------------------------------- */

enum next { NEXT_RECORD, NEXT_BAD, NEXT_SKIP, NEXT_EOF, NEXT_MORE };

/* Finds the next record at buf[pos]: *ret_used bytes of raw text. */
static enum next
next_record(struct spool *sp, size_t *ret_used, const char **ret_why)
{
	struct cur *c = &sp->cur;
	const char *p = c->buf + c->pos, *nl;
	size_t avail = c->len - c->pos, max = (size_t)sp->cs->max_record_bytes;

	if (avail == 0)
		return c->eof ? NEXT_EOF : NEXT_MORE;
	nl = memchr(p, '\n', avail);
	if (c->skipping) {
		*ret_used = nl ? (size_t)(nl - p) + 1 : avail;
		c->skipping = nl == NULL;
		return NEXT_SKIP;
	}
	if (c->fmt == FMT_CSV) {
		enum csv_result r = csv_parse(&sp->row, p, avail, c->eof, conf_delimiter(sp->cs),
					      ret_used, ret_why);

		if (r == CSV_ROW)
			return NEXT_RECORD;
		if (r == CSV_ERR)
			return NEXT_BAD;
	} else if (nl != NULL || c->eof) {
		*ret_used = nl ? (size_t)(nl - p) + 1 : avail;
		return NEXT_RECORD;
	}
	if (avail < max)
		return NEXT_MORE;
	/* No record end within the limit: quarantine a prefix, discard the rest of the line. */
	*ret_used = max;
	c->too_long = 1; /* the skipping starts once its prefix is quarantined */
	*ret_why = "longer than max_record_bytes: its first max_record_bytes are kept here, the "
		   "rest of the line was skipped";
	return NEXT_BAD;
}

static int
blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

struct wrapped_ctx {
	struct spool *sp;
	const char *position;
};

/* One record found under [input.spool] records in a JSON Lines line. */
static wh_err
on_wrapped(const struct record_item *it, void *arg)
{
	struct wrapped_ctx *w = arg;
	char position[NAME_MAX_LEN + 64];
	struct intake_outcome out;
	struct intake_raw raw = {
		.position = position, .format = "jsonl", .bytes = it->raw, .len = it->raw_len};

	snprintf(position, sizeof(position), "%s, record %d", w->position, it->index + 1);
	if (it->err != WH_OK)
		return intake_reject(&w->sp->intake, &raw, it->why, &out);
	return intake_record(&w->sp->intake, it->r, NULL, &raw, &out);
}

/* A JSON Lines line whose records are at the [input.spool] records pointer. */
static wh_err
take_wrapped(struct spool *sp, struct intake_raw *raw)
{
	struct wrapped_ctx w = {sp, raw->position};
	struct intake_outcome out;
	char why[320];
	wh_err err;

	err = record_body_each_at(1, sp->cs->records, raw->bytes, raw->len, SPOOL_WRAPPED_MAX,
				  on_wrapped, &w, why, sizeof(why));
	if (err == WH_ERR_TOOBIG)
		return intake_reject(&sp->intake, raw, why, &out);
	return err;
}

/* "NAME line N" into buf, of NAME_MAX_LEN + 32 bytes at least, for a name of NAME_MAX_LEN at
 * most: per record, where snprintf was 2% of a CSV record's capture. */
static void
line_position(char *buf, const char *name, uint64_t line)
{
	char digits[20];
	size_t n = strnlen(name, NAME_MAX_LEN), d = 0;

	memcpy(buf, name, n);
	memcpy(buf + n, " line ", 6);
	n += 6;
	do
		digits[d++] = (char)('0' + line % 10);
	while ((line /= 10) > 0);
	while (d > 0)
		buf[n++] = digits[--d];
	buf[n] = '\0';
}

/* Takes the record of used bytes at buf[pos]: validated and appended, or quarantined. */
static wh_err
take(struct spool *sp, size_t used, const char *parse_why)
{
	struct cur *c = &sp->cur;
	const char *p = c->buf + c->pos;
	size_t rawlen = used;
	char position[NAME_MAX_LEN + 32], why[320];
	struct intake_outcome out;
	struct intake_raw raw;
	wh_err err;

	while (rawlen > 0 && (p[rawlen - 1] == '\n' || p[rawlen - 1] == '\r'))
		rawlen--;
	if (parse_why == NULL && blank(p, rawlen))
		return WH_OK;
	line_position(position, c->name, c->line);
	raw = (struct intake_raw){.position = position,
				  .format = c->fmt == FMT_CSV ? "csv" : "jsonl",
				  .context = c->header_raw,
				  .bytes = p,
				  .len = rawlen,
				  .full_len = c->too_long ? SIZE_MAX : 0};
	if (parse_why == NULL && c->fmt == FMT_CSV && c->header_err != NULL)
		parse_why = "the header row (line 1) is malformed";
	if (parse_why == NULL && c->fmt == FMT_CSV && c->header_bad[0] != '\0')
		parse_why = c->header_bad;
	if (parse_why != NULL)
		return intake_reject(&sp->intake, &raw, parse_why, &out);
	if (c->fmt != FMT_CSV && sp->cs->records[0] != '\0')
		return take_wrapped(sp, &raw);
	if (c->fmt == FMT_CSV)
		err = record_from_csv(&sp->rec, &c->header, &sp->row, why, sizeof(why));
	else
		err = record_from_json(&sp->rec, p, rawlen, why, sizeof(why));
	if (err == WH_ERR_INVAL)
		return intake_reject(&sp->intake, &raw, why, &out);
	if (err != WH_OK)
		return err;
	return intake_record(&sp->intake, &sp->rec, c->fmt == FMT_CSV ? c->header_fields : NULL,
			     &raw, &out);
}

/* At the end of the data read: 1 if the file has grown meanwhile, else records its final
 * size and mtime for the done cursor. */
static int
grown(struct cur *c)
{
	struct stat st;

	if (fstat(c->fd, &st) != 0)
		return 0;
	if ((uint64_t)st.st_size > c->base + c->len) {
		c->eof = 0;
		return 1;
	}
	c->st = st;
	return 0;
}

static wh_err
commit_slice(struct spool *sp, int done)
{
	struct cur *c = &sp->cur;
	char cname[NAME_MAX_LEN + CONF_SPOOL_NAME_MAX + 2], text[256];
	wh_err err;

	cursor_name(sp, c->name, cname, sizeof(cname));
	cursor_format(&c->st, c->base + c->pos, c->line, done, c->skipping, text, sizeof(text));
	err = journal_txn_end(sp->journal, journal_cursor_set(sp->journal, cname, text));
	if (err == WH_OK) {
		const struct intake_counts *p = &sp->intake.pending;

		for (int k = 0; k <= EVENT_SHIPMENT; k++)
			c->taken += p->taken[k];
		c->duplicates += p->duplicates;
		c->quarantined += p->unparsable + p->invalid;
		intake_committed(&sp->intake);
	} else
		intake_rolled_back(&sp->intake);
	return err;
}

/* One transaction's worth of the current file. 1 when the file is finished. */
static int
slice(struct spool *sp, wh_err *ret_err)
{
	int64_t until = platform_mono_ms() + sp->conf->journal.commit_ms;
	long n = 0;
	int finished = 0;
	wh_err err;

	if ((err = journal_txn_begin(sp->journal, JOURNAL_TXN_APPEND)) != WH_OK)
		goto out;
	/* Bounded in records and time, also inside an over-long line being discarded (the cursor
	 * says so): a huge line is skipped in slices that let the loop run in between. */
	while (n < sp->conf->journal.commit_records && platform_mono_ms() < until) {
		const char *why = NULL;
		size_t used = 0;
		enum next k = next_record(sp, &used, &why);

		if (k == NEXT_MORE) {
			if (cur_fill(sp) != 0) {
				log_warn("spool: reading %s", sp->cur.name);
				err = WH_ERR_IO;
				break;
			}
			continue;
		}
		if (k == NEXT_EOF) {
			if (grown(&sp->cur))
				continue; /* written to after it settled: read on */
			finished = 1;
			break;
		}
		if (k != NEXT_SKIP) {
			err = take(sp, used, k == NEXT_BAD ? why : NULL);
			if (err == WH_ERR_FULL && n > 0) {
				err = WH_OK; /* the budget took what came before: commit that */
				sp->cur.too_long = 0; /* read again: quarantined next time */
				break;
			}
			if (err != WH_OK) {
				sp->cur.too_long = 0;
				break;
			}
			n++;
		}
		if (sp->cur.too_long) {
			sp->cur.skipping = 1;
			sp->cur.too_long = 0;
		}
		consume(&sp->cur, used);
	}
	if (err == WH_OK) {
		err = commit_slice(sp, finished);
	} else {
		journal_txn_end(sp->journal, err);
		intake_rolled_back(&sp->intake);
	}
out:
	*ret_err = err;
	return err == WH_OK && finished;
}

static void
sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Moves (or deletes) a fully committed file, makes that durable, then forgets its cursor.
 * If the name meanwhile holds another file (a re-export renamed over it), that file is left
 * for the next scan. */
static int
cur_finish(struct spool *sp)
{
	struct cur *c = &sp->cur;
	char cname[NAME_MAX_LEN + CONF_SPOOL_NAME_MAX + 2], dst[4096 + NAME_MAX_LEN + 32];
	struct stat now;
	int dfd, rc;

	dfd = open(sp->cs->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	rc = fstatat(dfd, c->name, &now, AT_SYMLINK_NOFOLLOW);
	if (rc == 0 && (now.st_dev != c->st.st_dev || now.st_ino != c->st.st_ino)) {
		log_info("spool: %s was replaced by a new file while being read; taking that next",
			 c->name);
	} else if (rc == 0 && sp->cs->on_done == CONF_DONE_DELETE) {
		rc = unlinkat(dfd, c->name, 0);
	} else if (rc == 0) {
		struct stat st;

		snprintf(dst, sizeof(dst), "%s/%s", sp->cs->done_dir, c->name);
		if (stat(dst, &st) == 0) /* keep both: the earlier one is evidence */
			snprintf(dst, sizeof(dst), "%s/%s.%" PRId64, sp->cs->done_dir, c->name,
				 platform_now_ms());
		rc = renameat(dfd, c->name, AT_FDCWD, dst);
		if (rc == 0)
			sync_dir(sp->cs->done_dir);
	}
	if (rc == 0)
		fsync(dfd); /* the move is durable before the cursor that guards it goes */
	close(dfd);
	if (rc != 0 && errno != ENOENT)
		return -1;
	cursor_name(sp, c->name, cname, sizeof(cname));
	if (journal_cursor_delete(sp->journal, cname) != WH_OK)
		log_warnx("spool: forgetting the cursor of %s: %s", c->name,
			  journal_errmsg(sp->journal));
	return 0;
}

/* The per-file summary: what was taken, and what was not and where to look. */
static void
log_done(const struct spool *sp, const struct cur *c)
{
	char dup[48] = "", quar[160] = "";

	if (c->taken + c->duplicates + c->quarantined == 0 && c->line <= 1)
		return; /* nothing read in this run: moved after a restart */
	if (c->duplicates > 0)
		snprintf(dup, sizeof(dup), ", %" PRIu64 " duplicate%s", c->duplicates,
			 c->duplicates == 1 ? "" : "s");
	if (c->quarantined > 0)
		snprintf(quar, sizeof(quar), ", %" PRIu64 " quarantined: whagent quarantine list",
			 c->quarantined);
	if (c->resumed_at > 0) /* the counts cover what this run read */
		snprintf(quar + strlen(quar), sizeof(quar) - strlen(quar),
			 " (counted from line %" PRIu64 ", where a restart resumed)",
			 c->resumed_at);
	if (c->quarantined > 0)
		LOG_LIMITED(LOG_LVL_WARN, "%s: %s done: %" PRIu64 " taken%s%s", sp->name, c->name,
			    c->taken, dup, quar);
	else
		LOG_LIMITED(LOG_LVL_INFO, "%s: %s done: %" PRIu64 " taken%s%s", sp->name, c->name,
			    c->taken, dup, quar);
}

static void
file_done(struct spool *sp)
{
	struct cand *c = cands_find(&sp->cands, sp->cur.name);

	if (cur_finish(sp) != 0) {
		log_warn("spool: %s is taken but cannot be moved to %s (will retry)", sp->cur.name,
			 sp->cs->on_done == CONF_DONE_DELETE ? "deletion" : sp->cs->done_dir);
		if (c != NULL)
			c->moved_in = 0, c->stable_since = platform_mono_ms();
		cur_close(sp);
		return;
	}
	log_done(sp, &sp->cur);
	cands_remove(&sp->cands, sp->cur.name);
	cur_close(sp);
}

static void
on_full(struct spool *sp)
{
	if (!sp->full_logged)
		log_warnx("spool: holding files back: %s", journal_errmsg(sp->journal));
	sp->full_logged = 1;
	cur_close(sp);
	loop_timer_arm(&sp->work_timer, FULL_RETRY_MS);
}

static void
on_work(void *arg)
{
	struct spool *sp = arg;
	struct cand *c;
	wh_err err = WH_OK;
	int r;

	if (!sp->have_cur) {
		c = next_ready(sp);
		if (c == NULL)
			return;
		r = cur_open(sp, c->name);
		if (r == -2) {
			loop_timer_arm(&sp->work_timer, 0);
			return;
		}
		if (r < 0) {
			LOG_LIMITED(LOG_LVL_WARN, "spool: cannot open %s: %s", c->name,
				    strerror(errno));
			cands_remove(&sp->cands, c->name); /* seen again on the next scan */
			cur_close(sp);
			loop_timer_arm(&sp->work_timer, 0);
			return;
		}
		if (r == 1) { /* taken before a crash, not yet moved */
			log_info("spool: %s was taken before the restart; moving it", c->name);
			file_done(sp);
			loop_timer_arm(&sp->work_timer, 0);
			return;
		}
	}
	r = slice(sp, &err);
	if (err == WH_ERR_FULL || err == WH_ERR_PAUSED) {
		on_full(sp);
		return;
	}
	if (err != WH_OK) {
		log_errx("spool: taking %s: %s (%s); will retry", sp->cur.name, wh_strerror(err),
			 journal_errmsg(sp->journal));
		cur_close(sp); /* reopened from the committed cursor */
		loop_timer_arm(&sp->work_timer, ERROR_RETRY_MS);
		return;
	}
	if (sp->full_logged)
		log_info("spool: the journal takes events again, taking files");
	sp->full_logged = 0;
	if (r == 1)
		file_done(sp);
	loop_timer_arm(&sp->work_timer, 0);
}

/* --- retention of done_dir ------------------------------------------------------------- */

/* Deletes files moved to done_dir more than done_retention_days ago (a rename sets the
 * file's ctime: its time in done_dir, whatever mtime the upload kept), PRUNE_SLICE entries
 * at a time. */
static void
on_prune(void *arg)
{
	struct spool *sp = arg;
	int64_t cutoff = platform_now_ms() / 1000 - (int64_t)sp->cs->done_retention_days * 86400;
	struct dirent *de;
	int n = 0;

	if (sp->cs->done_retention_days == 0 || sp->cs->on_done != CONF_DONE_MOVE)
		return;
	if (sp->prune_dir == NULL && (sp->prune_dir = opendir(sp->cs->done_dir)) == NULL) {
		LOG_LIMITED(LOG_LVL_WARN, "spool: cannot read %s for its retention: %s",
			    sp->cs->done_dir, strerror(errno));
		loop_timer_arm(&sp->prune_timer, PRUNE_EVERY_MS);
		return;
	}
	while (n++ < PRUNE_SLICE && (de = readdir(sp->prune_dir)) != NULL) {
		struct stat st;
		int dfd = dirfd(sp->prune_dir);

		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && (int64_t)st.st_ctim.tv_sec < cutoff &&
		    unlinkat(dfd, de->d_name, 0) == 0)
			sp->pruned++;
	}
	if (n <= PRUNE_SLICE) { /* the pass is through */
		if (sp->pruned > 0)
			log_info("%s: deleted %" PRIu64 " files older than %ld days from %s",
				 sp->name, sp->pruned, sp->cs->done_retention_days,
				 sp->cs->done_dir);
		closedir(sp->prune_dir);
		sp->prune_dir = NULL;
		sp->pruned = 0;
		loop_timer_arm(&sp->prune_timer, PRUNE_EVERY_MS);
		return;
	}
	loop_timer_arm(&sp->prune_timer, 0);
}

/* --- set-up ---------------------------------------------------------------------------- */

struct stale {
	struct spool *sp;
	char **names;
	int n, cap;
};

static void
collect_stale(const char *name, void *arg)
{
	struct stale *s = arg;
	struct stat st;
	char path[4096 + NAME_MAX_LEN + 2];
	char **n;
	size_t len = strlen(s->sp->name);

	if (strncmp(name, s->sp->name, len) != 0 || name[len] != ':')
		return;
	snprintf(path, sizeof(path), "%s/%s", s->sp->cs->dir, name + len + 1);
	if (stat(path, &st) == 0 || errno != ENOENT)
		return; /* only a file that is surely gone loses its cursor */
	if (s->n == s->cap) {
		n = wh_realloc(s->names, (size_t)(s->cap + 16) * sizeof(*n));
		if (n == NULL)
			return;
		s->names = n;
		s->cap += 16;
	}
	if ((s->names[s->n] = wh_strdup(name)) != NULL)
		s->n++;
}

/* Forgets cursors of files no longer in the folder (moved away after a crash). */
static void
forget_stale(struct spool *sp)
{
	struct stale s = {.sp = sp};

	if (journal_cursor_each(sp->journal, collect_stale, &s) != WH_OK)
		log_warnx("spool: reading cursors: %s", journal_errmsg(sp->journal));
	for (int i = 0; i < s.n; i++) {
		if (journal_cursor_delete(sp->journal, s.names[i]) != WH_OK)
			log_warnx("spool: forgetting %s: %s", s.names[i],
				  journal_errmsg(sp->journal));
		wh_free(s.names[i]);
	}
	wh_free(s.names);
}

static void
apply_conf(struct spool *sp, const struct conf *c)
{
	sp->conf = c;
	sp->cs = conf_spool_find(c, sp->name);
	intake_configure(&sp->intake, c, sp->cs->source);
}

wh_err
spool_new(const struct conf *c, const struct conf_spool *cs, struct journal *j, struct loop *l,
	  struct spool **ret_sp, char *why, size_t whylen)
{
	struct spool *sp;
	size_t max = (size_t)cs->max_record_bytes;
	wh_err err = WH_ERR_NOMEM;

	snprintf(why, whylen, "%s", wh_strerror(err));
	sp = wh_calloc(1, sizeof(*sp));
	if (sp == NULL)
		return WH_ERR_NOMEM;
	sp->journal = j;
	sp->loop = l;
	sp->intake.journal = j;
	snprintf(sp->name, sizeof(sp->name), "%s", cs->name);
	sp->intake.input = sp->name;
	apply_conf(sp, c);
	if (cs->owner[0] != '\0') {
		struct passwd *pw = getpwnam(cs->owner);

		if (pw == NULL) {
			snprintf(why, whylen, "owner = %s: no such user", cs->owner);
			err = WH_ERR_CONF;
			goto fail;
		}
		sp->owner_uid = pw->pw_uid;
		sp->check_owner = 1;
	}
	record_init(&sp->rec);
	sp->cur.buf = wh_malloc(max + READ_CHUNK);
	if (sp->cur.buf == NULL || csv_row_init(&sp->row, max) != 0 ||
	    csv_row_init(&sp->cur.header, max) != 0)
		goto fail;
	if (cs->on_done == CONF_DONE_MOVE && mkdir(cs->done_dir, 0750) == 0) {
		(void)platform_fs_sync_parent(cs->done_dir); /* durable before a file moves in */
	} else if (cs->on_done == CONF_DONE_MOVE && errno != EEXIST) {
		snprintf(why, whylen, "cannot create %s: %s", cs->done_dir, strerror(errno));
		err = WH_ERR_IO;
		goto fail;
	}
	if (platform_watch_open(cs->dir, &sp->watch) != 0) {
		snprintf(why, whylen, "cannot watch %s: %s", cs->dir, strerror(errno));
		err = WH_ERR_IO;
		goto fail;
	}
	loop_timer_add(l, &sp->scan_timer, on_scan_timer, sp);
	loop_timer_add(l, &sp->work_timer, on_work, sp);
	loop_timer_add(l, &sp->prune_timer, on_prune, sp);
	if (platform_watch_fd(sp->watch) >= 0 &&
	    (err = loop_fd_add(l, platform_watch_fd(sp->watch), POLLIN, on_watch_fd, sp)) !=
		    WH_OK) {
		snprintf(why, whylen, "%s: too many descriptors in the loop", cs->dir);
		goto fail;
	}
	forget_stale(sp);
	loop_timer_arm(&sp->scan_timer, 0);
	loop_timer_arm(&sp->prune_timer, 0);
	*ret_sp = sp;
	return WH_OK;
fail:
	spool_free(sp);
	return err;
}

void
spool_free(struct spool *sp)
{
	if (sp == NULL)
		return;
	cur_close(sp);
	if (sp->watch != NULL && platform_watch_fd(sp->watch) >= 0)
		loop_fd_del(sp->loop, platform_watch_fd(sp->watch));
	loop_timer_del(sp->loop, &sp->scan_timer);
	loop_timer_del(sp->loop, &sp->work_timer);
	loop_timer_del(sp->loop, &sp->prune_timer);
	if (sp->prune_dir != NULL)
		closedir(sp->prune_dir);
	platform_watch_close(sp->watch);
	record_done(&sp->rec);
	csv_row_done(&sp->row);
	csv_row_done(&sp->cur.header);
	wh_free(sp->cur.buf);
	cands_done(&sp->cands);
	wh_free(sp);
}

void
spool_reconfigure(struct spool *sp, const struct conf *c)
{
	cur_close(sp); /* reopened from its cursor with the new mapping */
	apply_conf(sp, c);
	loop_timer_arm(&sp->scan_timer, 0);
}

const struct intake *
spool_intake(const struct spool *sp)
{
	return &sp->intake;
}

int
spool_idle(const struct spool *sp)
{
	return !sp->have_cur && cands_active(&sp->cands) == 0;
}
