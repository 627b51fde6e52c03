/* The configuration file: one INI file parsed by inih into struct conf through one key table
 * that gives each key's type, default, unit and help. Unknown keys and bad values are errors
 * naming the file, the line and the key. */
#ifndef WHAGENT_CONF_H
#define WHAGENT_CONF_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "err.h"
#include "event.h"
#include "journal.h"
#include "ledger.h"

#define CONF_MAPS_MAX 8
/* Spool inputs in all: [input.spool] and the [input.spool.NAME] sections. */
#define CONF_SPOOLS_MAX 8
/* Longest input name: "spool." and a NAME of at most 32 characters. */
#define CONF_SPOOL_NAME_MAX 40

/* Table inputs in all: [input.table] and the [input.table.NAME] sections ("table.NAME"). */
#define CONF_TABLES_MAX 8

enum conf_sync { CONF_SYNC_FULL, CONF_SYNC_NORMAL };
enum conf_on_done { CONF_DONE_MOVE, CONF_DONE_DELETE };
enum conf_delim { CONF_DELIM_COMMA, CONF_DELIM_SEMICOLON, CONF_DELIM_TAB, CONF_DELIM_PIPE };
enum conf_mqtt_protocol { CONF_MQTT5, CONF_MQTT311 };
enum conf_ack_mode { CONF_ACK_BROKER, CONF_ACK_PLATFORM };
enum conf_ship_from { CONF_SHIP_FROM_BIN, CONF_SHIP_FROM_STAGING };
enum conf_table_mode { CONF_TABLE_WATERMARK, CONF_TABLE_HANDSHAKE };
enum conf_table_paging { CONF_PAGING_LIMIT, CONF_PAGING_FETCH };

/* [map.NAME]: canonical field → the WMS's column (or JSON key) name. */
struct conf_map {
	char *name;
	char *column[EF_COUNT]; /* by enum event_field; NULL keeps the field name */
	int nvalues;		/* FIELD.CODE = VALUE entries (value maps) */
	struct event_value *values;
};

/* Each section's settings; the module named beside each reads them (and only its own
 * section, but for [agent] site_id and the [map.NAME] sections). */
struct conf_agent { /* agent.c, and every module for site_id */
	char *site_id;
	char *state_dir;
	long log_level; /* enum log_level */
};

struct conf_journal { /* journal (opened by agent.c); commit_* by the inputs */
	char *path;
	int64_t max_bytes;
	int64_t reserve_bytes;
	long synchronous; /* enum conf_sync */
	long commit_records;
	long commit_ms;
	long damaged_keep; /* damaged journals a salvage keeps (salvage.c) */
	long quarantine_max_rows;
	int64_t quarantine_max_bytes; /* 0: max_bytes / 8 (conf_quarantine_max_bytes) */
	int64_t quarantine_raw_max_bytes;
	long quarantine_keep_days; /* 0: kept */
};

struct conf_spool {			/* input_spool.c */
	bool enabled;			/* the section is present */
	char name[CONF_SPOOL_NAME_MAX]; /* input name: "spool", or "spool.NAME" */
	char *dir;
	char *done_dir;
	long on_done;		  /* enum conf_on_done */
	long done_retention_days; /* 0: done_dir kept forever */
	char *owner;		  /* the files' owner (a user name); "": any */
	long settle_ms;
	long rescan_ms;
	char *map;
	char *source;
	long delimiter; /* enum conf_delim */
	int64_t max_record_bytes;
	char *records;	      /* JSON pointer to the records inside each .jsonl line; "" the line */
	char *timezone;	      /* IANA zone of WMS times without offset; "" none */
	long decimal;	      /* 0 point, 1 comma */
	long silence_alarm_s; /* health.c: no record this long inside operating_hours; 0 off */
	char *operating_hours; /* hours.h syntax; "" always */
};

struct conf_http {    /* input_http.c */
	bool enabled; /* the section is present */
	char *listen;
	int64_t max_body_bytes;
	long max_records;
	char *hmac_secret_file;
	long signature_window_s; /* httpauth: |now - t| of a signed POST at most */
	long max_connections;	 /* httplimit: open at once, and from one address */
	long max_connections_per_peer;
	long request_timeout_s;	    /* a whole request, from its first byte */
	int64_t max_buffered_bytes; /* request bodies held at once */
	char *token_file;	    /* bearer token for GETs from off this machine */
	char *tls_certfile;
	char *tls_keyfile;
	char *source;
	char *map;
	long timeout_s;
	long healthz_max_unsent_s; /* 0: /healthz ignores the backlog and the link */
	char *records;		   /* JSON pointer to the records inside the body; "" the body */
	char *timezone;		   /* IANA zone of WMS times without offset; "" none */
	long decimal;		   /* 0 point, 1 comma */
	long silence_alarm_s;	   /* as conf_spool's */
	char *operating_hours;
};

