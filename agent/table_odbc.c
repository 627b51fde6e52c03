/* The table input's ODBC worker: its thread, the connection, the statements (identifiers
 * from the configuration quoted with the driver's quote character, every value bound), the
 * pages of rows and the handshake's write-back. */
#include "table_odbc.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <sql.h>
#include <sqlext.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "conf.h"
#include "mem.h"
#include "platform.h"

#define SQL_MAX	    1024
#define CHUNK_BYTES 4096

enum req { REQ_NONE, REQ_POLL, REQ_MARK };

struct todbc {
	const struct conf_table *t; /* &own: the worker's copy of the settings */
	struct conf_table own;
	char *connstr; /* with PWD: never logged */
	int pipe[2];
	pthread_t thread;
	int started;

	pthread_mutex_t mu; /* guards the fields down to result */
	pthread_cond_t cv;
	enum req req;
	int running, done, stop;
	int64_t since_ms;
	SQLHSTMT active; /* the statement executing, for SQLCancel */
	struct todbc_cursor cursor;
	const struct todbc_mark *marks;
	int nmarks;
	struct todbc_result result;

	/* the worker thread's own */
	SQLHENV env;
	SQLHDBC dbc;
	int connected;
	SQLHSTMT now, first, next, sent, error;
	int key_type, err_size; /* from the last page: for the write-back */
	size_t key_size;
	SQL_TIMESTAMP_STRUCT cutoff;
	SQLBIGINT seq;
	SQLLEN ind[6];
};

/* --- diagnostics --------------------------------------------------------------------------- */

/* What ODBC said about handle's last call, into r->why, and its class into r->fail. */
static void
diag(SQLSMALLINT type, SQLHANDLE h, const char *what, struct todbc_result *r)
{
	SQLCHAR state[6] = "", msg[400] = "";
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;
	enum todbc_fail f = TODBC_QUERY;

	if (!SQL_SUCCEEDED(SQLGetDiagRec(type, h, 1, state, &native, msg, sizeof(msg), &len)))
		snprintf((char *)msg, sizeof(msg), "no diagnostic from the driver");
	if (strncmp((char *)state, "08", 2) == 0)
		f = TODBC_CONNECT;
	if (strcmp((char *)state, "28000") == 0 ||
	    strstr((char *)msg, "password authentication failed") != NULL ||
	    strstr((char *)msg, "Access denied") != NULL)
		f = TODBC_AUTH;
	else if (strcmp((char *)state, "42S02") == 0 || strcmp((char *)state, "42P01") == 0 ||
		 strcmp((char *)state, "42S22") == 0 || strcmp((char *)state, "42703") == 0)
		f = TODBC_SCHEMA;
	else if (strcmp((char *)state, "HYT00") == 0 || strcmp((char *)state, "HYT01") == 0 ||
		 strcmp((char *)state, "57014") == 0 || strstr((char *)msg, "timeout") != NULL)
		f = TODBC_TIMEOUT;
	r->fail = f;
	snprintf(r->why, sizeof(r->why), "%s: SQLSTATE %s: %s", what, state, msg);
	for (char *p = r->why; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
}

/* --- connection and statements ------------------------------------------------------------- */

static void
stmt_free(SQLHSTMT *s)
{
	if (*s != SQL_NULL_HSTMT)
		SQLFreeHandle(SQL_HANDLE_STMT, *s);
	*s = SQL_NULL_HSTMT;
}

static void
disconnect(struct todbc *w)
{
	stmt_free(&w->now);
	stmt_free(&w->first);
	stmt_free(&w->next);
	stmt_free(&w->sent);
	stmt_free(&w->error);
	if (w->dbc != SQL_NULL_HDBC) {
		if (w->connected)
			SQLDisconnect(w->dbc);
		SQLFreeHandle(SQL_HANDLE_DBC, w->dbc);
	}
	w->dbc = SQL_NULL_HDBC;
	w->connected = 0;
}

/* Appends fmt to buf[*used..len); -1 when it does not fit. */
static int WH_PRINTF(4, 5) sql_add(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

/* Prepares text as *s on the connection. */
static int
prepare(struct todbc *w, SQLHSTMT *s, const char *text, struct todbc_result *r)
{
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_STMT, w->dbc, s))) {
		diag(SQL_HANDLE_DBC, w->dbc, "allocating a statement", r);
		return -1;
	}
	SQLSetStmtAttr(*s, SQL_ATTR_QUERY_TIMEOUT, (SQLPOINTER)(intptr_t)w->t->query_timeout_s, 0);
	if (!SQL_SUCCEEDED(SQLPrepare(*s, (SQLCHAR *)(uintptr_t)text, SQL_NTS))) {
		diag(SQL_HANDLE_STMT, *s, "preparing the query", r);
		return -1;
	}
	return 0;
}

