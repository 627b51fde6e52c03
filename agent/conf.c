/* Configuration: the key table, inih callbacks, value parsers and the effective-settings dump. */
#include "conf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "hours.h"
#include "conf_int.h"
#include "log.h"
#include "mem.h"
#include "record.h"

#define NKEYS  conf_nkeys
#define OFF(m) offsetof(struct conf, m)

struct parse_state {
	struct conf *conf;
	const char *path;
	FILE *file;
	int line;      /* line of the text inih is handling */
	int next_line; /* line of the next text the reader returns */
	char *err;
	size_t errlen;
	wh_err rc;
	unsigned char seen[CONF_KEYS_MAX];
	/* keys seen in the [input.spool.NAME] and [input.table.NAME] sections, by struct multi */
	unsigned char seen_inst[2][CONF_SPOOLS_MAX][CONF_KEYS_MAX];
};

/* A section that repeats as [input.KIND.NAME]: the key table describes it once, at anchor
 * ([input.KIND], itself an instance named KIND), and the named instances are kept in an array
 * of struct conf. Instances start with enabled and name, like struct conf_spool. */
struct multi {
	const char *section; /* the key table's section: "input.spool" */
	const char *kind;    /* "spool" */
	size_t anchor;	     /* offset of [input.KIND] in struct conf */
	size_t array, size;  /* offset of the instances' array, size of one */
	size_t count;	     /* offset of their int count */
};

_Static_assert(CONF_TABLES_MAX == CONF_SPOOLS_MAX, "one seen_inst bound");
_Static_assert(offsetof(struct conf_table, name) == offsetof(struct conf_spool, name) &&
		       offsetof(struct conf_table, enabled) == offsetof(struct conf_spool, enabled),
	       "instances start alike");

static const struct multi multis[2] = {
	{"input.spool", "spool", OFF(spool), OFF(spools), sizeof(struct conf_spool), OFF(nspools)},
	{"input.table", "table", OFF(table), OFF(tables), sizeof(struct conf_table), OFF(ntables)},
};

/* The struct multi of key k's section, or NULL. */
static const struct multi *
multi_of(const struct conf_key *k)
{
	for (int i = 0; i < 2; i++)
		if (strcmp(k->section, multis[i].section) == 0)
			return &multis[i];
	return NULL;
}

static int
multi_n(const struct conf *c, const struct multi *m)
{
	return *(const int *)((const char *)c + m->count);
}

/* The i-th named instance of m (0 .. multi_n - 1). */
static char *
multi_at(struct conf *c, const struct multi *m, int i)
{
	return (char *)c + m->array + (size_t)i * m->size;
}

static const char *
multi_cat(const struct conf *c, const struct multi *m, int i)
{
	return (const char *)c + m->array + (size_t)i * m->size;
}

/* An instance's enabled flag and name. */
#define INST_ENABLED(p) (*(const bool *)((const char *)(p) + offsetof(struct conf_spool, enabled)))
#define INST_NAME(p)	((const char *)(p) + offsetof(struct conf_spool, name))

static wh_err fail(struct parse_state *ps, const char *fmt, ...) WH_PRINTF(2, 3);

static wh_err
fail(struct parse_state *ps, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (ps->rc != WH_OK)
		return ps->rc; /* keep the first error */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(ps->err, ps->errlen, "%s:%d: %s", ps->path, ps->line, msg);
	ps->rc = WH_ERR_CONF;
	return ps->rc;
}

/* Parses a size such as 4096, 64KiB, 512MiB, 1GiB, 10MB. */
static int
parse_size(const char *s, int64_t *ret)
{
	static const struct {
		const char *suffix;
		int64_t mult;
	} units[] = {{"", 1},
		     {"B", 1},
		     {"KiB", 1024},
		     {"MiB", 1024 * 1024},
		     {"GiB", 1024LL * 1024 * 1024},
		     {"TiB", 1024LL * 1024 * 1024 * 1024},
		     {"KB", 1000},
		     {"MB", 1000 * 1000},
		     {"GB", 1000LL * 1000 * 1000},
		     {"TB", 1000LL * 1000 * 1000 * 1000}};
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || v < 0)
		return -1;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(end, units[i].suffix) == 0) {
			if (v > INT64_MAX / units[i].mult)
				return -1;
			*ret = v * units[i].mult;
			return 0;
		}
	}
	return -1;
}

static int
parse_int(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*ret = v;
	return 0;
}

static int
parse_enum(const char *s, const char *const *choices, long *ret)
{
	for (long i = 0; choices[i] != NULL; i++) {
		if (choices[i][0] != '\0' && strcasecmp(s, choices[i]) == 0) {
			*ret = i;
			return 0;
		}
	}
	return -1;
}

static void
choices_text(const char *const *choices, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (int i = 0; choices[i] != NULL && used < len; i++) {
		if (choices[i][0] == '\0')
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "",
					 choices[i]);
	}
}

/* Where key k is stored: in c, or for a key of a repeated section in its instance inst
 * (NULL: in c, as the table says). */
static char *
key_base(struct conf *c, const struct conf_key *k, void *inst)
{
	if (inst == NULL)
		return (char *)c + k->offset;
	return (char *)inst + (k->offset - multi_of(k)->anchor);
}

/* key_base for reading. */
static const char *
key_cbase(const struct conf *c, const struct conf_key *k, const void *inst)
{
	if (inst == NULL)
		return (const char *)c + k->offset;
	return (const char *)inst + (k->offset - multi_of(k)->anchor);
}

/* Stores value for key k at base. Returns 0, -1 with a reason in why, or -2 (no memory). */
static int
set_value(char *base, const struct conf_key *k, const char *value, char *why, size_t whylen)
{
	int64_t v;
	char list[128];

	switch (k->type) {
	case CT_STR: {
		size_t n = strlen(value);
		char *copy;

		if ((int64_t)n < k->min || (int64_t)n > k->max) {
			snprintf(why, whylen, "must be %" PRId64 " to %" PRId64 " characters long",
				 k->min, k->max);
			return -1;
		}
		copy = wh_strdup(value);
		if (copy == NULL)
			return -2;
		wh_free(*(char **)base);
		*(char **)base = copy;
		return 0;
	}
	case CT_INT:
	case CT_SIZE:
		if ((k->type == CT_INT ? parse_int(value, &v) : parse_size(value, &v)) != 0) {
			snprintf(why, whylen, "'%s' is not %s", value,
				 k->type == CT_INT ? "a whole number"
						   : "a size (such as 4096, 64KiB, 512MiB, 1GiB)");
			return -1;
		}
		if (v < k->min || v > k->max) {
			snprintf(why, whylen, "%s is out of range %" PRId64 "..%" PRId64, value,
				 k->min, k->max);
			return -1;
		}
		if (k->type == CT_INT)
			*(long *)base = (long)v;
		else
			*(int64_t *)base = v;
		return 0;
	case CT_ENUM:
		if (parse_enum(value, k->choices, (long *)base) != 0) {
			choices_text(k->choices, list, sizeof(list));
			snprintf(why, whylen, "'%s' is not one of: %s", value, list);
			return -1;
		}
		return 0;
	}
	return -1;
}