/* [input.table] and [input.table.NAME]: an interface table polled through ODBC. enabled and
 * name are placed as in struct conf_spool (conf.c handles both kinds of repeated section). */
struct conf_table {			/* input_table.c, table_odbc.c */
	bool enabled;			/* the section is present */
	char name[CONF_SPOOL_NAME_MAX]; /* input name: "table", or "table.NAME" */
	char *connection;		/* ODBC connection string ("DSN=wms" or "Driver=...;...") */
	char *password_file;		/* its PWD, from a file; "" none */
	char *table;			/* [schema.]table or view */
	long mode;			/* enum conf_table_mode */
	char *key_column;		/* unique id: tie-breaker, and the handshake's row key */
	char *cursor_column;		/* watermark: the monotonic column */
	char *lag_column;    /* watermark: the lag guard's time column ("": cursor_column) */
	long lag_s;	     /* watermark: rows newer than the database's now - lag_s wait */
	char *status_column; /* handshake */
	char *status_new, *status_sent, *status_error;
	char *seq_column;   /* handshake: gets the seq ("" none) */
	char *error_column; /* handshake: gets the quarantine reason ("" none) */
	long paging;	    /* enum conf_table_paging */
	long page_rows;
	long poll_ms;
	long login_timeout_s;
	long query_timeout_s;
	int64_t max_record_bytes;
	long retry_max_ms;
	char *map;
	char *source;
	char *timezone;
	long decimal;
	long silence_alarm_s;
	char *operating_hours;
};

struct conf_metrics { /* metrics.c (the textfile timer in agent.c) */
	char *textfile;
	long textfile_interval_s;
	long lagging_after_s; /* status.c: unacknowledged longer than this is "lagging" */
};

struct conf_health {		  /* health.c: alarms and the history of the status page */
	long ack_stall_s;	  /* in flight, no PUBACK this long: alarm, reconnect; 0 off */
	long clock_jump_ms;	  /* wall clock moved against the monotonic one by more */
	long event_time_ahead_s;  /* event_time later than the agent's clock by more: flagged */
	long event_time_behind_s; /* event_time earlier by more: flagged; 0 off */
	long history_sample_s;	  /* the page's 24 h chart: one sample this often */
};

struct conf_mqtt { /* the uplink runs when host is set */
	char *host;
	long port;
	char *client_id;
	char *topic_prefix;
	long protocol; /* enum conf_mqtt_protocol */
	long keepalive_s;
	char *cafile;
	char *capath;
	char *certfile;
	char *keyfile;
	long allow_insecure;
	char *username;
	char *password_file;
	long ack_mode; /* enum conf_ack_mode */
	long batch_max_events;
	int64_t batch_max_bytes;
	long linger_ms;
	long window;
	int64_t window_bytes;
	long reconnect_min_ms;
	long reconnect_max_ms;
	long status_interval_s;
	long drain_timeout_ms;
	long retention_s;
	long sign_batches;
	long cert_warn_days;
	char *platform_pubkey;	    /* control messages' keys (envelope.h) */
	char *platform_pubkey_next; /* a second one, for rotation */
	long control_max_skew_s;
	long allow_unsigned_control;
	long backfill_after_s;
	long live_share_pct;
	int64_t max_bytes_per_s;
};

struct conf_ledger { /* ledger.c's rules (conf_ledger_rules), snapshots in the uplink */
	char *staging;
	long shipment_from; /* enum conf_ship_from */
	long snapshot_interval_s;
	long snapshot_page_rows;
};

struct conf_identity { /* what `whagent enroll` (cli.c) puts in the CSR */
	char *organization;
	char *unit;
	char *dns_names;
};