/* The SQL of the input's statements, identifiers quoted with q (validated by conf.c: letters,
 * digits, '_' and, in the table's name, dots between parts). */
static int
prepare_all(struct todbc *w, char q, struct todbc_result *r)
{
	const struct conf_table *t = w->t;
	char tbl[160], sql[SQL_MAX];
	size_t used = 0, tu = 0;
	const char *lag = t->lag_column[0] ? t->lag_column : t->cursor_column;
	const char *limit = t->paging == CONF_PAGING_LIMIT ? "LIMIT" : "FETCH FIRST";
	const char *rows = t->paging == CONF_PAGING_LIMIT ? "" : " ROWS ONLY";
	int wm = t->mode == CONF_TABLE_WATERMARK;

	tbl[0] = '\0';
	for (const char *p = t->table; *p; p = p + strcspn(p, ".") + (p[strcspn(p, ".")] != 0))
		if (sql_add(tbl, sizeof(tbl), &tu, "%s%c%.*s%c", tu ? "." : "", q,
			    (int)strcspn(p, "."), p, q) != 0)
			return -1;
	if (wm) {
		if (t->lag_s > 0 && prepare(w, &w->now, "SELECT CURRENT_TIMESTAMP", r) != 0)
			return -1;
		for (int cursor = 0; cursor < 2; cursor++) {
			used = 0;
			if (sql_add(sql, sizeof(sql), &used, "SELECT * FROM %s WHERE 1 = 1", tbl) ||
			    (cursor && sql_add(sql, sizeof(sql), &used,
					       " AND (%c%s%c > ? OR (%c%s%c = ? AND %c%s%c > ?))",
					       q, t->cursor_column, q, q, t->cursor_column, q, q,
					       t->key_column, q)) ||
			    (t->lag_s > 0 &&
			     sql_add(sql, sizeof(sql), &used, " AND %c%s%c <= ?", q, lag, q)) ||
			    sql_add(sql, sizeof(sql), &used, " ORDER BY %c%s%c, %c%s%c %s %ld%s", q,
				    t->cursor_column, q, q, t->key_column, q, limit, t->page_rows,
				    rows))
				return -1;
			if (prepare(w, cursor ? &w->next : &w->first, sql, r) != 0)
				return -1;
		}
		return 0;
	}
	if (sql_add(sql, sizeof(sql), &used,
		    "SELECT * FROM %s WHERE %c%s%c = ? ORDER BY %c%s%c %s %ld%s", tbl, q,
		    t->status_column, q, q, t->key_column, q, limit, t->page_rows, rows) ||
	    prepare(w, &w->first, sql, r) != 0)
		return -1;
	for (int err = 0; err < 2; err++) {
		const char *extra = err ? t->error_column : t->seq_column;

		used = 0;
		if (sql_add(sql, sizeof(sql), &used, "UPDATE %s SET %c%s%c = ?", tbl, q,
			    t->status_column, q) ||
		    (extra[0] && sql_add(sql, sizeof(sql), &used, ", %c%s%c = ?", q, extra, q)) ||
		    sql_add(sql, sizeof(sql), &used, " WHERE %c%s%c = ? AND %c%s%c = ?", q,
			    t->key_column, q, q, t->status_column, q) ||
		    prepare(w, err ? &w->error : &w->sent, sql, r) != 0)
			return -1;
	}
	return 0;
}