static struct conf_map *
map_section(struct parse_state *ps, const char *name)
{
	struct conf *c = ps->conf;

	for (int i = 0; i < c->nmaps; i++)
		if (strcmp(c->maps[i].name, name) == 0)
			return &c->maps[i];
	if (c->nmaps == CONF_MAPS_MAX) {
		fail(ps, "too many [map.*] sections (at most %d)", CONF_MAPS_MAX);
		return NULL;
	}
	c->maps[c->nmaps].name = wh_strdup(name);
	if (c->maps[c->nmaps].name == NULL) {
		ps->rc = WH_ERR_NOMEM;
		return NULL;
	}
	return &c->maps[c->nmaps++];
}

/* FIELD.CODE = VALUE in a [map.NAME] section: a value map entry. */
static int
handle_value(struct parse_state *ps, struct conf_map *m, const char *section, const char *name,
	     const char *value)
{
	const char *dot = strchr(name, '.');
	char field[32];
	struct event_value *v;
	int f;

	snprintf(field, sizeof(field), "%.*s", (int)(dot - name), name);
	f = event_field_from_name(field);
	if (f < 0 || f == EF_TXN_ID || f == EF_EVENT_TIME || f == EF_QTY) {
		fail(ps,
		     "[%s] %s: value maps are for coded fields (kind, uom, reason_code, ...), "
		     "not '%s'",
		     section, name, field);
		return 0;
	}
	if (dot[1] == '\0' || strlen(dot + 1) > EVENT_VALUE_CODE_MAX) {
		fail(ps, "[%s] %s: the code after '.' must be 1 to %d characters", section, name,
		     EVENT_VALUE_CODE_MAX);
		return 0;
	}
	if (value[0] == '\0' || !event_value_canonical(f, value)) {
		fail(ps, "[%s] %s: '%s' is not a canonical %s%s", section, name, value, field,
		     f == EF_KIND ? " (PICK, RECEIPT, ADJUSTMENT, TRANSFER or SHIPMENT)"
				  : " value");
		return 0;
	}
	for (int i = 0; i < m->nvalues; i++)
		if (m->values[i].field == f && strcasecmp(m->values[i].code, dot + 1) == 0) {
			fail(ps, "[%s] %s: the code is mapped twice", section, name);
			return 0;
		}
	if (m->nvalues == EVENT_VALUES_MAX) {
		fail(ps, "[%s] %s: more than %d value map entries", section, name,
		     EVENT_VALUES_MAX);
		return 0;
	}
	if (m->values == NULL &&
	    (m->values = wh_calloc(EVENT_VALUES_MAX, sizeof(*m->values))) == NULL) {
		ps->rc = WH_ERR_NOMEM;
		return 0;
	}
	v = &m->values[m->nvalues];
	v->field = f;
	v->code = wh_strdup(dot + 1);
	v->value = wh_strdup(value);
	if (v->code == NULL || v->value == NULL) {
		wh_free(v->code);
		wh_free(v->value);
		ps->rc = WH_ERR_NOMEM;
		return 0;
	}
	m->nvalues++;
	return 1;
}

static int
handle_map(struct parse_state *ps, const char *section, const char *name, const char *value)
{
	struct conf_map *m = map_section(ps, section + 4);
	int f;

	if (m == NULL)
		return 0;
	if (name == NULL)
		return 1; /* the section header alone */
	if (strchr(name, '.') != NULL)
		return handle_value(ps, m, section, name, value);
	f = event_field_from_name(name);
	if (f < 0) {
		fail(ps, "[%s] %s: not a record field (see 'whagent help-config' for the list)",
		     section, name);
		return 0;
	}
	if (value[0] == '\0') {
		fail(ps, "[%s] %s: empty column name", section, name);
		return 0;
	}
	wh_free(m->column[f]);
	m->column[f] = wh_strdup(value);
	if (m->column[f] == NULL) {
		ps->rc = WH_ERR_NOMEM;
		return 0;
	}
	return 1;
}

