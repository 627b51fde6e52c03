/* Subcommands other than the daemon itself: check, status, quarantine, version, help.
 * Results go to stdout, errors to stderr with a non-zero exit. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "conf.h"
#include "cert.h"
#include "csv.h"
#include "intake.h"
#include "journal.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "log.h"
#include "mem.h"
#include "platform.h"
#include "record.h"
#include "status.h"

struct args {
	const char *cmd;
	const char *conf;
	const char *sub; /* quarantine: list, show, requeue, purge */
	const char *id;
	const char *cn;	 /* enroll */
	const char *out; /* enroll */
	int force;	 /* enroll */
	int json;
	int until_idle;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: whagent COMMAND [options]\n"
		"\n"
		"  run -c FILE [--until-idle]   run the agent in the foreground; --until-idle\n"
		"                               exits once the spool folder is empty and, with an\n"
		"                               uplink, every event is acknowledged\n"
		"  check -c FILE                validate the configuration, print effective "
		"settings\n"
		"  status -c FILE [--json]      journal id, last seq, watermark, backlog, "
		"quarantine\n"
		"  quarantine list -c FILE      records that could not be taken, with reasons\n"
		"  quarantine show ID -c FILE   one record: reason, position and raw bytes\n"
		"  quarantine requeue ID -c FILE  validate the raw record again (e.g. after "
		"fixing\n"
		"                               a [map.NAME] section) and journal it if valid\n"
		"  quarantine purge ID -c FILE  delete a quarantined record\n"
		"  enroll -c FILE [--cn NAME] [--out DIR] [--force]\n"
		"                               make the device key (EC P-256, mode 0600) and a "
		"CSR\n"
		"                               for the company CA ([identity] O, OU, DNS names)\n"
		"  help-config                  every configuration key with default and help\n"
		"  version                      print the version\n"
		"\n"
		"Exit status: 0 on success, 1 on error, 2 on a usage error.\n");
}

static int
parse_args(int argc, char **argv, struct args *a)
{
	memset(a, 0, sizeof(*a));
	if (argc < 2)
		return -1;
	a->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		if ((strcmp(argv[i], "-c") == 0 || strcmp(argv[i], "--config") == 0) &&
		    i + 1 < argc)
			a->conf = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			a->json = 1;
		else if (strcmp(argv[i], "--until-idle") == 0)
			a->until_idle = 1;
		else if (strcmp(argv[i], "--cn") == 0 && i + 1 < argc)
			a->cn = argv[++i];
		else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
			a->out = argv[++i];
		else if (strcmp(argv[i], "--force") == 0)
			a->force = 1;
		else if (argv[i][0] == '-')
			return -1;
		else if (a->sub == NULL)
			a->sub = argv[i];
		else if (a->id == NULL)
			a->id = argv[i];
		else
			return -1;
	}
	return 0;
}

static struct conf *
load_conf(const struct args *a)
{
	struct conf *c = NULL;
	char err[512];

	if (a->conf == NULL) {
		fprintf(stderr, "whagent %s: -c FILE is required\n", a->cmd);
		return NULL;
	}
	if (conf_load(a->conf, &c, err, sizeof(err)) != WH_OK) {
		fprintf(stderr, "whagent: %s\n", err);
		return NULL;
	}
	return c;
}

static struct journal *
open_journal(const struct conf *c, int readonly)
{
	struct journal_opts jo = {.readonly = readonly,
				  .max_bytes = c->journal.max_bytes,
				  .reserve_bytes = c->journal.reserve_bytes};
	struct journal *j = NULL;
	wh_err err = journal_open(c->journal.path, &jo, &j);

	if (err != WH_OK) {
		fprintf(stderr, "whagent: journal %s: %s%s%s\n", c->journal.path, wh_strerror(err),
			j && journal_errmsg(j)[0] ? ": " : "", j ? journal_errmsg(j) : "");
		journal_close(j);
		return NULL;
	}
	return j;
}

