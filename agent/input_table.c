/* Interface-table input: the poll cycle on the loop thread (poll, take the page in one journal
 * transaction with its cursor, write the handshake's status back, wait or poll again), the
 * watermark's cursor in the journal, backoff after database errors, back-pressure. */
#include "input_table.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf.h"
#include "intake.h"
#include "journal.h"
#include "journal_cursor.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "platform.h"
#include "record.h"
#include "table_odbc.h"

#define RETRY_MIN_MS  1000
#define FULL_RETRY_MS 1000
#define PASSWORD_MAX  1024

enum phase { PH_WAIT, PH_POLL, PH_MARK };

struct table {
	const struct conf *conf;
	const struct conf_table *ct;
	struct journal *journal;
	struct loop *loop;
	char name[CONF_SPOOL_NAME_MAX];
	struct intake intake;
	struct record rec;
	struct todbc *w;
	int fd;
	struct loop_timer timer;
	enum phase phase;
	struct todbc_cursor cursor; /* committed */
	int drained;		    /* the last page was not full */
	int more;		    /* the page being written back was full */
	struct todbc_mark *marks;   /* handshake: committed, not yet written back */
	int nmarks;
	int64_t backoff_ms;
	int full_logged;
	/* for status and metrics */
	int up;
	enum todbc_fail fail;
	char error[512];
	uint64_t polls, rows_read, errors, marked, backpressure;
};

static const char *const fail_names[] = {"", "connect", "auth", "schema", "timeout", "query"};

/* --- the watermark's cursor ---------------------------------------------------------------- */

static void
cursor_format(const struct todbc_cursor *c, char *buf, size_t len)
{
	snprintf(buf, len, "1 %d %d %zu:%s%zu:%s", c->cur_type, c->key_type, strlen(c->cur), c->cur,
		 strlen(c->key), c->key);
}

/* Reads one "LEN:TEXT" of the cursor at *p into out. */
static int
cursor_part(const char **p, char *out, size_t outlen)
{
	char *end;
	unsigned long n;

	errno = 0;
	n = strtoul(*p, &end, 10);
	if (errno != 0 || *end != ':' || n >= outlen || strlen(end + 1) < n)
		return -1;
	memcpy(out, end + 1, n);
	out[n] = '\0';
	*p = end + 1 + n;
	return 0;
}

static int
cursor_parse(const char *text, struct todbc_cursor *c)
{
	int used = 0;

	memset(c, 0, sizeof(*c));
	if (sscanf(text, "1 %d %d %n", &c->cur_type, &c->key_type, &used) != 2 || used == 0)
		return -1;
	text += used;
	if (cursor_part(&text, c->cur, sizeof(c->cur)) != 0 ||
	    cursor_part(&text, c->key, sizeof(c->key)) != 0 || *text != '\0')
		return -1;
	c->set = 1;
	return 0;
}

/* --- state for status ---------------------------------------------------------------------- */

static void
set_failed(struct table *t, enum todbc_fail f, const char *why)
{
	char esc[512];

	t->errors++;
	t->up = 0;
	log_escape(esc, sizeof(esc), why, strlen(why));
	if (t->fail != f || strcmp(t->error, why) != 0)
		log_errx("%s input: %s; retrying in %" PRId64 " s", t->name, esc,
			 t->backoff_ms / 1000);
	t->fail = f;
	snprintf(t->error, sizeof(t->error), "%s", why);
}

static void
set_up(struct table *t)
{
	if (!t->up && t->error[0] != '\0')
		log_info("%s input: the database answers again", t->name);
	t->up = 1;
	t->fail = TODBC_OK;
	t->error[0] = '\0';
	t->backoff_ms = 0;
}

/* After a failure: the next try waits twice as long as the last, up to retry_max_ms. */
static void
back_off(struct table *t)
{
	t->backoff_ms = t->backoff_ms == 0 ? RETRY_MIN_MS : t->backoff_ms * 2;
	if (t->backoff_ms > t->ct->retry_max_ms)
		t->backoff_ms = t->ct->retry_max_ms;
}

/* --- a page into the journal --------------------------------------------------------------- */

static void
marks_free(struct table *t)
{
	for (int i = 0; i < t->nmarks; i++) {
		wh_free((char *)(uintptr_t)t->marks[i].key);
		wh_free((char *)(uintptr_t)t->marks[i].reason);
	}
	wh_free(t->marks);
	t->marks = NULL;
	t->nmarks = 0;
}