/* The [input.KIND.NAME] section of m called section (found or added), or NULL after fail. */
static char *
multi_section(struct parse_state *ps, const struct multi *m, const char *section, int *idx)
{
	struct conf *c = ps->conf;
	size_t kl = strlen(m->kind);
	const char *n = section + strlen(m->section) + 1;
	int *count = (int *)((char *)c + m->count);
	char *inst;

	for (int i = 0; i < *count; i++)
		if (strcmp(INST_NAME(multi_at(c, m, i)) + kl + 1, n) == 0) {
			*idx = i;
			return multi_at(c, m, i);
		}
	if (strlen(n) > CONF_SPOOL_NAME_MAX - kl - 2 ||
	    strspn(n, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") !=
		    strlen(n)) {
		fail(ps,
		     "[%s]: the name after %s. must be 1 to %zu letters, digits, '-' "
		     "or '_'",
		     section, m->section, CONF_SPOOL_NAME_MAX - kl - 2);
		return NULL;
	}
	if (*count == CONF_SPOOLS_MAX) {
		fail(ps, "too many [%s.*] sections (at most %d %s inputs)", m->section,
		     CONF_SPOOLS_MAX, m->kind);
		return NULL;
	}
	*idx = *count;
	inst = multi_at(c, m, (*count)++);
	*(bool *)(inst + offsetof(struct conf_spool, enabled)) = true;
	snprintf(inst + offsetof(struct conf_spool, name), CONF_SPOOL_NAME_MAX, "%s.%s", m->kind,
		 n);
	return inst;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_state *ps = user;
	int known_section = 0, idx = 0;
	char *sp = NULL;
	unsigned char *seen = ps->seen;
	const char *table = section;
	char why[256];

	if (strncmp(section, "map.", 4) == 0 && section[4] != '\0')
		return handle_map(ps, section, name, value);
	for (int m = 0; m < 2; m++) {
		size_t sl = strlen(multis[m].section);
		char *anchor = (char *)ps->conf + multis[m].anchor;

		if (strncmp(section, multis[m].section, sl) == 0 && section[sl] == '.' &&
		    section[sl + 1] != '\0') {
			if ((sp = multi_section(ps, &multis[m], section, &idx)) == NULL)
				return 0;
			seen = ps->seen_inst[m][idx];
			table = multis[m].section;
		}
		if (strcmp(section, multis[m].section) == 0) {
			*(bool *)(anchor + offsetof(struct conf_spool, enabled)) = true;
			snprintf(anchor + offsetof(struct conf_spool, name), CONF_SPOOL_NAME_MAX,
				 "%s", multis[m].kind);
		}
	}
	if (strcmp(section, "input.http") == 0)
		ps->conf->http.enabled = true;
	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(table, conf_keys[i].section) != 0)
			continue;
		known_section = 1;
		if (name == NULL || strcmp(name, conf_keys[i].name) != 0)
			continue;
		if (seen[i]) {
			fail(ps, "[%s] %s: set twice", section, name);
			return 0;
		}
		seen[i] = 1;
		switch (set_value(key_base(ps->conf, &conf_keys[i], sp), &conf_keys[i], value, why,
				  sizeof(why))) {
		case 0:
			return 1;
		case -2:
			ps->rc = WH_ERR_NOMEM;
			return 0;
		default:
			fail(ps, "[%s] %s: %s", section, name, why);
			return 0;
		}
	}
	if (!known_section)
		fail(ps, "unknown section [%s]", section);
	else if (name != NULL)
		fail(ps, "[%s] %s: unknown key", section, name);
	return name == NULL && known_section;
}

/* inih reader: fgets that tracks the line number of the text it hands out. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse_state *ps = stream;
	char *s = fgets(str, num, ps->file);

	ps->line = ps->next_line;
	if (s != NULL && strchr(s, '\n') != NULL)
		ps->next_line++;
	return s;
}

static wh_err
set_default(char *base, const struct conf_key *k, struct parse_state *ps)
{
	char why[256];

	switch (set_value(base, k, k->def, why, sizeof(why))) {
	case 0:
		return WH_OK;
	case -2:
		return WH_ERR_NOMEM;
	default:
		snprintf(ps->err, ps->errlen, "default of [%s] %s: %s", k->section, k->name, why);
		return WH_ERR_CONF;
	}
}

static char *
path_join(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = wh_malloc(n);

	if (p != NULL)
		snprintf(p, n, "%s/%s", dir, name);
	return p;
}

static int
valid_site_id(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return 0;
	return 1;
}

char
conf_delimiter(const struct conf_spool *s)
{
	static const char d[] = {',', ';', '\t', '|'}; /* by enum conf_delim */

	return d[s->delimiter];
}

int
conf_spool_count(const struct conf *c)
{
	return (c->spool.enabled ? 1 : 0) + c->nspools;
}

const struct conf_spool *
conf_spool_at(const struct conf *c, int i)
{
	if (c->spool.enabled && i-- == 0)
		return &c->spool;
	return i >= 0 && i < c->nspools ? &c->spools[i] : NULL;
}

int
conf_table_count(const struct conf *c)
{
	return (c->table.enabled ? 1 : 0) + c->ntables;
}

const struct conf_table *
conf_table_at(const struct conf *c, int i)
{
	if (c->table.enabled && i-- == 0)
		return &c->table;
	return i >= 0 && i < c->ntables ? &c->tables[i] : NULL;
}

const struct conf_table *
conf_table_find(const struct conf *c, const char *input)
{
	for (int i = 0; i < conf_table_count(c); i++)
		if (strcmp(conf_table_at(c, i)->name, input) == 0)
			return conf_table_at(c, i);
	return NULL;
}

const struct conf_spool *
conf_spool_find(const struct conf *c, const char *input)
{
	for (int i = 0; i < conf_spool_count(c); i++)
		if (strcmp(conf_spool_at(c, i)->name, input) == 0)
			return conf_spool_at(c, i);
	return NULL;
}

/* "[input.spool]" or "[input.spool.NAME]" for messages. */
static const char *
spool_section_name(const struct conf_spool *s, char *buf, size_t len)
{
	snprintf(buf, len, "[input.%s]", s->name);
	return buf;
}

struct ledger_rules
conf_ledger_rules(const struct conf *c)
{
	return (struct ledger_rules){c->ledger.staging,
				     c->ledger.shipment_from == CONF_SHIP_FROM_STAGING};
}

struct journal_opts
conf_journal_opts(const struct conf *c, int readonly)
{
	return (struct journal_opts){
		.max_bytes = c->journal.max_bytes,
		.reserve_bytes = c->journal.reserve_bytes,
		.sync_normal = c->journal.synchronous == CONF_SYNC_NORMAL,
		.readonly = readonly,
		.quarantine_max_rows = c->journal.quarantine_max_rows,
		.quarantine_max_bytes = c->journal.quarantine_max_bytes > 0
						? c->journal.quarantine_max_bytes
						: c->journal.max_bytes / 8,
		.quarantine_raw_max = (size_t)c->journal.quarantine_raw_max_bytes,
	};
}

int
conf_mqtt_tls(const struct conf *c)
{
	return c->mqtt.cafile[0] != '\0' || c->mqtt.capath[0] != '\0';
}

int
conf_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6) ||
		       (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
	return 0;
}