/* The client certificate: matches the key, chains to the CA, days left. */
static int
check_cert(const struct conf *c)
{
	struct cert_info info;
	char why[512];

	if (c->mqtt.certfile[0] == '\0')
		return 0;
	if (cert_check(c->mqtt.certfile, c->mqtt.keyfile, c->mqtt.cafile, &info, why,
		       sizeof(why)) != 0) {
		fprintf(stderr, "whagent: %s\n", why);
		return 1;
	}
	printf("# client certificate %s: valid until %s, %d days left%s\n", info.subject,
	       info.not_after, info.days_left,
	       info.days_left < c->mqtt.cert_warn_days ? " (renew it: whagent enroll)" : "");
	return 0;
}

static int
cmd_check(const struct args *a)
{
	struct conf *c = load_conf(a);
	int rc;

	if (c == NULL)
		return 1;
	conf_print(c, stdout);
	conf_check_secrets(c, stderr);
	rc = check_cert(c);
	if (rc == 0)
		printf("# %s: configuration is valid\n", a->conf);
	conf_free(c);
	return rc;
}

/* Splits a comma-separated list in place; at most max items. */
static int
split_list(char *s, char **items, int max)
{
	int n = 0;

	for (char *p = s; p != NULL && *p && n < max;) {
		char *comma = strchr(p, ',');

		if (comma != NULL)
			*comma = '\0';
		while (*p == ' ')
			p++;
		for (char *e = p + strlen(p); e > p && e[-1] == ' '; e--)
			e[-1] = '\0';
		if (*p)
			items[n++] = p;
		p = comma ? comma + 1 : NULL;
	}
	return n;
}

static int
cmd_enroll(const struct args *a)
{
	struct conf *c = load_conf(a);
	char dir[4096], key[4400], csr[4400], subject[512], fp[65], why[512], *dns[16];
	char *names = NULL;
	const char *base;
	int ndns, rc = 1;

	if (c == NULL)
		return 1;
	/* beside the configured keyfile (named like it), or in /etc/whagent */
	if (c->mqtt.keyfile[0] != '\0') {
		const char *slash = strrchr(c->mqtt.keyfile, '/');

		base = slash ? slash + 1 : c->mqtt.keyfile;
		snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - c->mqtt.keyfile) : 1,
			 slash ? c->mqtt.keyfile : ".");
	} else {
		base = "client.key";
		snprintf(dir, sizeof(dir), "/etc/whagent");
	}
	if (a->out != NULL)
		snprintf(dir, sizeof(dir), "%s", a->out);
	snprintf(key, sizeof(key), "%s/%s", dir, base);
	snprintf(csr, sizeof(csr), "%s/%.*s.csr", dir,
		 strrchr(base, '.') ? (int)(strrchr(base, '.') - base) : (int)strlen(base), base);
	snprintf(subject, sizeof(subject), "CN=%s%s%s%s%s", a->cn ? a->cn : c->agent.site_id,
		 c->identity.organization[0] ? ",O=" : "", c->identity.organization,
		 c->identity.unit[0] ? ",OU=" : "", c->identity.unit);
	names = wh_strdup(c->identity.dns_names);
	ndns = names ? split_list(names, dns, 16) : 0;
	if (cert_enroll(key, csr, subject, (const char *const *)dns, ndns, a->force, fp, why,
			sizeof(why)) != 0) {
		fprintf(stderr, "whagent enroll: %s\n", why);
		goto out;
	}
	printf("key     %s (mode 0600; it never leaves this machine)\n", key);
	printf("csr     %s\n", csr);
	printf("subject %s\n", subject);
	printf("sha256  %s\n", fp);
	printf("Have the company CA sign the CSR; install the certificate as [mqtt] certfile\n"
	       "(with keyfile = %s) and run: whagent check -c %s\n",
	       key, a->conf);
	rc = 0;
out:
	wh_free(names);
	conf_free(c);
	return rc;
}

static void
time_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void
print_status_json(const struct conf *c, const struct journal_stats *st,
		  const struct status_live *lv)
{
	char *text = status_json(c, st, lv);

	if (text != NULL)
		printf("%s\n", text);
	cJSON_free(text);
}

