/* The raw limit of the table input's read side: the same SELECT through the same unixODBC
 * driver, every column of every row fetched as text (SQLGetData), nothing journaled.
 * usage: bench_odbc_raw CONNECTION QUERY; prints "ROWS SECONDS". */
#include <sql.h>
#include <sqlext.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fail(SQLSMALLINT type, SQLHANDLE h, const char *what)
{
	SQLCHAR state[6] = "", msg[512] = "";
	SQLINTEGER native = 0;
	SQLSMALLINT len = 0;

	SQLGetDiagRec(type, h, 1, state, &native, msg, sizeof(msg), &len);
	fprintf(stderr, "bench_odbc_raw: %s: %s %s\n", what, state, msg);
}

int
main(int argc, char **argv)
{
	SQLHENV env = SQL_NULL_HENV;
	SQLHDBC dbc = SQL_NULL_HDBC;
	SQLHSTMT st = SQL_NULL_HSTMT;
	SQLSMALLINT ncols = 0;
	char buf[4096];
	long rows = 0;
	double t0;
	int rc = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: bench_odbc_raw CONNECTION QUERY\n");
		return 2;
	}
	SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env);
	SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, (SQLPOINTER)SQL_OV_ODBC3, 0);
	SQLAllocHandle(SQL_HANDLE_DBC, env, &dbc);
	if (!SQL_SUCCEEDED(SQLDriverConnect(dbc, NULL, (SQLCHAR *)argv[1], SQL_NTS, NULL, 0, NULL,
					    SQL_DRIVER_NOPROMPT))) {
		fail(SQL_HANDLE_DBC, dbc, "connecting");
		goto out;
	}
	SQLAllocHandle(SQL_HANDLE_STMT, dbc, &st);
	t0 = now_s();
	if (!SQL_SUCCEEDED(SQLExecDirect(st, (SQLCHAR *)argv[2], SQL_NTS))) {
		fail(SQL_HANDLE_STMT, st, "querying");
		goto out;
	}
	SQLNumResultCols(st, &ncols);
	while (SQL_SUCCEEDED(SQLFetch(st))) {
		for (SQLUSMALLINT c = 1; c <= (SQLUSMALLINT)ncols; c++) {
			SQLLEN ind;

			SQLGetData(st, c, SQL_C_CHAR, buf, sizeof(buf), &ind);
		}
		rows++;
	}
	printf("%ld %.3f\n", rows, now_s() - t0);
	rc = 0;
out:
	if (st != SQL_NULL_HSTMT)
		SQLFreeHandle(SQL_HANDLE_STMT, st);
	SQLDisconnect(dbc);
	SQLFreeHandle(SQL_HANDLE_DBC, dbc);
	SQLFreeHandle(SQL_HANDLE_ENV, env);
	return rc;
}