static int
connect_db(struct todbc *w, struct todbc_result *r)
{
	SQLCHAR qc[8] = "";
	SQLSMALLINT ql = 0;

	if (w->connected)
		return 0;
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_DBC, w->env, &w->dbc))) {
		snprintf(r->why, sizeof(r->why), "unixODBC: cannot allocate a connection");
		r->fail = TODBC_CONNECT;
		return -1;
	}
	SQLSetConnectAttr(w->dbc, SQL_ATTR_LOGIN_TIMEOUT,
			  (SQLPOINTER)(intptr_t)w->t->login_timeout_s, 0);
	SQLSetConnectAttr(w->dbc, SQL_ATTR_CONNECTION_TIMEOUT,
			  (SQLPOINTER)(intptr_t)w->t->query_timeout_s, 0);
	if (!SQL_SUCCEEDED(SQLDriverConnect(w->dbc, NULL, (SQLCHAR *)w->connstr, SQL_NTS, NULL, 0,
					    NULL, SQL_DRIVER_NOPROMPT))) {
		diag(SQL_HANDLE_DBC, w->dbc, "connecting", r);
		if (r->fail != TODBC_AUTH)
			r->fail = TODBC_CONNECT;
		disconnect(w);
		return -1;
	}
	w->connected = 1;
	if (!SQL_SUCCEEDED(SQLGetInfo(w->dbc, SQL_IDENTIFIER_QUOTE_CHAR, qc, sizeof(qc), &ql)) ||
	    ql != 1)
		qc[0] = '"';
	if (prepare_all(w, (char)qc[0], r) != 0) {
		if (r->why[0] == '\0') {
			snprintf(r->why, sizeof(r->why), "the query is longer than %d bytes",
				 SQL_MAX);
			r->fail = TODBC_QUERY;
		}
		disconnect(w);
		return -1;
	}
	return 0;
}

/* --- a page of rows ------------------------------------------------------------------------ */

void
todbc_page_free(struct todbc_page *p)
{
	if (p == NULL)
		return;
	for (int i = 0; p->val != NULL && i < p->nrows * p->ncols; i++)
		wh_free(p->val[i]);
	wh_free(p->val);
	wh_free(p->cut);
	wh_free(p->cols);
	wh_free(p);
}

/* Reads column col of the current row as text into *ret (NULL: SQL NULL), at most *budget
 * bytes (taken off it); *cut set when there was more. */
static int
get_value(SQLHSTMT s, int col, size_t *budget, char **ret, unsigned char *cut)
{
	char chunk[CHUNK_BYTES];
	char *v = NULL;
	size_t used = 0;

	*ret = NULL;
	for (;;) {
		SQLLEN ind = 0;
		SQLRETURN rc =
			SQLGetData(s, (SQLUSMALLINT)col, SQL_C_CHAR, chunk, sizeof(chunk), &ind);
		size_t n, take;
		char *nv;

		if (rc == SQL_NO_DATA)
			break;
		if (!SQL_SUCCEEDED(rc))
			goto fail;
		if (ind == SQL_NULL_DATA)
			return 0;
		n = (ind == SQL_NO_TOTAL || ind >= (SQLLEN)sizeof(chunk)) ? sizeof(chunk) - 1
									  : (size_t)ind;
		take = n < *budget ? n : *budget;
		if ((nv = wh_realloc(v, used + take + 1)) == NULL)
			goto fail;
		v = nv;
		memcpy(v + used, chunk, take);
		used += take;
		v[used] = '\0';
		*budget -= take;
		if (take < n) {
			*cut = 1;
			break;
		}
		if (rc == SQL_SUCCESS)
			break;
	}
	if (v == NULL && (v = wh_strdup("")) == NULL)
		return -1;
	*ret = v;
	return 0;
fail:
	wh_free(v);
	return -1;
}