/* The link, since when, and the last error: as current while it stands, as earlier once a
 * connection was made or a batch acknowledged after it. */
static void
print_link(const struct status_live *lv)
{
	char when[32] = "never", since[32], at[32];

	if (lv->last_connect_ms > 0)
		time_text(lv->last_connect_ms, when, sizeof(when));
	if (lv->mqtt_since_ms > 0) {
		time_text(lv->mqtt_since_ms, since, sizeof(since));
		printf("mqtt           %s since %s (last connected %s)\n", lv->mqtt, since, when);
	} else {
		printf("mqtt           %s (last connected %s)\n", lv->mqtt, when);
	}
	if (lv->inflight > 0)
		printf("in flight      %d batches\n", lv->inflight);
	if (lv->last_error[0] == '\0')
		return;
	if (lv->last_error_ms > 0)
		time_text(lv->last_error_ms, at, sizeof(at));
	else
		snprintf(at, sizeof(at), "time unknown");
	if (lv->error_current)
		printf("last error     %s (%s)\n", lv->last_error, at);
	else
		printf("earlier error  %s (%s; the link has worked since)\n", lv->last_error, at);
}

static int
cmd_status(const struct args *a)
{
	struct conf *c = load_conf(a);
	struct journal *j = c ? open_journal(c, 1) : NULL;
	struct journal_stats st;
	struct status_live lv;
	wh_err err;
	int rc = 1;

	if (j == NULL)
		goto out;
	if ((err = journal_stats(j, &st)) != WH_OK) {
		fprintf(stderr, "whagent: journal: %s: %s\n", wh_strerror(err), journal_errmsg(j));
		goto out;
	}
	status_read_live(c, j, &lv);
	if (a->json) {
		print_status_json(c, &st, &lv);
	} else {
		printf("agent          %s\n", lv.running ? "running" : "not running");
		print_link(&lv);
		if (lv.journal_note[0] != '\0')
			printf("note           %s\n", lv.journal_note);
		printf("site_id        %s\n", c->agent.site_id);
		printf("journal_id     %s (session %" PRIu64 ")\n", st.journal_id, st.session);
		printf("last_seq       %" PRIu64 "\n", st.last_seq);
		printf("acked_through  %" PRIu64 " (broker), %" PRIu64 " (platform)\n",
		       st.acked_through, st.platform_acked_through);
		printf("backlog        %" PRIu64 " events, oldest unsent %" PRId64 " s\n",
		       st.backlog, status_age_s(st.oldest_unsent_ms));
		if (lv.backfill_through > 0)
			printf("backfill       draining through seq %" PRIu64
			       " beside the live lane\n",
			       lv.backfill_through);
		if (lv.acked_ranges[0] != '\0')
			printf("acked above    %s\n", lv.acked_ranges);
		printf("quarantined    %" PRIu64 " records\n", st.quarantined);
		printf("duplicates     %" PRIu64 " records\n", st.duplicates);
		printf("journal        %.1f MiB of %.1f MiB\n", (double)st.bytes / 1048576.0,
		       (double)c->journal.max_bytes / 1048576.0);
	}
	rc = 0;
out:
	journal_close(j);
	conf_free(c);
	return rc;
}

static void
print_entry_line(const struct journal_quarantined *q, void *arg)
{
	char when[32];

	(void)arg;
	time_text(q->received_at_ms, when, sizeof(when));
	printf("%-6" PRId64 " %s  %s/%s  %s: %s\n", q->id, when, q->input, q->source, q->position,
	       q->reason);
}

static void
print_entry(const struct journal_quarantined *q, void *arg)
{
	char when[32];

	(void)arg;
	time_text(q->received_at_ms, when, sizeof(when));
	printf("id        %" PRId64 "\nreceived  %s\ninput     %s (source %s, %s)\n"
	       "position  %s\nreason    %s\n",
	       q->id, when, q->input, q->source, q->format, q->position, q->reason);
	if (q->context != NULL)
		printf("header    %s\n", q->context);
	printf("raw       %zu bytes:\n", q->raw_len);
	fwrite(q->raw, 1, q->raw_len, stdout);
	printf("\n");
}