/* 1 when column name is one the handshake writes (not part of the record). */
static int
bookkeeping(const struct conf_table *ct, const char *name)
{
	return ct->mode == CONF_TABLE_HANDSHAKE &&
	       (strcasecmp(name, ct->status_column) == 0 ||
		(ct->seq_column[0] && strcasecmp(name, ct->seq_column) == 0) ||
		(ct->error_column[0] && strcasecmp(name, ct->error_column) == 0));
}

/* The row as a JSON object (the quarantine's raw bytes: requeue reads it as JSON). */
static char *
row_json(const struct todbc_page *p, int row)
{
	cJSON *o = cJSON_CreateObject();
	char *s = NULL;

	if (o == NULL)
		return NULL;
	for (int c = 0; c < p->ncols; c++) {
		const char *v = p->val[row * p->ncols + c];

		if ((v == NULL ? cJSON_AddNullToObject(o, p->cols[c].name)
			       : cJSON_AddStringToObject(o, p->cols[c].name, v)) == NULL)
			goto out;
	}
	s = cJSON_PrintUnformatted(o);
out:
	cJSON_Delete(o);
	return s;
}

/* Takes row i of p through the intake; *ret its outcome. */
static wh_err
take_row(struct table *t, const struct todbc_page *p, int row, struct intake_outcome *ret)
{
	const char *key = p->val[row * p->ncols + p->key_col];
	char position[200], why[160];
	char *json = row_json(p, row);
	struct intake_raw raw;
	struct record *r = &t->rec;
	wh_err err;

	if (json == NULL)
		return WH_ERR_NOMEM;
	snprintf(position, sizeof(position), "table %s key %.120s", t->ct->table,
		 key ? key : "(null)");
	raw = (struct intake_raw){.position = position,
				  .format = "jsonl",
				  .bytes = json,
				  .len = strlen(json),
				  .full_len = p->cut[row] ? SIZE_MAX : 0};
	r->n = 0;
	for (int c = 0; c < p->ncols && r->n < RECORD_MAX_FIELDS; c++) {
		const char *v = p->val[row * p->ncols + c];

		if (v == NULL || bookkeeping(t->ct, p->cols[c].name))
			continue;
		r->key[r->n] = p->cols[c].name;
		r->val[r->n++] = v;
	}
	if (p->cut[row]) {
		snprintf(why, sizeof(why),
			 "the row is longer than max_record_bytes (%" PRId64 "): its first bytes "
			 "are kept",
			 t->ct->max_record_bytes);
		err = intake_reject(&t->intake, &raw, why, ret);
	} else if (key == NULL) {
		err = intake_reject(&t->intake, &raw, "the key column is NULL", ret);
	} else {
		err = intake_record(&t->intake, r, NULL, &raw, ret);
	}
	wh_free(json);
	return err;
}

/* Keeps the handshake's write-back for a row. */
static wh_err
add_mark(struct table *t, const char *key, const struct intake_outcome *o)
{
	struct todbc_mark *m = &t->marks[t->nmarks];
	char reason[400];

	memset(m, 0, sizeof(*m));
	m->error = o->result == INTAKE_QUARANTINED;
	m->seq = o->seq;
	if ((m->key = wh_strdup(key ? key : "")) == NULL)
		return WH_ERR_NOMEM;
	if (m->error) {
		snprintf(reason, sizeof(reason),
			 "quarantined (whagent quarantine show %" PRId64 "): %s", o->quarantine_id,
			 o->reason);
		if ((m->reason = wh_strdup(reason)) == NULL) {
			wh_free((char *)(uintptr_t)m->key);
			return WH_ERR_NOMEM;
		}
	}
	t->nmarks++;
	return WH_OK;
}

/* The page in one journal transaction (with the cursor). Rows the budget did not take are
 * read again by the next poll. */