static wh_err
check_mqtt(struct conf *c, struct parse_state *ps)
{
	const char *why = NULL;

	if (c->mqtt.host[0] == '\0')
		return WH_OK;
	if (c->mqtt.certfile[0] != '\0' && c->mqtt.keyfile[0] == '\0')
		why = "certfile needs its keyfile (mutual TLS)";
	else if (c->mqtt.keyfile[0] != '\0' && c->mqtt.certfile[0] == '\0' && !c->mqtt.sign_batches)
		why = "keyfile needs its certfile (mutual TLS), or sign_batches = true";
	else if (c->mqtt.certfile[0] != '\0' && !conf_mqtt_tls(c))
		why = "certfile needs cafile or capath (TLS)";
	else if (!conf_mqtt_tls(c) && !conf_host_is_loopback(c->mqtt.host) &&
		 !c->mqtt.allow_insecure)
		why = "plain TCP to a broker on another machine is refused: set cafile (TLS) or, "
		      "on a trusted network, allow_insecure = true";
	else if (c->mqtt.sign_batches && c->mqtt.keyfile[0] == '\0')
		why = "sign_batches needs the device key (keyfile)";
	else if (c->mqtt.reconnect_max_ms < c->mqtt.reconnect_min_ms)
		why = "reconnect_max_ms is below reconnect_min_ms";
	else if (c->mqtt.ack_mode == CONF_ACK_PLATFORM && c->mqtt.platform_pubkey[0] == '\0' &&
		 c->mqtt.platform_pubkey_next[0] == '\0')
		why = "ack_mode = platform needs the platform's key (platform_pubkey): unsigned "
		      "acks "
		      "would let anyone on the broker prune the journal";
	if (why != NULL) {
		snprintf(ps->err, ps->errlen, "%s: [mqtt] %s", ps->path, why);
		return WH_ERR_CONF;
	}
	if (c->mqtt.client_id[0] == '\0') {
		size_t n = strlen(c->agent.site_id) + sizeof("whagent-");

		wh_free(c->mqtt.client_id);
		if ((c->mqtt.client_id = wh_malloc(n)) == NULL)
			return WH_ERR_NOMEM;
		snprintf(c->mqtt.client_id, n, "whagent-%s", c->agent.site_id);
	}
	return WH_OK;
}

static wh_err
check_http(struct conf *c, struct parse_state *ps)
{
	const char *why = NULL;
	char host[64], pwhy[128];
	const char *colon = strrchr(c->http.listen, ':');

	if (!c->http.enabled)
		return WH_OK;
	if (colon == NULL || colon == c->http.listen || strtol(colon + 1, NULL, 10) <= 0 ||
	    strtol(colon + 1, NULL, 10) > 65535)
		why = "listen must be ADDRESS:PORT (127.0.0.1:8088, [::1]:8088, 0.0.0.0:8088)";
	else if ((c->http.tls_certfile[0] == '\0') != (c->http.tls_keyfile[0] == '\0'))
		why = "tls_certfile and tls_keyfile go together";
	if (why == NULL) {
		snprintf(host, sizeof(host), "%.*s", (int)(colon - c->http.listen), c->http.listen);
		if (host[0] == '[' && host[strlen(host) - 1] == ']') {
			memmove(host, host + 1, strlen(host));
			host[strlen(host) - 1] = '\0';
		}
		if (!conf_host_is_loopback(host) && c->http.tls_certfile[0] == '\0')
			why = "listening off this machine needs TLS (tls_certfile, tls_keyfile): "
			      "webhooks carry inventory data";
	}
	if (why == NULL && c->http.hmac_secret_file[0] != '\0' && c->mqtt.host[0] != '\0' &&
	    c->mqtt.retention_s <= 2 * c->http.signature_window_s)
		why = "signature_window_s needs [mqtt] retention_s above twice its value: a "
		      "signed POST replayed inside the window (after a restart) must find its "
		      "records still journaled, to be answered as duplicates";
	if (why == NULL && c->http.map[0] != '\0' && conf_map_find(c, c->http.map) == NULL)
		why = "map names no [map.NAME] section";
	if (why == NULL && record_pointer_check(c->http.records, pwhy, sizeof(pwhy)) != 0) {
		snprintf(ps->err, ps->errlen, "%s: [input.http] records = %s: %s", ps->path,
			 c->http.records, pwhy);
		return WH_ERR_CONF;
	}
	if (why == NULL && c->http.timezone[0] != '\0' && !event_zone_known(c->http.timezone))
		why = "timezone names no zone of the system tz database (like Europe/Berlin; "
		      "see /usr/share/zoneinfo)";
	if (why == NULL && hours_parse(c->http.operating_hours, NULL, pwhy, sizeof(pwhy)) != 0) {
		snprintf(ps->err, ps->errlen, "%s: [input.http] operating_hours = %s: %s", ps->path,
			 c->http.operating_hours, pwhy);
		return WH_ERR_CONF;
	}
	if (why != NULL) {
		snprintf(ps->err, ps->errlen, "%s: [input.http] %s", ps->path, why);
		return WH_ERR_CONF;
	}
	return WH_OK;
}

/* The checks of one spool input sp, and its derived done_dir. */
static wh_err
check_spool(struct conf *c, struct conf_spool *sp, struct parse_state *ps)
{
	char pwhy[128], sec[64], other[64];

	spool_section_name(sp, sec, sizeof(sec));
	if (sp->dir == NULL) {
		snprintf(ps->err, ps->errlen, "%s: %s dir is required", ps->path, sec);
		return WH_ERR_CONF;
	}
	if (sp->done_dir == NULL && (sp->done_dir = path_join(sp->dir, "done")) == NULL)
		return WH_ERR_NOMEM;
	for (int i = 0; i < conf_spool_count(c) && conf_spool_at(c, i) != sp; i++)
		if (conf_spool_at(c, i)->dir != NULL &&
		    strcmp(conf_spool_at(c, i)->dir, sp->dir) == 0) {
			snprintf(ps->err, ps->errlen,
				 "%s: %s and %s have the same dir %s: each spool "
				 "input needs its own folder",
				 ps->path,
				 spool_section_name(conf_spool_at(c, i), other, sizeof(other)), sec,
				 sp->dir);
			return WH_ERR_CONF;
		}
	if (sp->map[0] != '\0' && conf_map_find(c, sp->map) == NULL) {
		snprintf(ps->err, ps->errlen, "%s: %s map = %s: no [map.%s] section", ps->path, sec,
			 sp->map, sp->map);
		return WH_ERR_CONF;
	}
	if (record_pointer_check(sp->records, pwhy, sizeof(pwhy)) != 0) {
		snprintf(ps->err, ps->errlen, "%s: %s records = %s: %s", ps->path, sec, sp->records,
			 pwhy);
		return WH_ERR_CONF;
	}
	if (sp->timezone[0] != '\0' && !event_zone_known(sp->timezone)) {
		snprintf(ps->err, ps->errlen,
			 "%s: %s timezone = %s: no such zone in the system tz database (like "
			 "Europe/Berlin; see /usr/share/zoneinfo)",
			 ps->path, sec, sp->timezone);
		return WH_ERR_CONF;
	}
	if (hours_parse(sp->operating_hours, NULL, pwhy, sizeof(pwhy)) != 0) {
		snprintf(ps->err, ps->errlen, "%s: %s operating_hours = %s: %s", ps->path, sec,
			 sp->operating_hours, pwhy);
		return WH_ERR_CONF;
	}
	if (sp->decimal == 1 && sp->delimiter == 0) {
		snprintf(
			ps->err, ps->errlen,
			"%s: %s decimal = comma needs a delimiter other than comma (semicolon, tab "
			"or pipe)",
			ps->path, sec);
		return WH_ERR_CONF;
	}
	return WH_OK;
}