/* What requeue needs of a quarantined record, copied out of the statement. */
struct held {
	char *input, *source, *position, *format, *context;
	char *raw;
	size_t raw_len;
};

static void
hold_entry(const struct journal_quarantined *q, void *arg)
{
	struct held *h = arg;

	h->input = wh_strdup(q->input);
	h->source = wh_strdup(q->source);
	h->position = wh_strdup(q->position);
	h->format = wh_strdup(q->format);
	h->context = wh_strdup(q->context);
	h->raw = wh_strndup(q->raw, q->raw_len);
	h->raw_len = q->raw_len;
}

static void
held_free(struct held *h)
{
	wh_free(h->input);
	wh_free(h->source);
	wh_free(h->position);
	wh_free(h->format);
	wh_free(h->context);
	wh_free(h->raw);
}

/* Parses the held raw bytes into r again: a CSV line with its header, or a JSON object.
 * r borrows from hdr and row, which the caller frees with csv_row_done. */
static wh_err
reparse(const struct held *h, char delim, struct csv_row *hdr, struct csv_row *row,
	struct record *r, char *why, size_t whylen)
{
	const char *pwhy = NULL;
	size_t used;

	if (strcmp(h->format, "csv") != 0)
		return record_from_json(r, h->raw, h->raw_len, why, whylen);
	if (h->context == NULL) {
		snprintf(why, whylen, "no header row kept with the record");
		return WH_ERR_INVAL;
	}
	if (csv_row_init(hdr, strlen(h->context)) != 0 || csv_row_init(row, h->raw_len) != 0)
		return WH_ERR_NOMEM;
	if (csv_parse(hdr, h->context, strlen(h->context), 1, delim, &used, &pwhy) != CSV_ROW) {
		snprintf(why, whylen, "header row: %s", pwhy ? pwhy : "empty");
		return WH_ERR_INVAL;
	}
	if (csv_parse(row, h->raw, h->raw_len, 1, delim, &used, &pwhy) != CSV_ROW) {
		snprintf(why, whylen, "%s", pwhy ? pwhy : "empty record");
		return WH_ERR_INVAL;
	}
	return record_from_csv(r, hdr, row, why, whylen);
}

static int
requeue(const struct conf *c, struct journal *j, int64_t id)
{
	struct intake in = {.journal = j, .ledger = conf_ledger_rules(c)};
	struct intake_outcome out = {0};
	struct intake_raw raw = {0};
	struct held h = {0};
	struct csv_row hdr = {0}, row = {0};
	struct record *r = wh_malloc(sizeof(*r));
	wh_err err;
	int rc = 1;

	if (r == NULL)
		return 1;
	record_init(r);
	if ((err = journal_quarantine_get(j, id, hold_entry, &h)) != WH_OK) {
		fprintf(stderr, "whagent: quarantine %" PRId64 ": %s\n", id, wh_strerror(err));
		goto out;
	}
	if (h.raw == NULL || h.format == NULL) {
		fprintf(stderr, "whagent: out of memory\n");
		goto out;
	}
	/* the mapping of the input the record came through */
	in.input = h.input;
	conf_input_map(c, h.input, &in.map);
	err = reparse(&h, conf_delimiter(c), &hdr, &row, r, out.reason, sizeof(out.reason));
	if (err == WH_ERR_INVAL) {
		printf("still invalid: %s\n", out.reason);
		goto out;
	}
	if (err == WH_OK && (err = journal_txn_begin(j, JOURNAL_TXN_APPEND)) == WH_OK) {
		raw = (struct intake_raw){.position = h.position,
					  .format = h.format,
					  .context = h.context,
					  .bytes = h.raw,
					  .len = h.raw_len};
		in.source = h.source;
		err = intake_record(&in, r, NULL, &raw, &out);
		if (err == WH_OK && out.result == INTAKE_QUARANTINED) {
			journal_txn_end(j, WH_ERR_INVAL); /* nothing changes */
			printf("still invalid: %s\n", out.reason);
			goto out;
		}
		if (err == WH_OK)
			err = journal_quarantine_delete(j, id);
		err = journal_txn_end(j, err);
	}
	if (err != WH_OK) {
		fprintf(stderr, "whagent: requeue: %s: %s\n", wh_strerror(err), journal_errmsg(j));
		goto out;
	}
	printf("%s as seq %" PRIu64 "\n",
	       out.result == INTAKE_DUPLICATE ? "duplicate of an event journaled" : "journaled",
	       out.seq);
	rc = 0;
out:
	held_free(&h);
	csv_row_done(&hdr);
	csv_row_done(&row);
	record_done(r);
	wh_free(r);
	return rc;
}