static wh_err
take_page(struct table *t, const struct todbc_page *p)
{
	struct todbc_cursor next = t->cursor;
	char text[400];
	int n = 0;
	wh_err err;

	if (t->ct->mode == CONF_TABLE_HANDSHAKE &&
	    (t->marks = wh_calloc((size_t)(p->nrows ? p->nrows : 1), sizeof(*t->marks))) == NULL)
		return WH_ERR_NOMEM;
	if ((err = journal_txn_begin(t->journal, JOURNAL_TXN_APPEND)) != WH_OK)
		goto out;
	for (; n < p->nrows; n++) {
		struct intake_outcome o;

		memset(&o, 0, sizeof(o));
		if ((err = take_row(t, p, n, &o)) != WH_OK)
			break;
		if (t->marks != NULL &&
		    (err = add_mark(t, p->val[n * p->ncols + p->key_col], &o)) != WH_OK)
			break;
	}
	if (err == WH_ERR_FULL && n > 0)
		err = WH_OK; /* the budget took what came before: commit that */
	if (err == WH_OK && t->ct->mode == CONF_TABLE_WATERMARK && n > 0) {
		const char *cur = p->val[(n - 1) * p->ncols + p->cursor_col];
		const char *key = p->val[(n - 1) * p->ncols + p->key_col];

		next.set = 1;
		next.cur_type = p->cols[p->cursor_col].sqltype;
		next.key_type = p->cols[p->key_col].sqltype;
		snprintf(next.cur, sizeof(next.cur), "%s", cur ? cur : "");
		snprintf(next.key, sizeof(next.key), "%s", key ? key : "");
		cursor_format(&next, text, sizeof(text));
		err = journal_cursor_set(t->journal, t->name, text);
	}
	err = journal_txn_end(t->journal, err);
	if (err == WH_OK) {
		intake_committed(&t->intake);
		t->cursor = next;
		t->drained = !p->full && n == p->nrows;
	} else {
		intake_rolled_back(&t->intake);
	}
out:
	if (err != WH_OK)
		marks_free(t);
	return err;
}

/* --- the cycle ----------------------------------------------------------------------------- */

static void
start_poll(struct table *t)
{
	if (todbc_poll(t->w, t->ct->mode == CONF_TABLE_WATERMARK ? &t->cursor : NULL) == WH_OK) {
		t->phase = PH_POLL;
		t->polls++;
	}
}

static void
start_mark(struct table *t)
{
	if (todbc_mark(t->w, t->marks, t->nmarks) == WH_OK)
		t->phase = PH_MARK;
}

static void
on_timer(void *arg)
{
	struct table *t = arg;

	if (t->phase != PH_WAIT)
		return;
	if (t->nmarks > 0)
		start_mark(t);
	else
		start_poll(t);
}

/* What comes after a page was taken or written back. */
static void
next_turn(struct table *t)
{
	t->phase = PH_WAIT;
	loop_timer_arm(&t->timer, t->drained ? t->ct->poll_ms : 0);
}

static void
on_polled(struct table *t, struct todbc_result *r)
{
	wh_err err;

	t->phase = PH_WAIT;
	if (r->fail != TODBC_OK) {
		back_off(t);
		set_failed(t, r->fail, r->why);
		loop_timer_arm(&t->timer, t->backoff_ms);
		return;
	}
	set_up(t);
	t->rows_read += (uint64_t)r->page->nrows;
	if (r->page->nrows == 0) {
		t->drained = 1;
		next_turn(t);
		return;
	}
	err = take_page(t, r->page);
	if (err == WH_ERR_FULL || err == WH_ERR_PAUSED) {
		/* back-pressure: the cursor stays, nothing is written back; read again later */
		t->backpressure++;
		if (!t->full_logged)
			log_warnx("%s input: %s; the table is read again once it takes events",
				  t->name, journal_errmsg(t->journal));
		t->full_logged = 1;
		loop_timer_arm(&t->timer, FULL_RETRY_MS);
		return;
	}
	if (err != WH_OK) {
		log_errx("%s input: journaling a page: %s (%s); will retry", t->name,
			 wh_strerror(err), journal_errmsg(t->journal));
		back_off(t);
		loop_timer_arm(&t->timer, t->backoff_ms);
		return;
	}
	if (t->full_logged)
		log_info("%s input: the journal takes events again", t->name);
	t->full_logged = 0;
	if (t->nmarks > 0) {
		start_mark(t);
		return;
	}
	next_turn(t);
}

static void
on_marked(struct table *t, struct todbc_result *r)
{
	t->phase = PH_WAIT;
	if (r->fail != TODBC_OK) {
		back_off(t); /* the rows stay journaled; their write-back is retried */
		set_failed(t, r->fail, r->why);
		loop_timer_arm(&t->timer, t->backoff_ms);
		return;
	}
	set_up(t);
	t->marked += (uint64_t)r->marked;
	marks_free(t);
	next_turn(t);
}