struct conf {
	char *path;
	struct conf_agent agent;
	struct conf_journal journal;
	struct conf_spool spool; /* [input.spool] */
	int nspools;		 /* [input.spool.NAME], in file order */
	struct conf_spool spools[CONF_SPOOLS_MAX];
	struct conf_http http;
	struct conf_table table; /* [input.table] */
	int ntables;		 /* [input.table.NAME], in file order */
	struct conf_table tables[CONF_TABLES_MAX];
	struct conf_metrics metrics;
	struct conf_health health;
	struct conf_mqtt mqtt;
	struct conf_ledger ledger;
	struct conf_identity identity;
	int nmaps; /* [map.NAME] */
	struct conf_map maps[CONF_MAPS_MAX];
};

/* Parses the file at path. On failure writes a message naming file, line and key to err
 * and returns WH_ERR_CONF (or WH_ERR_IO, WH_ERR_NOMEM). Caller frees with conf_free. */
wh_err conf_load(const char *path, struct conf **ret_conf, char *err, size_t errlen);
void conf_free(struct conf *c);

/* Writes the effective settings, one "section.key = value" line each, to f. */
void conf_print(const struct conf *c, FILE *f);
/* For a reload from running to next: writes the keys that differ and only take effect at a
 * restart to buf, comma-separated ("[mqtt] host, [mqtt] ack_mode"; a section added or removed
 * is "[input.http] (the section)"), and returns how many (0: next can be applied as it is).
 * The key table's K_RESTART flags say which keys need a restart. */
int conf_restart_keys(const struct conf *running, const struct conf *next, char *buf, size_t len);
/* Whether site_id is still the shipped placeholder (CHANGE-ME) or another obvious one: the
 * agent refuses to start with it (a journal made under it would belong to no site). */
int conf_site_placeholder(const char *site_id);
/* Writes a warning line to f for every secret file (password, keys, HMAC secret) that others
 * than its owner may read, or that cannot be read; returns how many. */
int conf_check_secrets(const struct conf *c, FILE *f);
/* What the agent does with the path a key names, for `whagent check`. */
enum conf_path_kind {
	CONF_PATH_READ,	   /* a file it reads */
	CONF_PATH_DIRREAD, /* a directory it reads */
	CONF_PATH_DIR,	   /* a directory it creates files in */
	CONF_PATH_WRITE,   /* a file it writes (its directory must take new files) */
};
typedef void (*conf_path_cb)(const char *section, const char *key, const char *path,
			     enum conf_path_kind kind, int secret, void *arg);
/* Calls cb for every path the configuration names and the agent will use (sections not in
 * use skipped), in key-table order. */
void conf_paths(const struct conf *c, conf_path_cb cb, void *arg);
/* Writes every key with its default and help text to f. */
void conf_print_help(FILE *f);

/* The CSV field delimiter the spool input's delimiter key names. */
char conf_delimiter(const struct conf_spool *s);
/* The spool input named input ("spool" or "spool.NAME"), or NULL when none is configured. */
const struct conf_spool *conf_spool_find(const struct conf *c, const char *input);
/* The i-th spool input configured (0 .. conf_spool_count - 1): [input.spool] first when it is
 * present, then the [input.spool.NAME] ones in file order. */
int conf_spool_count(const struct conf *c);
const struct conf_spool *conf_spool_at(const struct conf *c, int i);
/* As conf_spool_find, conf_spool_count and conf_spool_at for the table inputs ("table",
 * "table.NAME"). */
const struct conf_table *conf_table_find(const struct conf *c, const char *input);
int conf_table_count(const struct conf *c);
const struct conf_table *conf_table_at(const struct conf *c, int i);
/* The journal's options from [journal] (quarantine_max_bytes 0: an eighth of max_bytes). */
struct journal_opts conf_journal_opts(const struct conf *c, int readonly);
/* 1 when the uplink uses TLS (a CA file or directory is configured). */
int conf_mqtt_tls(const struct conf *c);
/* 1 when host names this machine: "localhost", or an address literal in 127.0.0.0/8, ::1
 * or ::ffff:127.0.0.0/104. A name is not resolved here (the uplink checks the address it
 * resolves to before connecting). */
int conf_host_is_loopback(const char *host);

/* The ledger's rules as [ledger] sets them (borrowing c's strings). */
struct ledger_rules conf_ledger_rules(const struct conf *c);

/* The [map.NAME] section called name, or NULL. */
const struct conf_map *conf_map_find(const struct conf *c, const char *name);
/* Fills m for the input named input ("spool", "spool.NAME", "table.NAME" or "http", as the
 * quarantine's input column says): its [map.NAME] columns and value maps, timezone and decimal
 * separator. Borrows c.
 */
void conf_input_map(const struct conf *c, const char *input, struct event_map *m);

#endif