static int
parse_id(const char *s, int64_t *ret)
{
	char *end;
	long long v;

	if (s == NULL)
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v <= 0)
		return -1;
	*ret = v;
	return 0;
}

static int
cmd_quarantine(const struct args *a)
{
	const char *sub = a->sub ? a->sub : "list";
	int readonly = strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0;
	struct conf *c = NULL;
	struct journal *j = NULL;
	int64_t id = 0;
	wh_err err;
	int rc = 1;

	if (strcmp(sub, "list") != 0 && parse_id(a->id, &id) != 0) {
		fprintf(stderr,
			"whagent quarantine %s: needs the record's ID (see quarantine list)\n",
			sub);
		return 2;
	}
	if ((c = load_conf(a)) == NULL || (j = open_journal(c, readonly)) == NULL)
		goto out;
	if (strcmp(sub, "list") == 0) {
		err = journal_quarantine_list(j, print_entry_line, NULL);
	} else if (strcmp(sub, "show") == 0) {
		err = journal_quarantine_get(j, id, print_entry, NULL);
	} else if (strcmp(sub, "purge") == 0) {
		err = journal_quarantine_delete(j, id);
		if (err == WH_OK)
			printf("purged %" PRId64 "\n", id);
	} else if (strcmp(sub, "requeue") == 0) {
		rc = requeue(c, j, id);
		goto out;
	} else {
		fprintf(stderr, "whagent quarantine: unknown action '%s'\n", sub);
		rc = 2;
		goto out;
	}
	if (err != WH_OK) {
		fprintf(stderr, "whagent: quarantine %s: %s%s%s\n", sub, wh_strerror(err),
			err == WH_ERR_NOTFOUND ? "" : ": ",
			err == WH_ERR_NOTFOUND ? "" : journal_errmsg(j));
		goto out;
	}
	rc = 0;
out:
	journal_close(j);
	conf_free(c);
	return rc;
}

int
cli_main(int argc, char **argv)
{
	struct args a;

	record_json_alloc(); /* every cJSON tree and text of the process through the wrapper */
	if (parse_args(argc, argv, &a) != 0) {
		usage(stderr);
		return 2;
	}
	if (strcmp(a.cmd, "run") == 0) {
		struct agent_opts o = {.conf_path = a.conf, .until_idle = a.until_idle};

		if (a.conf == NULL) {
			fprintf(stderr, "whagent run: -c FILE is required\n");
			return 2;
		}
		return agent_run(&o);
	}
	if (strcmp(a.cmd, "check") == 0)
		return cmd_check(&a);
	if (strcmp(a.cmd, "enroll") == 0)
		return cmd_enroll(&a);
	if (strcmp(a.cmd, "status") == 0)
		return cmd_status(&a);
	if (strcmp(a.cmd, "quarantine") == 0)
		return cmd_quarantine(&a);
	if (strcmp(a.cmd, "help-config") == 0) {
		conf_print_help(stdout);
		return 0;
	}
	if (strcmp(a.cmd, "version") == 0 || strcmp(a.cmd, "--version") == 0) {
		printf("whagent %s\n", WHAGENT_VERSION);
		return 0;
	}
	if (strcmp(a.cmd, "help") == 0 || strcmp(a.cmd, "--help") == 0 ||
	    strcmp(a.cmd, "-h") == 0) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "whagent: unknown command '%s'\n", a.cmd);
	usage(stderr);
	return 2;
}
