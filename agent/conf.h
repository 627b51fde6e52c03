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
#include "ledger.h"

#define CONF_MAPS_MAX 8

enum conf_sync { CONF_SYNC_FULL, CONF_SYNC_NORMAL };
enum conf_on_done { CONF_DONE_MOVE, CONF_DONE_DELETE };
enum conf_delim { CONF_DELIM_COMMA, CONF_DELIM_SEMICOLON, CONF_DELIM_TAB, CONF_DELIM_PIPE };
enum conf_mqtt_protocol { CONF_MQTT5, CONF_MQTT311 };
enum conf_ack_mode { CONF_ACK_BROKER, CONF_ACK_PLATFORM };
enum conf_ship_from { CONF_SHIP_FROM_BIN, CONF_SHIP_FROM_STAGING };

/* [map.NAME]: canonical field → the WMS's column (or JSON key) name. */
struct conf_map {
	char *name;
	char *column[EF_COUNT]; /* by enum event_field; NULL keeps the field name */
};

struct conf {
	char *path;
	/* [agent] */
	char *site_id;
	char *state_dir;
	long log_level; /* enum log_level */
	/* [journal] */
	char *journal_path;
	int64_t journal_max_bytes;
	int64_t journal_reserve_bytes;
	long journal_synchronous; /* enum conf_sync */
	long commit_records;
	long commit_ms;
	/* [input.spool] */
	bool spool_enabled;
	char *spool_dir;
	char *spool_done_dir;
	long spool_on_done; /* enum conf_on_done */
	long spool_settle_ms;
	long spool_rescan_ms;
	char *spool_map;
	char *spool_source;
	long spool_delimiter; /* enum conf_delim */
	int64_t spool_max_record_bytes;
	/* [input.http] */
	bool http_enabled;
	char *http_listen;
	int64_t http_max_body_bytes;
	long http_max_records;
	char *http_hmac_secret_file;
	char *http_tls_certfile;
	char *http_tls_keyfile;
	char *http_source;
	char *http_map;
	long http_timeout_s;
	/* [metrics] */
	char *metrics_textfile;
	long metrics_textfile_interval_s;
	/* [mqtt]: the uplink runs when host is set */
	char *mqtt_host;
	long mqtt_port;
	char *mqtt_client_id;
	char *mqtt_topic_prefix;
	long mqtt_protocol; /* enum conf_mqtt_protocol */
	long mqtt_keepalive_s;
	char *mqtt_cafile;
	char *mqtt_capath;
	char *mqtt_certfile;
	char *mqtt_keyfile;
	long mqtt_allow_insecure;
	char *mqtt_username;
	char *mqtt_password_file;
	long mqtt_ack_mode; /* enum conf_ack_mode */
	long mqtt_batch_max_events;
	int64_t mqtt_batch_max_bytes;
	long mqtt_linger_ms;
	long mqtt_window;
	long mqtt_reconnect_min_ms;
	long mqtt_reconnect_max_ms;
	long mqtt_status_interval_s;
	long mqtt_drain_timeout_ms;
	long mqtt_retention_s;
	long mqtt_sign_batches;
	long mqtt_cert_warn_days;
	char *mqtt_command_pubkey;
	long mqtt_command_max_skew_s;
	long mqtt_backfill_after_s;
	long mqtt_live_share_pct;
	int64_t mqtt_max_bytes_per_s;
	/* [ledger] */
	char *ledger_staging;
	long ledger_shipment_from; /* enum conf_ship_from */
	long ledger_snapshot_interval_s;
	long ledger_snapshot_page_rows;
	/* [identity]: what `whagent enroll` puts in the CSR */
	char *identity_organization;
	char *identity_unit;
	char *identity_dns_names;
	/* [map.NAME] */
	int nmaps;
	struct conf_map maps[CONF_MAPS_MAX];
};

/* Parses the file at path. On failure writes a message naming file, line and key to err
 * and returns WH_ERR_CONF (or WH_ERR_IO, WH_ERR_NOMEM). Caller frees with conf_free. */
wh_err conf_load(const char *path, struct conf **ret_conf, char *err, size_t errlen);
void conf_free(struct conf *c);

/* Writes the effective settings, one "section.key = value" line each, to f. */
void conf_print(const struct conf *c, FILE *f);
/* Writes every key with its default and help text to f. */
void conf_print_help(FILE *f);

/* The CSV field delimiter [input.spool] delimiter names. */
char conf_delimiter(const struct conf *c);
/* 1 when the uplink uses TLS (a CA file or directory is configured). */
int conf_mqtt_tls(const struct conf *c);
/* 1 when host names this machine (localhost, 127.0.0.0/8, ::1). */
int conf_host_is_loopback(const char *host);

/* The ledger's rules as [ledger] sets them (borrowing c's strings). */
struct ledger_rules conf_ledger_rules(const struct conf *c);

/* The [map.NAME] section called name, or NULL. */
const struct conf_map *conf_map_find(const struct conf *c, const char *name);

#endif