/* 1 when s is an SQL identifier the table input may quote: a letter or '_', then letters,
 * digits or '_' (with dots between parts when dotted). */
static int
valid_ident(const char *s, int dotted)
{
	int start = 1;

	if (*s == '\0')
		return 0;
	for (; *s; s++) {
		if (*s == '.' && dotted && !start) {
			start = 1;
			continue;
		}
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_' ||
		      (!start && *s >= '0' && *s <= '9')))
			return 0;
		start = 0;
	}
	return !start;
}

/* The checks of one table input t: identifiers, the mode's columns, map and zone. */
static wh_err
check_table(struct conf *c, struct conf_table *t, struct parse_state *ps)
{
	const struct {
		const char *key, *value;
		int need; /* 1: required in this mode */
	} idents[] = {
		{"key_column", t->key_column, 1},
		{"cursor_column", t->cursor_column, t->mode == CONF_TABLE_WATERMARK},
		{"lag_column", t->lag_column, 0},
		{"status_column", t->status_column, t->mode == CONF_TABLE_HANDSHAKE},
		{"seq_column", t->seq_column, 0},
		{"error_column", t->error_column, 0},
	};
	char pwhy[128];

	if (t->connection == NULL || t->table == NULL || t->key_column == NULL) {
		snprintf(ps->err, ps->errlen,
			 "%s: [input.%s] connection, table and key_column are "
			 "required",
			 ps->path, t->name);
		return WH_ERR_CONF;
	}
	if (!valid_ident(t->table, 1)) {
		snprintf(ps->err, ps->errlen,
			 "%s: [input.%s] table = %s: use [schema.]name of letters, digits and "
			 "'_' (it is quoted in the SQL)",
			 ps->path, t->name, t->table);
		return WH_ERR_CONF;
	}
	for (size_t i = 0; i < sizeof(idents) / sizeof(idents[0]); i++) {
		if (idents[i].value[0] == '\0' && !idents[i].need)
			continue;
		if (idents[i].value[0] == '\0' || !valid_ident(idents[i].value, 0)) {
			snprintf(ps->err, ps->errlen,
				 "%s: [input.%s] %s%s%s: %s a column name of letters, digits and "
				 "'_'",
				 ps->path, t->name, idents[i].key, idents[i].value[0] ? " = " : "",
				 idents[i].value,
				 idents[i].value[0] ? "use" : "mode = watermark/handshake needs");
			return WH_ERR_CONF;
		}
	}
	if (strstr(t->connection, "PWD=") != NULL || strstr(t->connection, "pwd=") != NULL ||
	    strstr(t->connection, "Pwd=") != NULL || strstr(t->connection, "Password=") != NULL ||
	    strstr(t->connection, "password=") != NULL) {
		snprintf(ps->err, ps->errlen,
			 "%s: [input.%s] connection holds a password: put it in password_file "
			 "(the connection string is printed by check and logged)",
			 ps->path, t->name);
		return WH_ERR_CONF;
	}
	if (t->map[0] != '\0' && conf_map_find(c, t->map) == NULL) {
		snprintf(ps->err, ps->errlen, "%s: [input.%s] map = %s: no [map.%s] section",
			 ps->path, t->name, t->map, t->map);
		return WH_ERR_CONF;
	}
	if (t->timezone[0] != '\0' && !event_zone_known(t->timezone)) {
		snprintf(ps->err, ps->errlen,
			 "%s: [input.%s] timezone = %s: no such zone in the system tz database",
			 ps->path, t->name, t->timezone);
		return WH_ERR_CONF;
	}
	if (hours_parse(t->operating_hours, NULL, pwhy, sizeof(pwhy)) != 0) {
		snprintf(ps->err, ps->errlen, "%s: [input.%s] operating_hours = %s: %s", ps->path,
			 t->name, t->operating_hours, pwhy);
		return WH_ERR_CONF;
	}
	return WH_OK;
}

/* Defaults, derived values and checks that span keys. */
static wh_err
conf_finish(struct conf *c, struct parse_state *ps)
{
	wh_err err;

	for (size_t i = 0; i < NKEYS; i++)
		if (!ps->seen[i] && conf_keys[i].def != NULL &&
		    (err = set_default(key_base(c, &conf_keys[i], NULL), &conf_keys[i], ps)) !=
			    WH_OK)
			return err;
	if (c->agent.site_id == NULL) {
		snprintf(ps->err, ps->errlen, "%s: [agent] site_id is required", ps->path);
		return WH_ERR_CONF;
	}
	if (!valid_site_id(c->agent.site_id)) {
		snprintf(ps->err, ps->errlen,
			 "%s: [agent] site_id '%s': use letters, digits, '-', '_' and '.' only",
			 ps->path, c->agent.site_id);
		return WH_ERR_CONF;
	}
	if (c->journal.path == NULL &&
	    (c->journal.path = path_join(c->agent.state_dir, "journal.db")) == NULL)
		return WH_ERR_NOMEM;
	if ((err = check_mqtt(c, ps)) != WH_OK)
		return err;
	if ((err = check_http(c, ps)) != WH_OK)
		return err;
	{
		/* a quarantined record larger than the quarantine's share of the budget would
		 * never fit: the input would wait forever */
		struct journal_opts jo = conf_journal_opts(c, 0);

		if ((int64_t)jo.quarantine_raw_max > jo.quarantine_max_bytes / 2) {
			snprintf(
				ps->err, ps->errlen,
				"%s: [journal] quarantine_raw_max_bytes (%zu) must be at most half "
				"of quarantine_max_bytes (%" PRId64 "; default: an eighth of "
				"max_bytes)",
				ps->path, jo.quarantine_raw_max, jo.quarantine_max_bytes);
			return WH_ERR_CONF;
		}
	}
	for (int i = 0; i <= c->nspools; i++) {
		const struct conf_spool *sp = i < c->nspools ? &c->spools[i] : &c->spool;

		if (sp->owner != NULL && sp->owner[0] != '\0' && getpwnam(sp->owner) == NULL) {
			snprintf(ps->err, ps->errlen, "%s: [input.%s] owner = %s: no such user",
				 ps->path, sp->name, sp->owner);
			return WH_ERR_CONF;
		}
	}
	for (int m = 0; m < 2; m++)
		for (int i = 0; i < multi_n(c, &multis[m]); i++)
			for (size_t k = 0; k < NKEYS; k++)
				if (multi_of(&conf_keys[k]) == &multis[m] &&
				    !ps->seen_inst[m][i][k] && conf_keys[k].def != NULL &&
				    (err = set_default(
					     key_base(c, &conf_keys[k], multi_at(c, &multis[m], i)),
					     &conf_keys[k], ps)) != WH_OK)
					return err;
	if (conf_spool_count(c) > CONF_SPOOLS_MAX) {
		snprintf(ps->err, ps->errlen, "%s: more than %d spool inputs", ps->path,
			 CONF_SPOOLS_MAX);
		return WH_ERR_CONF;
	}
	if (c->spool.enabled && (err = check_spool(c, &c->spool, ps)) != WH_OK)
		return err;
	for (int i = 0; i < c->nspools; i++)
		if ((err = check_spool(c, &c->spools[i], ps)) != WH_OK)
			return err;
	if (c->table.enabled && (err = check_table(c, &c->table, ps)) != WH_OK)
		return err;
	for (int i = 0; i < c->ntables; i++)
		if ((err = check_table(c, &c->tables[i], ps)) != WH_OK)
			return err;
	return WH_OK;
}