/* Describes the result set of s into p's columns. */
static int
describe(struct todbc *w, SQLHSTMT s, struct todbc_page *p, struct todbc_result *r)
{
	const struct conf_table *t = w->t;
	SQLSMALLINT n = 0;

	if (!SQL_SUCCEEDED(SQLNumResultCols(s, &n)) || n <= 0) {
		diag(SQL_HANDLE_STMT, s, "reading the columns", r);
		return -1;
	}
	if ((p->cols = wh_calloc((size_t)n, sizeof(*p->cols))) == NULL)
		return -1;
	p->ncols = n;
	p->key_col = p->cursor_col = -1;
	for (int i = 0; i < n; i++) {
		SQLSMALLINT nl = 0, type = 0, dd = 0, nullable = 0;
		SQLULEN size = 0;

		if (!SQL_SUCCEEDED(SQLDescribeCol(
			    s, (SQLUSMALLINT)(i + 1), (SQLCHAR *)p->cols[i].name,
			    sizeof(p->cols[i].name), &nl, &type, &size, &dd, &nullable))) {
			diag(SQL_HANDLE_STMT, s, "describing a column", r);
			return -1;
		}
		p->cols[i].sqltype = type;
		p->cols[i].size = size;
		if (strcasecmp(p->cols[i].name, t->key_column) == 0)
			p->key_col = i;
		if (t->cursor_column[0] && strcasecmp(p->cols[i].name, t->cursor_column) == 0)
			p->cursor_col = i;
		if (t->error_column[0] && strcasecmp(p->cols[i].name, t->error_column) == 0)
			w->err_size = size > 0 && size < 100000 ? (int)size : 0;
	}
	if (p->key_col < 0 || (t->mode == CONF_TABLE_WATERMARK && p->cursor_col < 0)) {
		r->fail = TODBC_SCHEMA;
		snprintf(r->why, sizeof(r->why), "table %s has no column %s", t->table,
			 p->key_col < 0 ? t->key_column : t->cursor_column);
		return -1;
	}
	w->key_type = p->cols[p->key_col].sqltype;
	w->key_size = p->cols[p->key_col].size;
	return 0;
}

/* Fetches up to page_rows rows of the executed s. */
static int
fetch_page(struct todbc *w, SQLHSTMT s, struct todbc_result *r)
{
	const struct conf_table *t = w->t;
	struct todbc_page *p = wh_calloc(1, sizeof(*p));
	size_t cells;
	SQLRETURN rc;

	if (p == NULL || describe(w, s, p, r) != 0)
		goto fail;
	cells = (size_t)t->page_rows * (size_t)p->ncols;
	p->val = wh_calloc(cells, sizeof(*p->val));
	p->cut = wh_calloc((size_t)t->page_rows, 1);
	if (p->val == NULL || p->cut == NULL)
		goto fail;
	while (p->nrows < t->page_rows && SQL_SUCCEEDED(rc = SQLFetch(s))) {
		size_t budget = (size_t)t->max_record_bytes;

		for (int c = 0; c < p->ncols; c++)
			if (get_value(s, c + 1, &budget, &p->val[p->nrows * p->ncols + c],
				      &p->cut[p->nrows]) != 0) {
				p->nrows++;
				diag(SQL_HANDLE_STMT, s, "reading a row", r);
				goto fail;
			}
		p->nrows++;
	}
	if (p->nrows < t->page_rows && rc != SQL_NO_DATA) {
		diag(SQL_HANDLE_STMT, s, "reading the rows", r);
		goto fail;
	}
	p->full = p->nrows == t->page_rows;
	r->page = p;
	return 0;
fail:
	todbc_page_free(p);
	if (r->why[0] == '\0') {
		r->fail = TODBC_QUERY;
		snprintf(r->why, sizeof(r->why), "out of memory reading a page");
	}
	return -1;
}

/* Executes s (its parameters bound), cancellable from the loop thread until inactive. */
static SQLRETURN
execute(struct todbc *w, SQLHSTMT s)
{
	pthread_mutex_lock(&w->mu);
	w->active = s;
	pthread_mutex_unlock(&w->mu);
	return SQLExecute(s);
}

/* The statement executed is done with (fetched and closed). */
static void
inactive(struct todbc *w)
{
	pthread_mutex_lock(&w->mu);
	w->active = SQL_NULL_HSTMT;
	pthread_mutex_unlock(&w->mu);
}

/* The lag guard's cutoff: the database's clock minus lag_s. */
static int
cutoff(struct todbc *w, struct todbc_result *r)
{
	SQL_TIMESTAMP_STRUCT now;
	SQLLEN ind = 0;
	struct tm tm = {0};
	time_t secs;

	if (!SQL_SUCCEEDED(execute(w, w->now)) || !SQL_SUCCEEDED(SQLFetch(w->now)) ||
	    !SQL_SUCCEEDED(SQLGetData(w->now, 1, SQL_C_TYPE_TIMESTAMP, &now, sizeof(now), &ind))) {
		diag(SQL_HANDLE_STMT, w->now, "reading the database's clock", r);
		SQLFreeStmt(w->now, SQL_CLOSE);
		inactive(w);
		return -1;
	}
	SQLFreeStmt(w->now, SQL_CLOSE);
	inactive(w);
	tm.tm_year = now.year - 1900;
	tm.tm_mon = now.month - 1;
	tm.tm_mday = now.day;
	tm.tm_hour = now.hour;
	tm.tm_min = now.minute;
	tm.tm_sec = now.second;
	secs = timegm(&tm) - w->t->lag_s;
	gmtime_r(&secs, &tm);
	w->cutoff = (SQL_TIMESTAMP_STRUCT){.year = (SQLSMALLINT)(tm.tm_year + 1900),
					   .month = (SQLUSMALLINT)(tm.tm_mon + 1),
					   .day = (SQLUSMALLINT)tm.tm_mday,
					   .hour = (SQLUSMALLINT)tm.tm_hour,
					   .minute = (SQLUSMALLINT)tm.tm_min,
					   .second = (SQLUSMALLINT)tm.tm_sec,
					   .fraction = now.fraction};
	return 0;
}

