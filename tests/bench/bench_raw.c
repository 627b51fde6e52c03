/* The raw limit for the spool benchmark: a plain SQLite insert loop of the same number of rows,
 * with the same unique key and payload size, in batched transactions with WAL and
 * synchronous=FULL. Prints "rows seconds write_bytes".
 * usage: bench_raw DB ROWS BATCH PAYLOAD_BYTES */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long
write_bytes(void)
{
	FILE *f = fopen("/proc/self/io", "r");
	char line[128];
	long long v = -1;

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "write_bytes: %lld", &v) == 1)
			break;
	if (f != NULL)
		fclose(f);
	return v;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
must(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

int
main(int argc, char **argv)
{
	sqlite3 *db;
	sqlite3_stmt *ins;
	long rows, batch, plen;
	char key[32], *payload;
	double t0;
	long long w0;

	if (argc != 5) {
		fprintf(stderr, "usage: bench_raw DB ROWS BATCH PAYLOAD_BYTES\n");
		return 2;
	}
	rows = strtol(argv[2], NULL, 10);
	batch = strtol(argv[3], NULL, 10);
	plen = strtol(argv[4], NULL, 10);
	payload = calloc(1, (size_t)plen + 1);
	memset(payload, 'p', (size_t)plen);
	must(sqlite3_open(argv[1], &db), db, "open");
	must(sqlite3_exec(db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			  "CREATE TABLE event(seq INTEGER PRIMARY KEY, source TEXT NOT NULL,"
			  " source_key TEXT NOT NULL, kind INTEGER NOT NULL,"
			  " captured_at INTEGER NOT NULL, payload BLOB NOT NULL,"
			  " UNIQUE(source, source_key));",
			  NULL, NULL, NULL),
	     db, "schema");
	must(sqlite3_prepare_v2(db,
				"INSERT INTO event VALUES(?1, 'wms', ?2, 1, ?3, ?4)"
				" ON CONFLICT(source, source_key) DO NOTHING",
				-1, &ins, NULL),
	     db, "prepare");
	w0 = write_bytes();
	t0 = now();
	for (long i = 0; i < rows;) {
		must(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), db, "begin");
		for (long k = 0; k < batch && i < rows; k++, i++) {
			snprintf(key, sizeof(key), "TXN-%09ld", i);
			sqlite3_bind_int64(ins, 1, i + 1);
			sqlite3_bind_text(ins, 2, key, -1, SQLITE_STATIC);
			sqlite3_bind_int64(ins, 3, (sqlite3_int64)(t0 * 1000));
			sqlite3_bind_blob(ins, 4, payload, (int)plen, SQLITE_STATIC);
			must(sqlite3_step(ins), db, "insert");
			sqlite3_reset(ins);
		}
		must(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
	}
	printf("%ld %.3f %lld\n", rows, now() - t0, write_bytes() - w0);
	sqlite3_finalize(ins);
	sqlite3_close(db);
	free(payload);
	return 0;
}