wh_err
conf_load(const char *path, struct conf **ret_conf, char *err, size_t errlen)
{
	struct parse_state ps = {
		.path = path, .line = 1, .next_line = 1, .err = err, .errlen = errlen};
	wh_err rc = WH_OK;
	int r;

	err[0] = '\0';
	ps.conf = wh_calloc(1, sizeof(*ps.conf));
	if (ps.conf == NULL)
		return WH_ERR_NOMEM;
	ps.conf->path = wh_strdup(path);
	if (ps.conf->path == NULL) {
		rc = WH_ERR_NOMEM;
		goto out;
	}
	ps.file = fopen(path, "r");
	if (ps.file == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		rc = WH_ERR_IO;
		goto out;
	}
	r = ini_parse_stream(reader, &ps, handler, &ps);
	fclose(ps.file);
	if (ps.rc != WH_OK) {
		rc = ps.rc;
		goto out;
	}
	if (r != 0) {
		snprintf(err, errlen, "%s:%d: syntax error (expected [section] or key = value)",
			 path, r > 0 ? r : ps.line);
		rc = WH_ERR_CONF;
		goto out;
	}
	rc = conf_finish(ps.conf, &ps);
out:
	if (rc == WH_ERR_NOMEM && err[0] == '\0')
		snprintf(err, errlen, "%s: out of memory", path);
	if (rc != WH_OK) {
		conf_free(ps.conf);
		return rc;
	}
	*ret_conf = ps.conf;
	return WH_OK;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < NKEYS; i++)
		if (conf_keys[i].type == CT_STR) {
			const struct multi *m = multi_of(&conf_keys[i]);

			wh_free(*(char **)key_base(c, &conf_keys[i], NULL));
			for (int s = 0; m != NULL && s < multi_n(c, m); s++)
				wh_free(*(char **)key_base(c, &conf_keys[i], multi_at(c, m, s)));
		}
	for (int i = 0; i < c->nmaps; i++) {
		wh_free(c->maps[i].name);
		for (int f = 0; f < EF_COUNT; f++)
			wh_free(c->maps[i].column[f]);
		for (int v = 0; v < c->maps[i].nvalues; v++) {
			wh_free(c->maps[i].values[v].code);
			wh_free(c->maps[i].values[v].value);
		}
		wh_free(c->maps[i].values);
	}
	wh_free(c->path);
	wh_free(c);
}

const struct conf_map *
conf_map_find(const struct conf *c, const char *name)
{
	for (int i = 0; i < c->nmaps; i++)
		if (strcmp(c->maps[i].name, name) == 0)
			return &c->maps[i];
	return NULL;
}

void
conf_input_map(const struct conf *c, const char *input, struct event_map *m)
{
	int http = strcmp(input, "http") == 0;
	const struct conf_spool *sp = http ? NULL : conf_spool_find(c, input);
	const struct conf_table *t = conf_table_find(c, input);
	const char *name, *tz;
	const struct conf_map *cm;

	if (t != NULL) {
		cm = t->map[0] ? conf_map_find(c, t->map) : NULL;
		event_map_init(m, cm ? cm->column : NULL);
		if (cm != NULL)
			event_map_values(m, cm->name, cm->values, cm->nvalues);
		m->tz = t->timezone[0] ? t->timezone : NULL;
		m->decimal = t->decimal == 1 ? ',' : '.';
		return;
	}
	if (!http && sp == NULL)
		sp = &c->spool; /* an input no longer configured: [input.spool]'s, or the defaults
				 */
	name = http ? c->http.map : sp->map ? sp->map : "";
	tz = http ? c->http.timezone : sp->timezone ? sp->timezone : "";
	cm = name[0] ? conf_map_find(c, name) : NULL;

	event_map_init(m, cm ? cm->column : NULL);
	if (cm != NULL)
		event_map_values(m, cm->name, cm->values, cm->nvalues);
	m->tz = tz[0] ? tz : NULL;
	m->decimal = (http ? c->http.decimal : sp->decimal) == 1 ? ',' : '.';
}

static void
print_value(const char *base, const struct conf_key *k, FILE *f)
{

	switch (k->type) {
	case CT_STR:
		fprintf(f, "%s", *(char *const *)base ? *(char *const *)base : "");
		break;
	case CT_INT:
		fprintf(f, "%ld", *(const long *)base);
		break;
	case CT_SIZE:
		fprintf(f, "%" PRId64, *(const int64_t *)base);
		break;
	case CT_ENUM:
		fprintf(f, "%s", k->choices[*(const long *)base]);
		break;
	}
}