/* Binds text as parameter n of s with the column's SQL type. */
static SQLRETURN
bind_text(struct todbc *w, SQLHSTMT s, int n, int sqltype, const char *text)
{
	w->ind[n] = SQL_NTS;
	return SQLBindParameter(s, (SQLUSMALLINT)n, SQL_PARAM_INPUT, SQL_C_CHAR,
				(SQLSMALLINT)(sqltype ? sqltype : SQL_VARCHAR),
				sqltype == SQL_TYPE_TIMESTAMP ? 26 : strlen(text) + 1,
				sqltype == SQL_TYPE_TIMESTAMP ? 6 : 0, (SQLPOINTER)(uintptr_t)text,
				0, &w->ind[n]);
}

static void
do_poll(struct todbc *w, const struct todbc_cursor *c, struct todbc_result *r)
{
	const struct conf_table *t = w->t;
	SQLHSTMT s;
	int n = 1, ok = 1;

	if (connect_db(w, r) != 0)
		return;
	if (t->mode == CONF_TABLE_HANDSHAKE) {
		s = w->first;
		ok = SQL_SUCCEEDED(bind_text(w, s, n++, SQL_VARCHAR, t->status_new));
	} else {
		if (t->lag_s > 0 && cutoff(w, r) != 0)
			goto fail;
		s = c->set ? w->next : w->first;
		if (c->set)
			ok = SQL_SUCCEEDED(bind_text(w, s, n++, c->cur_type, c->cur)) &&
			     SQL_SUCCEEDED(bind_text(w, s, n++, c->cur_type, c->cur)) &&
			     SQL_SUCCEEDED(bind_text(w, s, n++, c->key_type, c->key));
		w->ind[n] = 0;
		if (ok && t->lag_s > 0)
			ok = SQL_SUCCEEDED(SQLBindParameter(
				s, (SQLUSMALLINT)n, SQL_PARAM_INPUT, SQL_C_TYPE_TIMESTAMP,
				SQL_TYPE_TIMESTAMP, 26, 6, &w->cutoff, 0, &w->ind[n]));
	}
	if (!ok || !SQL_SUCCEEDED(execute(w, s))) {
		diag(SQL_HANDLE_STMT, s, "polling the table", r);
		goto fail;
	}
	if (fetch_page(w, s, r) != 0)
		goto fail;
	SQLFreeStmt(s, SQL_CLOSE);
	inactive(w);
	return;
fail:
	inactive(w);
	disconnect(w); /* a clean start after any failure: reconnect and prepare again */
}