static void
on_pipe(int fd, short revents, void *arg)
{
	struct table *t = arg;
	struct todbc_result r;

	(void)fd;
	(void)revents;
	if (!todbc_take(t->w, &r))
		return;
	if (t->phase == PH_POLL)
		on_polled(t, &r);
	else if (t->phase == PH_MARK)
		on_marked(t, &r);
	todbc_page_free(r.page);
}

/* --- life cycle ---------------------------------------------------------------------------- */

/* The password from password_file, its trailing newline dropped. */
static wh_err
read_password(const char *path, char *buf, size_t len, char *why, size_t whylen)
{
	FILE *f;
	size_t n;

	buf[0] = '\0';
	if (path[0] == '\0')
		return WH_OK;
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(why, whylen, "password_file %s: %s", path, strerror(errno));
		return WH_ERR_IO;
	}
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	return WH_OK;
}

static void
apply_conf(struct table *t, const struct conf *c)
{
	t->conf = c;
	t->ct = conf_table_find(c, t->name);
	intake_configure(&t->intake, c, t->ct->source);
}

wh_err
table_new(const struct conf *c, const struct conf_table *ct, struct journal *j, struct loop *l,
	  struct table **ret_t, char *why, size_t whylen)
{
	struct table *t;
	char password[PASSWORD_MAX], text[400];
	wh_err err = WH_ERR_NOMEM;

	snprintf(why, whylen, "%s", wh_strerror(err));
	if ((t = wh_calloc(1, sizeof(*t))) == NULL)
		return WH_ERR_NOMEM;
	t->journal = j;
	t->loop = l;
	t->fd = -1;
	t->intake.journal = j;
	snprintf(t->name, sizeof(t->name), "%s", ct->name);
	t->intake.input = t->name;
	apply_conf(t, c);
	record_init(&t->rec);
	if (ct->mode == CONF_TABLE_WATERMARK &&
	    journal_cursor_get(j, t->name, text, sizeof(text)) == WH_OK &&
	    cursor_parse(text, &t->cursor) != 0) {
		snprintf(why, whylen, "the journal's cursor %s is unreadable: %s", t->name, text);
		err = WH_ERR_CORRUPT;
		goto fail;
	}
	if ((err = read_password(ct->password_file, password, sizeof(password), why, whylen)) !=
	    WH_OK)
		goto fail;
	err = todbc_new(ct, password, &t->w, &t->fd);
	memset(password, 0, sizeof(password));
	if (err != WH_OK) {
		snprintf(why, whylen, "cannot start the database worker: %s", wh_strerror(err));
		goto fail;
	}
	loop_timer_add(l, &t->timer, on_timer, t);
	if ((err = loop_fd_add(l, t->fd, POLLIN, on_pipe, t)) != WH_OK) {
		snprintf(why, whylen, "too many descriptors in the loop");
		t->fd = -1;
		goto fail;
	}
	t->up = 1;
	loop_timer_arm(&t->timer, 0);
	*ret_t = t;
	return WH_OK;
fail:
	table_free(t);
	return err;
}

void
table_free(struct table *t)
{
	if (t == NULL)
		return;
	if (t->fd >= 0)
		loop_fd_del(t->loop, t->fd);
	loop_timer_del(t->loop, &t->timer);
	todbc_free(t->w);
	marks_free(t);
	record_done(&t->rec);
	wh_free(t);
}

void
table_reconfigure(struct table *t, const struct conf *c)
{
	apply_conf(t, c);
}

const struct intake *
table_intake(const struct table *t)
{
	return &t->intake;
}

int
table_idle(const struct table *t)
{
	return t->phase == PH_WAIT && t->nmarks == 0 && t->drained;
}

const char *
table_error(const struct table *t)
{
	return t->error;
}

void
table_stats(const struct table *t, struct table_stats *ret)
{
	int64_t since = 0;

	*ret = (struct table_stats){.input = t->name,
				    .up = t->up,
				    .failure = fail_names[t->fail],
				    .polls = t->polls,
				    .rows_read = t->rows_read,
				    .errors = t->errors,
				    .marked = t->marked,
				    .backpressure = t->backpressure};
	if (todbc_busy(t->w, &since))
		ret->busy_ms = platform_mono_ms() - since;
}
