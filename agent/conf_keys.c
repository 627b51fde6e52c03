/* The configuration's key table: for every key its section, type, default, bounds, help and
 * flags (K_RESTART, K_SECRET, the path kinds). Parsing, defaults, checks, help-config, the
 * effective-settings dump and reload decisions all derive from it (conf.c). */
#include <stddef.h>

#include "conf.h"
#include "conf_int.h"
#include "record.h"

#define OFF(m) offsetof(struct conf, m)
static const char *const sync_choices[] = {"full", "normal", NULL};
static const char *const done_choices[] = {"move", "delete", NULL};
static const char *const delim_choices[] = {"comma", "semicolon", "tab", "pipe", NULL};
static const char *const decimal_choices[] = {"point", "comma", NULL};
static const char *const protocol_choices[] = {"mqtt5", "mqtt311", NULL};
static const char *const bool_choices[] = {"false", "true", NULL};
static const char *const ack_choices[] = {"broker", "platform", NULL};
static const char *const ship_choices[] = {"bin", "staging", NULL};
static const char *const mode_choices[] = {"watermark", "handshake", NULL};
static const char *const paging_choices[] = {"limit", "fetch", NULL};
static const char *const level_choices[] = {"", "", "", "error", "warn", "", "info", "debug", NULL};

#define TZ_HELP                                                                                    \
	"IANA time zone (like Europe/Berlin) of WMS times without offset, DST included; an "       \
	"ambiguous time takes the earlier instant, a skipped one is quarantined (empty: the "      \
	"offset is required)"
#define DECIMAL_HELP "decimal separator of quantities: point (12.5) or comma (12,5)"
#define I64MAX	     INT64_MAX
#define SILENCE_HELP                                                                               \
	"no record (taken, duplicate or quarantined) from this input for this long inside "        \
	"operating_hours: the silence alarm; 0: off"
#define HOURS_HELP                                                                                 \
	"when the WMS works, in the input's timezone (else the system's): ranges like "            \
	"'Mon-Fri 06:00-22:00; Sat 08:00-12:00' (an end before the start runs past midnight); "    \
	"empty: always"