static void
do_mark(struct todbc *w, const struct todbc_mark *m, int nm, struct todbc_result *r)
{
	const struct conf_table *t = w->t;
	char reason[1024];
	int i = 0;

	if (connect_db(w, r) != 0)
		return;
	if (!SQL_SUCCEEDED(SQLSetConnectAttr(w->dbc, SQL_ATTR_AUTOCOMMIT,
					     (SQLPOINTER)SQL_AUTOCOMMIT_OFF, 0))) {
		diag(SQL_HANDLE_DBC, w->dbc, "starting the write-back", r);
		goto fail;
	}
	for (; i < nm; i++) {
		SQLHSTMT s = m[i].error ? w->error : w->sent;
		const char *extra = m[i].error ? t->error_column : t->seq_column;
		int n = 1, ok;
		SQLLEN count = 0;

		ok = SQL_SUCCEEDED(bind_text(w, s, n++, SQL_VARCHAR,
					     m[i].error ? t->status_error : t->status_sent));
		if (ok && extra[0] && m[i].error) {
			size_t max = w->err_size > 0 && (size_t)w->err_size < sizeof(reason)
					     ? (size_t)w->err_size
					     : sizeof(reason) - 1;

			snprintf(reason, max + 1, "%s", m[i].reason ? m[i].reason : "");
			ok = SQL_SUCCEEDED(bind_text(w, s, n++, SQL_VARCHAR, reason));
		} else if (ok && extra[0]) {
			w->seq = (SQLBIGINT)m[i].seq;
			w->ind[n] = 0;
			ok = SQL_SUCCEEDED(SQLBindParameter(s, (SQLUSMALLINT)n, SQL_PARAM_INPUT,
							    SQL_C_SBIGINT, SQL_BIGINT, 0, 0,
							    &w->seq, 0, &w->ind[n]));
			n++;
		}
		ok = ok && SQL_SUCCEEDED(bind_text(w, s, n++, w->key_type, m[i].key)) &&
		     SQL_SUCCEEDED(bind_text(w, s, n++, SQL_VARCHAR, t->status_new));
		if (!ok || !SQL_SUCCEEDED(execute(w, s))) {
			diag(SQL_HANDLE_STMT, s, "writing the status back", r);
			inactive(w);
			goto fail;
		}
		inactive(w);
		if (SQL_SUCCEEDED(SQLRowCount(s, &count)) && count > 0)
			r->marked += (int)count;
		SQLFreeStmt(s, SQL_CLOSE);
	}
	if (!SQL_SUCCEEDED(SQLEndTran(SQL_HANDLE_DBC, w->dbc, SQL_COMMIT))) {
		diag(SQL_HANDLE_DBC, w->dbc, "committing the write-back", r);
		goto fail;
	}
	SQLSetConnectAttr(w->dbc, SQL_ATTR_AUTOCOMMIT, (SQLPOINTER)SQL_AUTOCOMMIT_ON, 0);
	return;
fail:
	r->marked = 0;
	SQLEndTran(SQL_HANDLE_DBC, w->dbc, SQL_ROLLBACK);
	disconnect(w);
}

/* --- the thread ---------------------------------------------------------------------------- */

static void *
worker(void *arg)
{
	struct todbc *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct todbc_result r;
		struct todbc_cursor c;
		enum req q;

		while (!w->stop && w->req == REQ_NONE)
			pthread_cond_wait(&w->cv, &w->mu);
		if (w->stop)
			break;
		q = w->req;
		c = w->cursor;
		w->req = REQ_NONE;
		pthread_mutex_unlock(&w->mu);

		memset(&r, 0, sizeof(r));
		if (q == REQ_POLL)
			do_poll(w, &c, &r);
		else
			do_mark(w, w->marks, w->nmarks, &r);

		pthread_mutex_lock(&w->mu);
		w->result = r;
		w->running = 0;
		w->done = 1;
		pthread_mutex_unlock(&w->mu); /* the pipe is written without it */
		while (write(w->pipe[1], "x", 1) < 0 && errno == EINTR)
			;
		pthread_mutex_lock(&w->mu);
	}
	pthread_mutex_unlock(&w->mu);
	disconnect(w);
	return NULL;
}

/* The connection string with PWD={password} (braces doubled inside), or a copy. */
static char *
with_password(const char *conn, const char *password)
{
	size_t n = strlen(conn) + 2 * strlen(password) + 16, used;
	char *s = wh_malloc(n);

	if (s == NULL)
		return NULL;
	used = (size_t)snprintf(s, n, "%s", conn);
	if (password[0] == '\0')
		return s;
	used += (size_t)snprintf(s + used, n - used, "%sPWD={",
				 used > 0 && conn[used - 1] != ';' ? ";" : "");
	for (const char *p = password; *p; p++) {
		s[used++] = *p;
		if (*p == '}')
			s[used++] = '}';
	}
	snprintf(s + used, n - used, "}");
	return s;
}

/* The string settings the worker uses (its copy outlives a reloaded configuration). */
static char **
own_string(struct conf_table *o, int i)
{
	char **const fields[] = {&o->table,	  &o->key_column,    &o->cursor_column,
				 &o->lag_column,  &o->status_column, &o->status_new,
				 &o->status_sent, &o->status_error,  &o->seq_column,
				 &o->error_column};

	return i < (int)(sizeof(fields) / sizeof(fields[0])) ? fields[i] : NULL;
}