void
conf_print(const struct conf *c, FILE *f)
{
	for (size_t i = 0; i < NKEYS; i++) {
		if ((strcmp(conf_keys[i].section, "input.spool") == 0 && !c->spool.enabled) ||
		    (strcmp(conf_keys[i].section, "input.table") == 0 && !c->table.enabled) ||
		    (strcmp(conf_keys[i].section, "input.http") == 0 && !c->http.enabled) ||
		    (strcmp(conf_keys[i].section, "mqtt") == 0 &&
		     strcmp(conf_keys[i].name, "host") != 0 && c->mqtt.host[0] == '\0'))
			continue;
		fprintf(f, "%s.%s = ", conf_keys[i].section, conf_keys[i].name);
		print_value(key_cbase(c, &conf_keys[i], NULL), &conf_keys[i], f);
		fputc('\n', f);
	}
	for (int m = 0; m < 2; m++)
		for (int s = 0; s < multi_n(c, &multis[m]); s++)
			for (size_t i = 0; i < NKEYS; i++) {
				const char *inst = multi_cat(c, &multis[m], s);

				if (multi_of(&conf_keys[i]) != &multis[m])
					continue;
				fprintf(f, "input.%s.%s = ", INST_NAME(inst), conf_keys[i].name);
				print_value(key_cbase(c, &conf_keys[i], inst), &conf_keys[i], f);
				fputc('\n', f);
			}
	for (int i = 0; i < c->nmaps; i++)
		for (int fld = 0; fld < EF_COUNT; fld++)
			if (c->maps[i].column[fld] != NULL)
				fprintf(f, "map.%s.%s = %s\n", c->maps[i].name,
					event_field_name(fld), c->maps[i].column[fld]);
	for (int i = 0; i < c->nmaps; i++)
		for (int v = 0; v < c->maps[i].nvalues; v++)
			fprintf(f, "map.%s.%s.%s = %s\n", c->maps[i].name,
				event_field_name(c->maps[i].values[v].field),
				c->maps[i].values[v].code, c->maps[i].values[v].value);
}

/* 1 when key k holds the same value in a and b. */
static int
same_value(const char *pa, const char *pb, const struct conf_key *k)
{

	switch (k->type) {
	case CT_STR: {
		const char *sa = *(char *const *)pa, *sb = *(char *const *)pb;

		return strcmp(sa ? sa : "", sb ? sb : "") == 0;
	}
	case CT_INT:
	case CT_ENUM:
		return *(const long *)pa == *(const long *)pb;
	case CT_SIZE:
		return *(const int64_t *)pa == *(const int64_t *)pb;
	}
	return 0;
}

/* Appends name to the comma-separated list in buf; returns the number listed so far. */
static int
list_add(char *buf, size_t len, int n, const char *name)
{
	size_t used = strlen(buf);

	if (used < len)
		snprintf(buf + used, len - used, "%s%s", n ? ", " : "", name);
	return n + 1;
}

/* The named instance of m called name in c, or NULL. */
static const char *
multi_find(const struct conf *c, const struct multi *m, const char *name)
{
	for (int i = 0; i < multi_n(c, m); i++)
		if (strcmp(INST_NAME(multi_cat(c, m, i)), name) == 0)
			return multi_cat(c, m, i);
	return NULL;
}

/* conf_restart_keys for the [input.KIND.NAME] sections of m: added, removed, or a K_RESTART
 * key changed. n is the count so far; returns the new count. */
static int
restart_multi(const struct conf *running, const struct conf *next, const struct multi *m, char *buf,
	      size_t len, int n)
{
	char name[96];

	for (int s = 0; s < multi_n(next, m); s++) {
		const char *inst = multi_cat(next, m, s);
		const char *old = multi_find(running, m, INST_NAME(inst));

		if (old == NULL) {
			snprintf(name, sizeof(name), "[input.%s] (the section)", INST_NAME(inst));
			n = list_add(buf, len, n, name);
			continue;
		}
		for (size_t i = 0; i < NKEYS; i++)
			if (multi_of(&conf_keys[i]) == m && (conf_keys[i].flags & K_RESTART) &&
			    !same_value(key_cbase(running, &conf_keys[i], old),
					key_cbase(next, &conf_keys[i], inst), &conf_keys[i])) {
				snprintf(name, sizeof(name), "[input.%s] %s", INST_NAME(inst),
					 conf_keys[i].name);
				n = list_add(buf, len, n, name);
			}
	}
	for (int r = 0; r < multi_n(running, m); r++)
		if (multi_find(next, m, INST_NAME(multi_cat(running, m, r))) == NULL) {
			snprintf(name, sizeof(name), "[input.%s] (the section)",
				 INST_NAME(multi_cat(running, m, r)));
			n = list_add(buf, len, n, name);
		}
	return n;
}

int
conf_restart_keys(const struct conf *running, const struct conf *next, char *buf, size_t len)
{
	char name[96];
	int n = 0;

	bool spool = running->spool.enabled != next->spool.enabled;
	bool table = running->table.enabled != next->table.enabled;
	bool http = running->http.enabled != next->http.enabled;

	if (len > 0)
		buf[0] = '\0';
	if (spool)
		n = list_add(buf, len, n, "[input.spool] (the section)");
	if (table)
		n = list_add(buf, len, n, "[input.table] (the section)");
	if (http)
		n = list_add(buf, len, n, "[input.http] (the section)");
	for (size_t i = 0; i < NKEYS; i++) {
		/* the keys of a section added or removed are in the section's name */
		if ((spool && strcmp(conf_keys[i].section, "input.spool") == 0) ||
		    (table && strcmp(conf_keys[i].section, "input.table") == 0) ||
		    (http && strcmp(conf_keys[i].section, "input.http") == 0))
			continue;
		if ((conf_keys[i].flags & K_RESTART) &&
		    !same_value(key_cbase(running, &conf_keys[i], NULL),
				key_cbase(next, &conf_keys[i], NULL), &conf_keys[i])) {
			snprintf(name, sizeof(name), "[%s] %s", conf_keys[i].section,
				 conf_keys[i].name);
			n = list_add(buf, len, n, name);
		}
	}
	n = restart_multi(running, next, &multis[0], buf, len, n);
	return restart_multi(running, next, &multis[1], buf, len, n);
}

int
conf_site_placeholder(const char *s)
{
	static const char *const words[] = {"change-me", "changeme", "change_me", "example",
					    "your-site", "todo",     "xxx",	  NULL};

	char low[128];
	size_t n = 0;

	for (; s[n] != '\0' && n + 1 < sizeof(low); n++)
		low[n] = (char)(s[n] >= 'A' && s[n] <= 'Z' ? s[n] - 'A' + 'a' : s[n]);
	low[n] = '\0';
	for (int i = 0; words[i] != NULL; i++)
		if (strcmp(low, words[i]) == 0 || (strlen(words[i]) > 4 && strstr(low, words[i])))
			return 1;
	return 0;
}