const struct conf_key conf_keys[] = {
	{"agent", "site_id", CT_STR, OFF(agent.site_id), NULL, 1, 64, NULL,
	 "site (warehouse) id, used in topics and events; letters, digits, '-', '_', '.'",
	 K_RESTART},
	{"agent", "state_dir", CT_STR, OFF(agent.state_dir), "/var/lib/whagent", 1, 4096, NULL,
	 "directory for the journal and state", K_RESTART | K_DIR},
	{"agent", "log_level", CT_ENUM, OFF(agent.log_level), "info", 0, 0, level_choices,
	 "error, warn, info or debug", 0},
	{"journal", "path", CT_STR, OFF(journal.path), NULL, 1, 4096, NULL,
	 "journal file (default: state_dir/journal.db)", K_RESTART | K_PARENT | K_DERIVED},
	{"journal", "max_bytes", CT_SIZE, OFF(journal.max_bytes), "512MiB", 1 << 20, I64MAX, NULL,
	 "byte budget of the journal; at the budget inputs are refused (back-pressure)", 0},
	{"journal", "reserve_bytes", CT_SIZE, OFF(journal.reserve_bytes), "64MiB", 0, I64MAX, NULL,
	 "free space kept on the journal's file system; below it inputs are refused", 0},
	{"journal", "synchronous", CT_ENUM, OFF(journal.synchronous), "full", 0, 0, sync_choices,
	 "full: every commit survives power loss; normal: faster, a power cut may lose the "
	 "last commits (not the journal), and sources are then already acknowledged",
	 K_RESTART},
	{"journal", "quarantine_max_rows", CT_INT, OFF(journal.quarantine_max_rows), "100000", 0,
	 100000000, NULL,
	 "quarantined records kept at most; past it the oldest are evicted (counted, logged; 0: "
	 "no bound)",
	 0},
	{"journal", "quarantine_max_bytes", CT_SIZE, OFF(journal.quarantine_max_bytes), "0", 0,
	 I64MAX, NULL,
	 "bytes the quarantine keeps at most (0: an eighth of max_bytes); past it the oldest are "
	 "evicted",
	 K_DERIVED},
	{"journal", "quarantine_raw_max_bytes", CT_SIZE, OFF(journal.quarantine_raw_max_bytes),
	 "64KiB", 256, 16 << 20, NULL,
	 "raw bytes kept of a quarantined record (its full length and SHA-256 are kept too; a "
	 "cut record cannot be requeued)",
	 0},
	{"journal", "quarantine_keep_days", CT_INT, OFF(journal.quarantine_keep_days), "30", 0,
	 36500, NULL, "quarantined records older than this are deleted (0: kept)", 0},
	{"journal", "damaged_keep", CT_INT, OFF(journal.damaged_keep), "0", 0, 100, NULL,
	 "damaged journals moved aside by a salvage that are kept, newest first; older ones "
	 "are deleted at the next salvage (0: every one is kept: what a salvage could not read "
	 "is only there)",
	 0},
	{"journal", "commit_records", CT_INT, OFF(journal.commit_records), "1000", 1, 100000, NULL,
	 "group commit: records per transaction at most", 0},
	{"journal", "commit_ms", CT_INT, OFF(journal.commit_ms), "100", 1, 10000, NULL,
	 "group commit: milliseconds per transaction at most", 0},
	{"input.spool", "dir", CT_STR, OFF(spool.dir), NULL, 1, 4096, NULL,
	 "spool folder the WMS drops *.csv and *.jsonl files into", K_RESTART | K_DIR},
	{"input.spool", "done_dir", CT_STR, OFF(spool.done_dir), NULL, 1, 4096, NULL,
	 "where finished files go (default: dir/done; same file system as dir)",
	 K_RESTART | K_DIR | K_DERIVED},
	{"input.spool", "on_done", CT_ENUM, OFF(spool.on_done), "move", 0, 0, done_choices,
	 "move finished files to done_dir, or delete them", K_RESTART},
	{"input.spool", "owner", CT_STR, OFF(spool.owner), "", 0, 64, NULL,
	 "user the WMS's files must belong to (its upload user); a file of another owner is "
	 "refused with one log line (empty: any owner)",
	 K_RESTART},
	{"input.spool", "done_retention_days", CT_INT, OFF(spool.done_retention_days), "30", 0,
	 36500, NULL,
	 "files in done_dir are deleted this many days after they were moved there (0: kept "
	 "forever)",
	 0},
	{"input.spool", "settle_ms", CT_INT, OFF(spool.settle_ms), "2000", 0, 3600000, NULL,
	 "a file not renamed in is taken once unchanged for this long", 0},
	{"input.spool", "rescan_ms", CT_INT, OFF(spool.rescan_ms), "5000", 100, 3600000, NULL,
	 "periodic rescan of the folder (besides inotify)", 0},
	{"input.spool", "map", CT_STR, OFF(spool.map), "", 0, 64, NULL,
	 "name of a [map.NAME] section renaming the WMS's columns (empty: canonical names)", 0},
	{"input.spool", "source", CT_STR, OFF(spool.source), "wms", 1, 64, NULL,
	 "source name: (source, txn_id) is unique; give inputs fed by one WMS the same name", 0},
	{"input.spool", "delimiter", CT_ENUM, OFF(spool.delimiter), "comma", 0, 0, delim_choices,
	 "CSV field delimiter: comma, semicolon, tab or pipe", 0},
	{"input.spool", "max_record_bytes", CT_SIZE, OFF(spool.max_record_bytes), "64KiB", 1024,
	 16 << 20, NULL, "longest record (line) taken; longer ones are quarantined", K_RESTART},
	{"input.spool", "records", CT_STR, OFF(spool.records), "", 0, RECORD_POINTER_MAX, NULL,
	 "JSON pointer (RFC 6901) to the records inside each line of a .jsonl file, like "
	 "/data/items (an array's elements or one object); empty: the line itself",
	 0},
	{"input.spool", "timezone", CT_STR, OFF(spool.timezone), "", 0, 64, NULL, TZ_HELP, 0},
	{"input.spool", "decimal", CT_ENUM, OFF(spool.decimal), "point", 0, 0, decimal_choices,
	 DECIMAL_HELP, 0},
	{"input.spool", "silence_alarm_s", CT_INT, OFF(spool.silence_alarm_s), "0", 0, 604800, NULL,
	 SILENCE_HELP, 0},
	{"input.spool", "operating_hours", CT_STR, OFF(spool.operating_hours), "", 0, 200, NULL,
	 HOURS_HELP, 0},
	{"input.http", "listen", CT_STR, OFF(http.listen), "127.0.0.1:8088", 3, 64, NULL,
	 "address:port of the webhook listener; an address off this machine needs TLS", K_RESTART},
	{"input.http", "max_body_bytes", CT_SIZE, OFF(http.max_body_bytes), "1MiB", 1024, 64 << 20,
	 NULL, "larger request bodies get 413", 0},
	{"input.http", "max_records_per_request", CT_INT, OFF(http.max_records), "1000", 1, 100000,
	 NULL, "more records in one request get 413", 0},
	{"input.http", "hmac_secret_file", CT_STR, OFF(http.hmac_secret_file), "", 0, 4096, NULL,
	 "file holding the shared secret (not empty): every POST must carry X-Whagent-Signature: "
	 "t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">, used once",
	 K_RESTART | K_SECRET | K_FILE},
	{"input.http", "signature_window_s", CT_INT, OFF(http.signature_window_s), "300", 1, 3600,
	 NULL,
	 "a signed POST whose t is further than this from the agent's clock is refused; "
	 "[mqtt] retention_s must be more than twice this",
	 0},
	{"input.http", "token_file", CT_STR, OFF(http.token_file), "", 0, 4096, NULL,
	 "file holding a bearer token: GETs from off this machine (but /healthz) need "
	 "Authorization: Bearer <token>, and so do the status page's requeue and purge (from "
	 "this machine too); empty: they are refused",
	 K_RESTART | K_SECRET | K_FILE},
	{"input.http", "tls_certfile", CT_STR, OFF(http.tls_certfile), "", 0, 4096, NULL,
	 "certificate (PEM) for HTTPS (TLS 1.2 or newer)", K_RESTART | K_FILE},
	{"input.http", "tls_keyfile", CT_STR, OFF(http.tls_keyfile), "", 0, 4096, NULL,
	 "private key (PEM) for HTTPS", K_RESTART | K_SECRET | K_FILE},
	{"input.http", "source", CT_STR, OFF(http.source), "wms", 1, 64, NULL,
	 "source name: (source, txn_id) is unique; the same as the spool's to dedupe across", 0},
	{"input.http", "map", CT_STR, OFF(http.map), "", 0, 64, NULL,
	 "name of a [map.NAME] section for the JSON keys (empty: canonical names)", 0},
	{"input.http", "max_connections", CT_INT, OFF(http.max_connections), "256", 1, 65536, NULL,
	 "connections at once; more are answered 503 at once (but /healthz)", K_RESTART},
	{"input.http", "max_connections_per_peer", CT_INT, OFF(http.max_connections_per_peer), "32",
	 1, 65536, NULL,
	 "connections at once from one address; more are answered 429 at once (but /healthz)",
	 K_RESTART},
	{"input.http", "request_timeout_s", CT_INT, OFF(http.request_timeout_s), "60", 1, 3600,
	 NULL,
	 "a request not whole (headers and body) this long after it began is closed: a deadline, "
	 "not an idle timeout",
	 0},
	{"input.http", "max_buffered_bytes", CT_SIZE, OFF(http.max_buffered_bytes), "32MiB",
	 64 << 10, 1 << 30, NULL,
	 "request bodies held at once, all requests together; past it a request is answered 503 "
	 "at once",
	 0},
	{"input.http", "timeout_s", CT_INT, OFF(http.timeout_s), "30", 1, 3600, NULL,
	 "idle connections are closed after this long", K_RESTART},
	{"input.http", "healthz_max_unsent_s", CT_INT, OFF(http.healthz_max_unsent_s), "900", 0,
	 2592000, NULL,
	 "/healthz answers 503 when the oldest unacknowledged event is older than this, or the "
	 "MQTT link has been down longer; 0: off",
	 0},
	{"input.http", "records", CT_STR, OFF(http.records), "", 0, RECORD_POINTER_MAX, NULL,
	 "JSON pointer (RFC 6901) to the records inside each body or JSON Lines line, like "
	 "/data/items (an array's elements or one object); empty: the body itself",
	 0},
	{"input.http", "timezone", CT_STR, OFF(http.timezone), "", 0, 64, NULL, TZ_HELP, 0},
	{"input.http", "decimal", CT_ENUM, OFF(http.decimal), "point", 0, 0, decimal_choices,
	 DECIMAL_HELP, 0},
	{"input.http", "silence_alarm_s", CT_INT, OFF(http.silence_alarm_s), "0", 0, 604800, NULL,
	 SILENCE_HELP, 0},
	{"input.http", "operating_hours", CT_STR, OFF(http.operating_hours), "", 0, 200, NULL,
	 HOURS_HELP, 0},
	{"health", "ack_stall_s", CT_INT, OFF(health.ack_stall_s), "60", 0, 86400, NULL,
	 "batches in flight and no PUBACK for this long while connected: the ack_stall alarm, "
	 "and the connection is torn down and made again (what was in flight is resent); 0: off",
	 0},
	{"health", "clock_jump_ms", CT_INT, OFF(health.clock_jump_ms), "2000", 100, 86400000, NULL,
	 "the wall clock stepping by more than this against the monotonic clock is a clock "
	 "jump: counted, logged and the clock_jump alarm for an hour",
	 0},
	{"health", "event_time_ahead_s", CT_INT, OFF(health.event_time_ahead_s), "3600", 0,
	 31536000, NULL,
	 "an event_time later than the agent's clock by more than this is flagged (counted, "
	 "the event_time alarm for an hour), not refused; 0: off",
	 0},
	{"health", "event_time_behind_s", CT_INT, OFF(health.event_time_behind_s), "0", 0,
	 315360000, NULL,
	 "an event_time earlier than the agent's clock by more than this is flagged likewise; "
	 "0: off",
	 0},
	{"health", "history_sample_s", CT_INT, OFF(health.history_sample_s), "60", 1, 3600, NULL,
	 "the status page's chart keeps 1440 samples (backlog, oldest unsent age, events), one "
	 "this often: 60 gives 24 hours",
	 K_RESTART},
	{"metrics", "textfile", CT_STR, OFF(metrics.textfile), "", 0, 4096, NULL,
	 "write the Prometheus metrics to this file too (node_exporter textfile collector)",
	 K_RESTART | K_PARENT},
	{"metrics", "textfile_interval_s", CT_INT, OFF(metrics.textfile_interval_s), "15", 1, 3600,
	 NULL, "how often the textfile is rewritten", 0},
	{"metrics", "lagging_after_s", CT_INT, OFF(metrics.lagging_after_s), "300", 1, 2592000,
	 NULL,
	 "status, metrics and the Status message say 'lagging since T' while an event has "
	 "waited longer than this for the acknowledgement that deletes it",
	 0},
	{"input.table", "connection", CT_STR, OFF(table.connection), NULL, 1, 1024, NULL,
	 "ODBC connection string: DSN=NAME (odbc.ini) or Driver=...;Server=...;Database=...;"
	 "Uid=...; without the password (printed by check, never holds a secret)",
	 K_RESTART},
	{"input.table", "password_file", CT_STR, OFF(table.password_file), "", 0, 4096, NULL,
	 "file holding the database password, added to the connection string as PWD (never "
	 "logged); empty: none, or the DSN's",
	 K_RESTART | K_SECRET | K_FILE},
	{"input.table", "table", CT_STR, OFF(table.table), NULL, 1, 128, NULL,
	 "interface table or view, [schema.]name of letters, digits and '_' (quoted in the SQL)",
	 K_RESTART},
	{"input.table", "mode", CT_ENUM, OFF(table.mode), "watermark", 0, 0, mode_choices,
	 "watermark: read rows past a cursor (cursor_column, key_column) kept in the journal; "
	 "handshake: read rows whose status_column is status_new, write status_sent (or "
	 "status_error) back after the journal commit",
	 K_RESTART},
	{"input.table", "key_column", CT_STR, OFF(table.key_column), NULL, 1, 64, NULL,
	 "the rows' unique id column: the cursor's tie-breaker, the handshake's row key",
	 K_RESTART},
	{"input.table", "cursor_column", CT_STR, OFF(table.cursor_column), "", 0, 64, NULL,
	 "watermark: the monotonic column (a timestamp or a sequence) read in order", K_RESTART},
	{"input.table", "lag_column", CT_STR, OFF(table.lag_column), "", 0, 64, NULL,
	 "watermark: the timestamp column of the lag guard (empty: cursor_column, which must "
	 "then be a timestamp when lag_s is not 0)",
	 K_RESTART},
	{"input.table", "lag_s", CT_INT, OFF(table.lag_s), "30", 0, 86400, NULL,
	 "watermark: rows whose lag_column is newer than the database's clock minus this wait "
	 "for a later poll (WMS transactions commit out of order; longer than the longest "
	 "WMS transaction); 0: off",
	 K_RESTART},
	{"input.table", "status_column", CT_STR, OFF(table.status_column), "", 0, 64, NULL,
	 "handshake: the status column", K_RESTART},
	{"input.table", "status_new", CT_STR, OFF(table.status_new), "new", 1, 64, NULL,
	 "handshake: the status of rows to take", K_RESTART},
	{"input.table", "status_sent", CT_STR, OFF(table.status_sent), "sent", 1, 64, NULL,
	 "handshake: the status written back once a row is journaled", K_RESTART},
	{"input.table", "status_error", CT_STR, OFF(table.status_error), "error", 1, 64, NULL,
	 "handshake: the status written back for a quarantined row", K_RESTART},
	{"input.table", "seq_column", CT_STR, OFF(table.seq_column), "", 0, 64, NULL,
	 "handshake: column that gets the row's journal seq (empty: none)", K_RESTART},
	{"input.table", "error_column", CT_STR, OFF(table.error_column), "", 0, 64, NULL,
	 "handshake: column that gets the quarantine reason (empty: none)", K_RESTART},
	{"input.table", "paging", CT_ENUM, OFF(table.paging), "limit", 0, 0, paging_choices,
	 "how a page is asked for: limit (LIMIT n: PostgreSQL, MariaDB, MySQL, SQLite) or fetch "
	 "(FETCH FIRST n ROWS ONLY: Oracle 12c+, DB2, PostgreSQL)",
	 K_RESTART},
	{"input.table", "page_rows", CT_INT, OFF(table.page_rows), "500", 1, 10000, NULL,
	 "rows read per query (one journal transaction)", K_RESTART},
	{"input.table", "poll_ms", CT_INT, OFF(table.poll_ms), "2000", 100, 3600000, NULL,
	 "pause between polls once the table has nothing more to take", K_RESTART},
	{"input.table", "login_timeout_s", CT_INT, OFF(table.login_timeout_s), "10", 1, 600, NULL,
	 "connecting to the database fails after this long", K_RESTART},
	{"input.table", "query_timeout_s", CT_INT, OFF(table.query_timeout_s), "60", 1, 3600, NULL,
	 "a query is cancelled after this long (it runs in its own thread: the agent goes on "
	 "meanwhile)",
	 K_RESTART},
	{"input.table", "max_record_bytes", CT_SIZE, OFF(table.max_record_bytes), "64KiB", 1024,
	 16 << 20, NULL, "longest row taken (its values); longer ones are quarantined", K_RESTART},
	{"input.table", "retry_max_ms", CT_INT, OFF(table.retry_max_ms), "60000", 1000, 3600000,
	 NULL, "after a database error, retries back off from 1 s up to this", K_RESTART},
	{"input.table", "map", CT_STR, OFF(table.map), "", 0, 64, NULL,
	 "name of a [map.NAME] section renaming the table's columns (empty: canonical names)",
	 K_RESTART},
	{"input.table", "source", CT_STR, OFF(table.source), "wms", 1, 64, NULL,
	 "source name: (source, txn_id) is unique; give inputs fed by one WMS the same name",
	 K_RESTART},
	{"input.table", "timezone", CT_STR, OFF(table.timezone), "", 0, 64, NULL, TZ_HELP,
	 K_RESTART},
	{"input.table", "decimal", CT_ENUM, OFF(table.decimal), "point", 0, 0, decimal_choices,
	 DECIMAL_HELP, K_RESTART},
	{"input.table", "silence_alarm_s", CT_INT, OFF(table.silence_alarm_s), "0", 0, 604800, NULL,
	 SILENCE_HELP, 0},
	{"input.table", "operating_hours", CT_STR, OFF(table.operating_hours), "", 0, 200, NULL,
	 HOURS_HELP, 0},
	{"mqtt", "host", CT_STR, OFF(mqtt.host), "", 0, 255, NULL,
	 "broker host name or address; empty: no uplink (events stay in the journal)", K_RESTART},
	{"mqtt", "port", CT_INT, OFF(mqtt.port), "8883", 1, 65535, NULL, "broker port", K_RESTART},
	{"mqtt", "client_id", CT_STR, OFF(mqtt.client_id), "", 0, 128, NULL,
	 "MQTT client id (default: whagent-SITE_ID)", K_RESTART},
	{"mqtt", "topic_prefix", CT_STR, OFF(mqtt.topic_prefix), "whagent/v1", 1, 128, NULL,
	 "topics are PREFIX/SITE_ID/events, /status, ...", K_RESTART},
	{"mqtt", "protocol", CT_ENUM, OFF(mqtt.protocol), "mqtt5", 0, 0, protocol_choices,
	 "mqtt5 (properties: content type, site, journal, first_seq, last_seq) or mqtt311",
	 K_RESTART},
	{"mqtt", "keepalive_s", CT_INT, OFF(mqtt.keepalive_s), "30", 5, 3600, NULL,
	 "MQTT keep-alive", K_RESTART},
	{"mqtt", "cafile", CT_STR, OFF(mqtt.cafile), "", 0, 4096, NULL,
	 "CA certificate(s) to verify the broker: turns TLS on (1.2 or newer, host name "
	 "verified)",
	 K_RESTART | K_FILE},
	{"mqtt", "capath", CT_STR, OFF(mqtt.capath), "", 0, 4096, NULL,
	 "directory of CA certificates (alternative to cafile)", K_RESTART | K_DIRREAD},
	{"mqtt", "certfile", CT_STR, OFF(mqtt.certfile), "", 0, 4096, NULL,
	 "client certificate for mutual TLS (with keyfile)", K_FILE},
	{"mqtt", "keyfile", CT_STR, OFF(mqtt.keyfile), "", 0, 4096, NULL,
	 "client private key for mutual TLS", K_SECRET | K_FILE},
	{"mqtt", "allow_insecure", CT_ENUM, OFF(mqtt.allow_insecure), "false", 0, 0, bool_choices,
	 "allow plain TCP to a broker that is not on this machine", K_RESTART},
	{"mqtt", "username", CT_STR, OFF(mqtt.username), "", 0, 256, NULL, "MQTT user name",
	 K_RESTART},
	{"mqtt", "password_file", CT_STR, OFF(mqtt.password_file), "", 0, 4096, NULL,
	 "file holding the MQTT password (first line; never logged)",
	 K_RESTART | K_SECRET | K_FILE},
	{"mqtt", "ack_mode", CT_ENUM, OFF(mqtt.ack_mode), "broker", 0, 0, ack_choices,
	 "broker: the broker's PUBACK lets an event be pruned (after retention_s); platform: "
	 "only the central platform's PlatformAck on PREFIX/SITE/ack does",
	 K_RESTART},
	{"mqtt", "batch_max_events", CT_INT, OFF(mqtt.batch_max_events), "500", 1, 10000, NULL,
	 "events per EventBatch at most", K_RESTART},
	{"mqtt", "batch_max_bytes", CT_SIZE, OFF(mqtt.batch_max_bytes), "256KiB", 64 << 10,
	 16 << 20, NULL, "bytes of events per EventBatch at most", K_RESTART},
	{"mqtt", "linger_ms", CT_INT, OFF(mqtt.linger_ms), "20", 0, 10000, NULL,
	 "wait this long for more events before sending a partial batch", 0},
	{"mqtt", "window", CT_INT, OFF(mqtt.window), "32", 1, 1000, NULL,
	 "batches in flight (published, not yet acknowledged)", K_RESTART},
	{"mqtt", "window_bytes", CT_SIZE, OFF(mqtt.window_bytes), "512KiB", 16 << 10, 64 << 20,
	 NULL,
	 "bytes of the batches in flight at most (libmosquitto keeps a copy of each until it is "
	 "acknowledged); one batch always may go",
	 0},
	{"mqtt", "reconnect_min_ms", CT_INT, OFF(mqtt.reconnect_min_ms), "500", 10, 600000, NULL,
	 "first reconnect delay; doubles (with jitter) up to reconnect_max_ms", 0},
	{"mqtt", "reconnect_max_ms", CT_INT, OFF(mqtt.reconnect_max_ms), "60000", 10, 3600000, NULL,
	 "longest reconnect delay", 0},
	{"mqtt", "status_interval_s", CT_INT, OFF(mqtt.status_interval_s), "60", 1, 86400, NULL,
	 "heartbeat Status period", 0},
	{"mqtt", "drain_timeout_ms", CT_INT, OFF(mqtt.drain_timeout_ms), "5000", 0, 600000, NULL,
	 "on stop, wait this long for acknowledgements of batches in flight", 0},
	{"mqtt", "retention_s", CT_INT, OFF(mqtt.retention_s), "86400", 0, 31536000, NULL,
	 "acknowledged events are kept this long (for replay), then pruned", 0},
	{"mqtt", "sign_batches", CT_ENUM, OFF(mqtt.sign_batches), "false", 0, 0, bool_choices,
	 "sign every EventBatch with the device key (keyfile): ECDSA P-256", K_RESTART},
	{"mqtt", "cert_warn_days", CT_INT, OFF(mqtt.cert_warn_days), "30", 0, 3650, NULL,
	 "warn when the client certificate expires within this many days", 0},
	{"mqtt", "platform_pubkey", CT_STR, OFF(mqtt.platform_pubkey), "", 0, 4096, NULL,
	 "PEM EC P-256 public key of the central platform: acks and commands must be signed "
	 "with it (or with platform_pubkey_next); re-read on reload",
	 K_FILE},
	{"mqtt", "platform_pubkey_next", CT_STR, OFF(mqtt.platform_pubkey_next), "", 0, 4096, NULL,
	 "a second platform key, also taken (for rotation: add the new key here, then make it "
	 "platform_pubkey and empty this)",
	 K_FILE},
	{"mqtt", "control_max_skew_s", CT_INT, OFF(mqtt.control_max_skew_s), "300", 1, 86400, NULL,
	 "clock skew tolerated for the issued and expiry times of the platform's messages", 0},
	{"mqtt", "allow_unsigned_control", CT_ENUM, OFF(mqtt.allow_unsigned_control), "false", 0, 0,
	 bool_choices,
	 "INSECURE: take acks and commands without a signature (anyone who may publish on the "
	 "broker can then prune the journal and steer the agent); trials only",
	 0},
	{"mqtt", "backfill_after_s", CT_INT, OFF(mqtt.backfill_after_s), "60", 0, 31536000, NULL,
	 "a backlog older than this drains on PREFIX/SITE/backfill (marked historical) beside "
	 "new events on /events, so live events are not held behind it; 0: one lane",
	 0},
	{"mqtt", "live_share_pct", CT_INT, OFF(mqtt.live_share_pct), "50", 1, 99, NULL,
	 "while a backfill drains: the share of the window and of max_bytes_per_s kept for new "
	 "events (each lane takes what the other leaves)",
	 0},
	{"mqtt", "max_bytes_per_s", CT_SIZE, OFF(mqtt.max_bytes_per_s), "0", 0, (int64_t)1 << 40,
	 NULL,
	 "uplink rate limit in bytes of batches per second, to leave the WAN link room for "
	 "the warehouse; 0: none",
	 0},
	{"ledger", "staging_location", CT_STR, OFF(ledger.staging), "STAGING", 1, 64, NULL,
	 "where picks without to_bin put stock, and shipments without a bin take it from", 0},
	{"ledger", "shipment_from", CT_ENUM, OFF(ledger.shipment_from), "bin", 0, 0, ship_choices,
	 "bin: a shipment leaves from the bin it names (staging when none); staging: always from "
	 "staging_location, for a WMS whose shipments name the dock, not where picked goods wait",
	 0},
	{"ledger", "snapshot_interval_s", CT_INT, OFF(ledger.snapshot_interval_s), "3600", 0,
	 604800, NULL,
	 "publish an on-hand snapshot on PREFIX/SITE/snapshot this often; 0: on command only", 0},
	{"ledger", "snapshot_page_rows", CT_INT, OFF(ledger.snapshot_page_rows), "1000", 10, 20000,
	 NULL, "balance rows per snapshot message", 0},
	{"identity", "organization", CT_STR, OFF(identity.organization), "", 0, 64, NULL,
	 "O= of the CSR `whagent enroll` writes", 0},
	{"identity", "unit", CT_STR, OFF(identity.unit), "", 0, 64, NULL, "OU= of the CSR", 0},
	{"identity", "dns_names", CT_STR, OFF(identity.dns_names), "", 0, 1024, NULL,
	 "DNS subject alternative names of the CSR, comma-separated", 0},
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");