wh_err
todbc_new(const struct conf_table *t, const char *password, struct todbc **ret_w, int *ret_fd)
{
	struct todbc *w = wh_calloc(1, sizeof(*w));
	int failed = 0;
	char **f;

	if (w == NULL)
		return WH_ERR_NOMEM;
	w->own = *t;
	w->t = &w->own;
	w->pipe[0] = w->pipe[1] = -1;
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->own.connection = w->own.password_file = w->own.map = w->own.source = NULL;
	w->own.timezone = w->own.operating_hours = NULL;
	for (int i = 0; (f = own_string(&w->own, i)) != NULL; i++)
		if ((*f = failed ? NULL : wh_strdup(*f)) == NULL)
			failed = 1; /* the rest NULL too: todbc_free frees only copies */
	if (failed)
		goto nomem;
	if ((w->connstr = with_password(t->connection, password)) == NULL)
		goto nomem;
	if (pipe(w->pipe) != 0) {
		todbc_free(w);
		return WH_ERR_IO;
	}
	fcntl(w->pipe[0], F_SETFL, O_NONBLOCK);
	fcntl(w->pipe[0], F_SETFD, FD_CLOEXEC);
	fcntl(w->pipe[1], F_SETFD, FD_CLOEXEC);
	if (!SQL_SUCCEEDED(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &w->env)) ||
	    !SQL_SUCCEEDED(
		    SQLSetEnvAttr(w->env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0)))
		goto nomem;
	if (pthread_create(&w->thread, NULL, worker, w) != 0)
		goto nomem;
	w->started = 1;
	*ret_w = w;
	*ret_fd = w->pipe[0];
	return WH_OK;
nomem:
	todbc_free(w);
	return WH_ERR_NOMEM;
}

void
todbc_free(struct todbc *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->stop = 1;
		if (w->active != SQL_NULL_HSTMT)
			SQLCancel(w->active);
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mu);
		pthread_join(w->thread, NULL);
	}
	todbc_page_free(w->result.page);
	if (w->env != SQL_NULL_HENV)
		SQLFreeHandle(SQL_HANDLE_ENV, w->env);
	if (w->pipe[0] >= 0)
		close(w->pipe[0]);
	if (w->pipe[1] >= 0)
		close(w->pipe[1]);
	if (w->connstr != NULL) {
		memset(w->connstr, 0, strlen(w->connstr));
		wh_free(w->connstr);
	}
	for (int i = 0; own_string(&w->own, i) != NULL; i++)
		wh_free(*own_string(&w->own, i));
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	wh_free(w);
}

/* Hands request q to the worker. */
static wh_err
submit(struct todbc *w, enum req q)
{
	w->req = q;
	w->running = 1;
	w->done = 0;
	w->since_ms = platform_mono_ms();
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
	return WH_OK;
}

wh_err
todbc_poll(struct todbc *w, const struct todbc_cursor *c)
{
	pthread_mutex_lock(&w->mu);
	if (w->running || w->done) {
		pthread_mutex_unlock(&w->mu);
		return WH_ERR_BUSY;
	}
	if (c != NULL)
		w->cursor = *c;
	else
		memset(&w->cursor, 0, sizeof(w->cursor));
	return submit(w, REQ_POLL);
}

wh_err
todbc_mark(struct todbc *w, const struct todbc_mark *m, int n)
{
	pthread_mutex_lock(&w->mu);
	if (w->running || w->done) {
		pthread_mutex_unlock(&w->mu);
		return WH_ERR_BUSY;
	}
	w->marks = m;
	w->nmarks = n;
	return submit(w, REQ_MARK);
}

int
todbc_take(struct todbc *w, struct todbc_result *ret)
{
	char buf[16];
	int done;

	while (read(w->pipe[0], buf, sizeof(buf)) > 0)
		;
	pthread_mutex_lock(&w->mu);
	done = w->done;
	if (done) {
		*ret = w->result;
		w->result.page = NULL;
		w->done = 0;
	}
	pthread_mutex_unlock(&w->mu);
	return done;
}

int
todbc_busy(struct todbc *w, int64_t *ret_since_ms)
{
	int busy;

	pthread_mutex_lock(&w->mu);
	busy = w->running;
	*ret_since_ms = w->since_ms;
	pthread_mutex_unlock(&w->mu);
	return busy;
}