/* conf_check_secrets for one secret file v of key k in section: 1 when it warned. */
static int
check_secret(const char *section, const struct conf_key *k, const char *v, FILE *f)
{
	struct stat st;

	if (v == NULL || v[0] == '\0')
		return 0;
	if (stat(v, &st) != 0) {
		fprintf(f, "# warning: [%s] %s %s: %s\n", section, k->name, v, strerror(errno));
		return 1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		fprintf(f,
			"# warning: [%s] %s %s holds a secret and others may read it "
			"(mode %03o): chmod 600 it\n",
			section, k->name, v, (unsigned)(st.st_mode & 0777));
		return 1;
	}
	return 0;
}

int
conf_check_secrets(const struct conf *c, FILE *f)
{
	char section[64];
	int warned = 0;

	for (size_t i = 0; i < NKEYS; i++) {
		const struct multi *m = multi_of(&conf_keys[i]);

		if (!(conf_keys[i].flags & K_SECRET) || conf_keys[i].type != CT_STR)
			continue;
		warned += check_secret(conf_keys[i].section, &conf_keys[i],
				       *(char *const *)key_cbase(c, &conf_keys[i], NULL), f);
		for (int s = 0; m != NULL && s < multi_n(c, m); s++) {
			const char *inst = multi_cat(c, m, s);

			snprintf(section, sizeof(section), "input.%s", INST_NAME(inst));
			warned +=
				check_secret(section, &conf_keys[i],
					     *(char *const *)key_cbase(c, &conf_keys[i], inst), f);
		}
	}
	return warned;
}

/* conf_paths for the keys of one table section: sp the spool input of an input.spool key
 * (NULL: the table's own place), section the name to report. */
static void
paths_of(const struct conf *c, const struct conf_key *k, const void *sp, const char *section,
	 conf_path_cb cb, void *arg)
{
	const char *v;
	enum conf_path_kind kind;

	if (k->flags & K_FILE)
		kind = CONF_PATH_READ;
	else if (k->flags & K_DIR)
		kind = CONF_PATH_DIR;
	else if (k->flags & K_DIRREAD)
		kind = CONF_PATH_DIRREAD;
	else if (k->flags & K_PARENT)
		kind = CONF_PATH_WRITE;
	else
		return;
	v = *(char *const *)key_cbase(c, k, sp);
	if (v != NULL && v[0] != '\0')
		cb(section, k->name, v, kind, (k->flags & K_SECRET) != 0, arg);
}

void
conf_paths(const struct conf *c, conf_path_cb cb, void *arg)
{
	char section[64];

	for (size_t i = 0; i < NKEYS; i++) {
		if ((strcmp(conf_keys[i].section, "input.spool") == 0 && !c->spool.enabled) ||
		    (strcmp(conf_keys[i].section, "input.table") == 0 && !c->table.enabled) ||
		    (strcmp(conf_keys[i].section, "input.http") == 0 && !c->http.enabled) ||
		    (strcmp(conf_keys[i].section, "mqtt") == 0 && c->mqtt.host[0] == '\0') ||
		    (c->spool.on_done == CONF_DONE_DELETE &&
		     strcmp(conf_keys[i].name, "done_dir") == 0))
			continue;
		paths_of(c, &conf_keys[i], NULL, conf_keys[i].section, cb, arg);
	}
	for (int s = 0; s < c->nspools; s++) {
		snprintf(section, sizeof(section), "input.%s", c->spools[s].name);
		for (size_t i = 0; i < NKEYS; i++)
			if (strcmp(conf_keys[i].section, "input.spool") == 0 &&
			    !(c->spools[s].on_done == CONF_DONE_DELETE &&
			      strcmp(conf_keys[i].name, "done_dir") == 0))
				paths_of(c, &conf_keys[i], &c->spools[s], section, cb, arg);
	}
	for (int s = 0; s < c->ntables; s++) {
		snprintf(section, sizeof(section), "input.%s", c->tables[s].name);
		for (size_t i = 0; i < NKEYS; i++)
			if (strcmp(conf_keys[i].section, "input.table") == 0)
				paths_of(c, &conf_keys[i], &c->tables[s], section, cb, arg);
	}
}

void
conf_print_help(FILE *f)
{
	const char *section = "";
	char list[128];

	for (size_t i = 0; i < NKEYS; i++) {
		if (strcmp(section, conf_keys[i].section) != 0) {
			section = conf_keys[i].section;
			fprintf(f, "%s[%s]\n", i ? "\n" : "", section);
		}
		fprintf(f, "  %-18s %s\n", conf_keys[i].name, conf_keys[i].help);
		if (conf_keys[i].choices != NULL) {
			choices_text(conf_keys[i].choices, list, sizeof(list));
			fprintf(f, "  %-18s one of: %s\n", "", list);
		}
		fprintf(f, "  %-18s default: %s%s\n", "",
			conf_keys[i].def		 ? conf_keys[i].def
			: conf_keys[i].flags & K_DERIVED ? "derived, see above"
							 : "none, required",
			conf_keys[i].flags & K_RESTART ? "; a change needs a restart" : "");
	}
	fprintf(f,
		"\n[input.spool.NAME]\n  (more spool inputs, NAME of letters, digits, '-', '_';"
		" the keys of [input.spool]\n   with the same defaults; each its own dir; at"
		" most %d spool inputs in all)\n",
		CONF_SPOOLS_MAX);
	fprintf(f,
		"\n[input.table.NAME]\n  (more table inputs, named as spool inputs, with the keys"
		" of [input.table];\n   at most %d table inputs in all)\n",
		CONF_TABLES_MAX);
	fprintf(f, "\n[map.NAME]\n  FIELD = COLUMN     read canonical FIELD from the WMS's COLUMN;"
		   " FIELD is one of:\n                    ");
	for (int fld = 0; fld < EF_COUNT; fld++)
		fprintf(f, " %s", event_field_name(fld));
	fprintf(f,
		"\n  FIELD.CODE = VALUE the WMS's CODE in FIELD stands for VALUE (kind.PK = PICK,"
		" uom.STK = EA); not for\n                     txn_id, event_time, qty; at most %d"
		" a section; a kind must map to a canonical\n                     kind, and an"
		" unknown kind code is quarantined with the known ones\n",
		EVENT_VALUES_MAX);
}
