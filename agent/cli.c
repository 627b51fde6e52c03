/* Subcommands other than the daemon itself: check, status, quarantine, version, help.
 * Results go to stdout, errors to stderr with a non-zero exit. */
#include "cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent.h"
#include "ballast.h"
#include "conf.h"
#include "cert.h"
#include "check.h"
#include "event.h"
#include "journal.h"
#include "journal_meta.h"
#include "journal_quarantine.h"
#include "log.h"
#include "mem.h"
#include "platform.h"
#include "record.h"
#include "requeue.h"
#include "status.h"

#define DEFAULT_CONF "/etc/whagent/whagent.conf"
#define MAX_IDS	     256

struct args {
	const char *cmd;
	const char *conf;
	const char *sub; /* quarantine: list, show, requeue, purge */
	const char *ids[MAX_IDS];
	int nids;
	const char *cn;	     /* enroll */
	const char *out;     /* enroll */
	const char *input;   /* quarantine requeue --input */
	const char *as_user; /* check --as-user */
	const char *raw;     /* quarantine show --raw FILE */
	const char *before;  /* quarantine purge --before TIME */
	int force;	     /* enroll */
	int all;	     /* quarantine requeue --all, purge --all */
	int json;
	int until_idle;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: whagent COMMAND [-c FILE] [options]   (FILE: " DEFAULT_CONF ")\n"
		"\n"
		"  run [--until-idle]           run the agent in the foreground; --until-idle\n"
		"                               exits once the spool folder is empty and, with an\n"
		"                               uplink, every event is acknowledged\n"
		"  check [--as-user NAME]       validate the configuration, print effective\n"
		"                               settings, test files and folders as the service\n"
		"                               user (run as root; NAME default " CHECK_SERVICE_USER
		"),\n"
		"                               the broker's name, certificate, journal's site\n"
		"  status [--json]              journal id, last seq, watermark, backlog, "
		"quarantine\n"
		"  quarantine list              records that could not be taken, with reasons\n"
		"  quarantine show ID [--raw FILE]\n"
		"                               one record: reason, position and raw bytes\n"
		"                               (escaped: \\xNN); --raw writes the bytes as they\n"
		"                               were to a new FILE (- for standard output)\n"
		"  quarantine requeue --all | --input NAME | ID...\n"
		"                               validate the raw records again (e.g. after fixing\n"
		"                               a [map.NAME] section) and journal the valid ones;\n"
		"                               --input: those of one input (spool, spool.NAME, "
		"http)\n"
		"  quarantine purge ID | --all | --before TIME\n"
		"                               delete quarantined records (TIME: RFC 3339, or\n"
		"                               a number of days like 7d: those received earlier)\n"
		"                               and give the space back to the file system\n"
		"  enroll [--cn NAME] [--out DIR] [--force]\n"
		"                               make the device key (EC P-256, mode 0600, owned "
		"by\n"
		"                               the service user when run as root) and a CSR\n"
		"                               for the company CA ([identity] O, OU, DNS names)\n"
		"  help-config                  every configuration key with default and help\n"
		"  version                      print the version\n"
		"\n"
		"Exit status: 0 on success, 1 on an error (check: a problem found; requeue: a\n"
		"record still invalid), 2 on a usage error.\n");
}

/* Fills a from argv; on a usage error says which option or word is wrong and returns -1. */
static int
parse_args(int argc, char **argv, struct args *a)
{
	static const char *const with_value[] = {"-c",	  "--config", "--cn",
						 "--out", "--input",  "--as-user",
						 "--raw", "--before", NULL};
	const char **slot[] = {&a->conf,  &a->conf,    &a->cn,	&a->out,
			       &a->input, &a->as_user, &a->raw, &a->before};

	memset(a, 0, sizeof(*a));
	if (argc < 2) {
		fprintf(stderr, "whagent: no command; see whagent --help\n");
		return -1;
	}
	a->cmd = argv[1];
	for (int i = 2; i < argc; i++) {
		int k;

		for (k = 0; with_value[k] != NULL && strcmp(argv[i], with_value[k]) != 0; k++)
			;
		if (with_value[k] != NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr,
					"whagent: option %s needs a value; see whagent --help\n",
					argv[i]);
				return -1;
			}
			*slot[k] = argv[++i];
		} else if (strcmp(argv[i], "--json") == 0) {
			a->json = 1;
		} else if (strcmp(argv[i], "--until-idle") == 0) {
			a->until_idle = 1;
		} else if (strcmp(argv[i], "--force") == 0) {
			a->force = 1;
		} else if (strcmp(argv[i], "--all") == 0) {
			a->all = 1;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "whagent: unknown option %s; see whagent --help\n",
				argv[i]);
			return -1;
		} else if (a->sub == NULL && strcmp(a->cmd, "quarantine") == 0) {
			a->sub = argv[i];
		} else if (strcmp(a->cmd, "quarantine") == 0 && a->nids < MAX_IDS) {
			a->ids[a->nids++] = argv[i];
		} else {
			fprintf(stderr,
				"whagent %s: unexpected argument '%s'; see whagent --help\n",
				a->cmd, argv[i]);
			return -1;
		}
	}
	if (a->conf == NULL)
		a->conf = DEFAULT_CONF;
	if (a->as_user == NULL)
		a->as_user = CHECK_SERVICE_USER;
	return 0;
}

static struct conf *
load_conf(const struct args *a)
{
	struct conf *c = NULL;
	char err[512];

	if (conf_load(a->conf, &c, err, sizeof(err)) != WH_OK) {
		fprintf(stderr, "whagent: %s\n", err);
		return NULL;
	}
	return c;
}

static struct journal *
open_journal(const struct conf *c, int readonly)
{
	struct journal_opts jo = conf_journal_opts(c, readonly);
	struct journal *j = NULL;
	struct ballast b;
	uint64_t free_bytes = 0;
	wh_err err;

	/* on a full disk SQLite cannot even make its -shm file: the ballast gives room */
	if (ballast_init(&b, c->journal.path, BALLAST_BYTES) == 0 &&
	    ballast_release_if_short(&b, &free_bytes) > 0)
		fprintf(stderr,
			"whagent: note: %" PRIu64
			" bytes free on %s: released the ballast %s (%" PRIu64
			" bytes) so that the journal opens; the agent makes it again once there is "
			"room\n",
			free_bytes, b.dir, b.path, b.bytes);
	err = journal_open(c->journal.path, &jo, &j);
	if (err != WH_OK) {
		fprintf(stderr, "whagent: journal %s: %s%s%s\n", c->journal.path, wh_strerror(err),
			j && journal_errmsg(j)[0] ? ": " : "", j ? journal_errmsg(j) : "");
		journal_close(j);
		return NULL;
	}
	return j;
}

static int
cmd_check(const struct args *a)
{
	struct conf *c = load_conf(a);
	int errors;

	if (c == NULL)
		return 1;
	conf_print(c, stdout);
	conf_check_secrets(c, stderr);
	errors = check_run(c, a->as_user);
	if (errors == 0)
		printf("# %s: configuration is valid\n", a->conf);
	else
		fprintf(stderr, "whagent check: %s: %d problem%s to fix (above)\n", a->conf, errors,
			errors == 1 ? "" : "s");
	conf_free(c);
	return errors == 0 ? 0 : 1;
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
	struct passwd *pw = NULL;
	struct cert_owner owner;
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
	/* the service reads the key, nobody else: a root-owned one it could not */
	if (geteuid() == 0 && (pw = getpwnam(CHECK_SERVICE_USER)) != NULL)
		owner = (struct cert_owner){pw->pw_uid, pw->pw_gid};
	if (cert_enroll(key, csr, subject, (const char *const *)dns, ndns, a->force,
			pw != NULL ? &owner : NULL, fp, why, sizeof(why)) != 0) {
		fprintf(stderr, "whagent enroll: %s\n", why);
		goto out;
	}
	if (pw != NULL) {
		struct group *gr = getgrgid(pw->pw_gid);

		printf("owner   %s:%s (the service's user), mode 0600\n", pw->pw_name,
		       gr ? gr->gr_name : "?");
	} else if (geteuid() == 0) {
		printf("note    user %s does not exist: the key stays root's\n",
		       CHECK_SERVICE_USER);
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
	if (lv->alarms[0] != '\0')
		printf("alarms         %s (GET /v1/status or the status page: what and since "
		       "when)\n",
		       lv->alarms);
	if (lv->inputs[0] != '\0') {
		printf("input errors   ");
		log_escape_write(stdout, lv->inputs, strlen(lv->inputs));
		printf("\n");
	}
	if (lv->last_error[0] == '\0')
		return;
	if (lv->last_error_ms > 0)
		time_text(lv->last_error_ms, at, sizeof(at));
	else
		snprintf(at, sizeof(at), "time unknown");
	if (lv->error_current) {
		printf("last error     %s (%s)\n", lv->last_error, at);
	} else {
		int64_t age = status_age_s(lv->last_error_ms);

		if (lv->last_error_ms <= 0)
			printf("last error     (%s; the link has worked since): %s\n", at,
			       lv->last_error);
		else if (age < 120)
			printf("last error     %" PRId64
			       " s ago (%s; the link has worked since): %s\n",
			       age, at, lv->last_error);
		else if (age < 7200)
			printf("last error     %" PRId64
			       " min ago (%s; the link has worked since): %s\n",
			       age / 60, at, lv->last_error);
		else
			printf("last error     %" PRId64
			       " h ago (%s; the link has worked since): %s\n",
			       age / 3600, at, lv->last_error);
	}
}

/* The headline: in sync, lagging since T, link down since T. */
static void
print_sync(const struct conf *c, const struct journal_stats *st, const struct status_live *lv)
{
	struct status_sync sy;
	char since[32];

	status_sync(c, st, lv, &sy);
	if (sy.since_ms > 0) {
		time_text(sy.since_ms, since, sizeof(since));
		printf("state          %s since %s (%" PRId64 " s)\n", sy.state, since,
		       status_age_s(sy.since_ms));
	} else {
		printf("state          %s\n", sy.state);
	}
	printf("backlog        %" PRIu64 " events not acknowledged by the %s, oldest %" PRId64
	       " s\n",
	       sy.backlog, sy.watermark, status_age_s(sy.oldest_ms));
	if (strcmp(sy.watermark, "platform") == 0)
		printf("               %" PRIu64 " not acknowledged by the broker\n",
		       sy.broker_backlog);
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
		print_sync(c, &st, &lv);
		print_link(&lv);
		if (lv.journal_note[0] != '\0')
			printf("note           %s\n", lv.journal_note);
		printf("site_id        %s\n", c->agent.site_id);
		printf("control        %s\n", status_control(c));
		printf("journal_id     %s (session %" PRIu64 ")\n", st.journal_id, st.session);
		printf("last_seq       %" PRIu64 "\n", st.last_seq);
		printf("acked_through  %" PRIu64 " (broker), %" PRIu64 " (platform)\n",
		       st.acked_through, st.platform_acked_through);
		if (lv.backfill_through > 0)
			printf("backfill       draining through seq %" PRIu64
			       " beside the live lane\n",
			       lv.backfill_through);
		if (lv.acked_ranges[0] != '\0')
			printf("acked above    %s\n", lv.acked_ranges);
		printf("quarantined    %" PRIu64 " records", st.quarantined);
		if (st.quarantine_evicted > 0)
			printf(" (%" PRIu64 " oldest evicted by its bounds, ever)",
			       st.quarantine_evicted);
		printf("\n");
		printf("duplicates     %" PRIu64 " records\n", st.duplicates);
		printf("journal        %.1f MiB of %.1f MiB\n", (double)st.bytes / 1048576.0,
		       (double)c->journal.max_bytes / 1048576.0);
		if (lv.journal_full[0] != '\0')
			printf("journal full   %s: inputs held back\n", lv.journal_full);
	}
	rc = 0;
out:
	journal_close(j);
	conf_free(c);
	return rc;
}

/* Text from a quarantined record (its input may be hostile) on the operator's terminal. */
static const char *
shown(const char *text, char *buf, size_t len)
{
	log_escape(buf, len, text, text != NULL ? strlen(text) : 0);
	return buf;
}

static void
print_entry_line(const struct journal_quarantined *q, void *arg)
{
	char when[32], source[128], position[256], reason[512];

	(void)arg;
	time_text(q->received_at_ms, when, sizeof(when));
	printf("%-6" PRId64 " %s  %s/%s  %s: %s\n", q->id, when, q->input,
	       shown(q->source, source, sizeof(source)),
	       shown(q->position, position, sizeof(position)),
	       shown(q->reason, reason, sizeof(reason)));
}

static void
print_field(const char *name, const char *text)
{
	printf("%-10s", name);
	log_escape_write(stdout, text != NULL ? text : "", text != NULL ? strlen(text) : 0);
	printf("\n");
}

static void
print_entry(const struct journal_quarantined *q, void *arg)
{
	char when[32], source[128];

	(void)arg;
	time_text(q->received_at_ms, when, sizeof(when));
	printf("id        %" PRId64 "\nreceived  %s\ninput     %s (source %s, %s)\n", q->id, when,
	       q->input, shown(q->source, source, sizeof(source)), q->format);
	print_field("position", q->position);
	print_field("reason", q->reason);
	if (q->context != NULL)
		print_field("header", q->context);
	if (q->raw_full_len > q->raw_len)
		printf("raw       the first %zu of %zu bytes (quarantine_raw_max_bytes; sha256 of "
		       "all "
		       "%s); escaped, --raw FILE writes them as they were:\n",
		       q->raw_len, q->raw_full_len, q->raw_sha256 ? q->raw_sha256 : "?");
	else
		printf("raw       %zu bytes (escaped; --raw FILE writes them as they were):\n",
		       q->raw_len);
	log_escape_write(stdout, q->raw, q->raw_len);
	printf("\n");
}

struct raw_out {
	const char *path;
	int rc;
};

/* Writes the raw bytes as they were to a new file (never over an existing one or through a
 * link), or to standard output for "-". */
static void
write_raw(const struct journal_quarantined *q, void *arg)
{
	struct raw_out *o = arg;
	int fd =
		strcmp(o->path, "-") == 0
			? 1
			: open(o->path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	size_t off = 0;

	if (fd < 0) {
		fprintf(stderr, "whagent quarantine show: %s: %s\n", o->path, strerror(errno));
		return;
	}
	while (off < q->raw_len) {
		ssize_t n = write(fd, (const char *)q->raw + off, q->raw_len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	if (off < q->raw_len)
		fprintf(stderr, "whagent quarantine show: writing %s: %s\n", o->path,
			strerror(errno));
	if (fd != 1 && close(fd) != 0 && off == q->raw_len) {
		fprintf(stderr, "whagent quarantine show: %s: %s\n", o->path, strerror(errno));
		off = 0;
	}
	o->rc = off == q->raw_len ? 0 : -1;
}

/* Requeues entry id and says what became of it. 0 when it was journaled (or a duplicate). */
static int
requeue(const struct conf *c, struct journal *j, int64_t id)
{
	struct requeue_outcome o;
	wh_err err = requeue_entry(c, j, id, &o);

	if (o.result == REQUEUE_INVALID && o.reason[0] != '\0') {
		char reason[sizeof(o.reason) * 4];

		printf("%" PRId64 ": still invalid: %s\n", id,
		       shown(o.reason, reason, sizeof(reason)));
		if (err != WH_OK)
			fprintf(stderr,
				"whagent: quarantine %" PRId64 ": keeping the new reason: %s: %s\n",
				id, wh_strerror(err), journal_errmsg(j));
		return 1;
	}
	if (err == WH_ERR_NOTFOUND || err == WH_ERR_NOMEM) {
		fprintf(stderr, "whagent: quarantine %" PRId64 ": %s\n", id, wh_strerror(err));
		return 1;
	}
	if (err != WH_OK) {
		fprintf(stderr, "whagent: requeue: %s: %s\n", wh_strerror(err), journal_errmsg(j));
		return 1;
	}
	printf("%" PRId64 ": %s as seq %" PRIu64 "\n", id,
	       o.result == REQUEUE_DUPLICATE ? "duplicate of an event journaled" : "journaled",
	       o.seq);
	return 0;
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

/* The ids requeue --all or --input NAME takes, in id order. */
struct pick {
	const char *input; /* NULL: all */
	int64_t *ids;
	size_t n, cap;
	int nomem;
};

static void
pick_entry(const struct journal_quarantined *q, void *arg)
{
	struct pick *p = arg;

	if (p->input != NULL && strcmp(q->input, p->input) != 0)
		return;
	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		int64_t *ids = wh_realloc(p->ids, cap * sizeof(*ids));

		if (ids == NULL) {
			p->nomem = 1;
			return;
		}
		p->ids = ids;
		p->cap = cap;
	}
	p->ids[p->n++] = q->id;
}

/* quarantine requeue --all | --input NAME | ID...: 0 when every record was journaled (or
 * found a duplicate), 1 when one is still invalid or failed. */
static int
cmd_requeue(const struct args *a, const struct conf *c, struct journal *j)
{
	struct pick p = {.input = a->input};
	size_t done = 0;
	wh_err err;
	int rc = 1;

	if (a->all || a->input != NULL) {
		if ((err = journal_quarantine_list(j, pick_entry, &p)) != WH_OK || p.nomem) {
			fprintf(stderr, "whagent: quarantine requeue: %s\n",
				p.nomem ? "out of memory" : journal_errmsg(j));
			goto out;
		}
		if (p.n == 0) {
			printf("nothing quarantined%s%s\n", a->input ? " from input " : "",
			       a->input ? a->input : "");
			rc = 0;
			goto out;
		}
	} else {
		if ((p.ids = wh_malloc((size_t)a->nids * sizeof(*p.ids))) == NULL) {
			fprintf(stderr, "whagent: out of memory\n");
			goto out;
		}
		for (int i = 0; i < a->nids; i++)
			if (parse_id(a->ids[i], &p.ids[p.n++]) != 0) {
				fprintf(stderr, "whagent quarantine requeue: '%s' is not an ID\n",
					a->ids[i]);
				rc = 2;
				goto out;
			}
	}
	for (size_t i = 0; i < p.n; i++)
		if (requeue(c, j, p.ids[i]) == 0)
			done++;
	if (p.n > 1)
		printf("requeued %zu of %zu; %zu still quarantined (whagent quarantine list)\n",
		       done, p.n, p.n - done);
	rc = done == p.n ? 0 : 1;
out:
	wh_free(p.ids);
	return rc;
}

/* --before TIME: RFC 3339, or a number of days ago ("7d"). 0 or -1. */
static int
parse_before(const char *s, int64_t *ret_ms)
{
	int32_t offset;
	char *end;
	long long days;

	if (event_parse_time(s, ret_ms, &offset) == 0)
		return 0;
	errno = 0;
	days = strtoll(s, &end, 10);
	if (errno != 0 || end == s || strcmp(end, "d") != 0 || days < 0 || days > 100000)
		return -1;
	*ret_ms = platform_now_ms() - (int64_t)days * 86400000;
	return 0;
}

/* quarantine purge --all | --before TIME: one maintenance transaction, then the pages go back
 * to the file system; says how many records and about how many bytes were freed. */
static int
cmd_purge_many(int64_t before, const struct conf *c, struct journal *j)
{
	int64_t n = 0;
	uint64_t free0 = 0, free1 = 0;
	int have0;
	wh_err err;

	have0 = platform_fs_free(c->journal.path, &free0) == 0;
	if ((err = journal_quarantine_purge(j, before, &n)) != WH_OK) {
		fprintf(stderr, "whagent: quarantine purge: %s: %s\n", wh_strerror(err),
			journal_errmsg(j));
		return 1;
	}
	err = journal_give_back(j);
	if (err != WH_OK)
		fprintf(stderr, "whagent: quarantine purge: space not given back yet: %s: %s\n",
			wh_strerror(err), journal_errmsg(j));
	if (have0 && platform_fs_free(c->journal.path, &free1) == 0)
		printf("purged %" PRId64 " quarantined records; %" PRId64
		       " bytes given back to the file system (%" PRIu64 " free)\n",
		       n, free1 > free0 ? (int64_t)(free1 - free0) : 0, free1);
	else
		printf("purged %" PRId64 " quarantined records\n", n);
	return err == WH_OK || err == WH_ERR_BUSY ? 0 : 1;
}

static int
cmd_quarantine(const struct args *a)
{
	const char *sub = a->sub ? a->sub : "list";
	int readonly = strcmp(sub, "list") == 0 || strcmp(sub, "show") == 0;
	int requeue_cmd = strcmp(sub, "requeue") == 0;
	int purge_many = strcmp(sub, "purge") == 0 && (a->all || a->before != NULL);
	struct conf *c = NULL;
	struct journal *j = NULL;
	int64_t id = 0, before = INT64_MAX;
	wh_err err;
	int rc = 1;

	if (strcmp(sub, "list") != 0 && strcmp(sub, "show") != 0 && !requeue_cmd &&
	    strcmp(sub, "purge") != 0) {
		fprintf(stderr, "whagent quarantine: unknown action '%s'; see whagent --help\n",
			sub);
		return 2;
	}
	if (requeue_cmd) {
		if ((a->all != 0) + (a->input != NULL) + (a->nids > 0) != 1) {
			fprintf(stderr, "whagent quarantine requeue: give --all, --input NAME or "
					"the records' IDs (see quarantine list)\n");
			return 2;
		}
	} else if (purge_many) {
		if (a->all + (a->before != NULL) + (a->nids > 0) != 1 || a->input != NULL ||
		    a->raw != NULL) {
			fprintf(stderr, "whagent quarantine purge: give --all, --before TIME or "
					"one record ID\n");
			return 2;
		}
		if (a->before != NULL && parse_before(a->before, &before) != 0) {
			fprintf(stderr,
				"whagent quarantine purge: --before '%s' is neither an RFC 3339 "
				"time (2026-12-01T00:00:00Z) nor a number of days (7d)\n",
				a->before);
			return 2;
		}
	} else if (a->all || a->input != NULL) {
		fprintf(stderr,
			"whagent quarantine %s: --all is for requeue and purge, --input for "
			"requeue\n",
			sub);
		return 2;
	} else if (a->before != NULL) {
		fprintf(stderr, "whagent quarantine %s: --before is for purge\n", sub);
		return 2;
	} else if (a->raw != NULL && strcmp(sub, "show") != 0) {
		fprintf(stderr, "whagent quarantine %s: --raw is for show\n", sub);
		return 2;
	} else if (strcmp(sub, "list") == 0 ? a->nids != 0
					    : a->nids != 1 || parse_id(a->ids[0], &id) != 0) {
		fprintf(stderr, "whagent quarantine %s: %s\n", sub,
			strcmp(sub, "list") == 0    ? "takes no ID"
			: strcmp(sub, "purge") == 0 ? "needs one record ID (see quarantine list), "
						      "--all or --before TIME"
						    : "needs one record ID (see quarantine list)");
		return 2;
	}
	if ((c = load_conf(a)) == NULL || (j = open_journal(c, readonly)) == NULL)
		goto out;
	if (strcmp(sub, "list") == 0) {
		err = journal_quarantine_list(j, print_entry_line, NULL);
	} else if (strcmp(sub, "show") == 0 && a->raw != NULL) {
		struct raw_out o = {a->raw, -1};

		err = journal_quarantine_get(j, id, write_raw, &o);
		if (err == WH_OK && o.rc != 0)
			goto out;
	} else if (strcmp(sub, "show") == 0) {
		err = journal_quarantine_get(j, id, print_entry, NULL);
	} else if (purge_many) {
		rc = cmd_purge_many(before, c, j);
		goto out;
	} else if (strcmp(sub, "purge") == 0) {
		err = journal_quarantine_delete(j, id);
		if (err == WH_OK)
			printf("purged %" PRId64 "\n", id);
	} else {
		rc = cmd_requeue(a, c, j);
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
	if (parse_args(argc, argv, &a) != 0)
		return 2;
	if (strcmp(a.cmd, "run") == 0) {
		struct agent_opts o = {.conf_path = a.conf, .until_idle = a.until_idle};

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
	fprintf(stderr, "whagent: unknown command '%s'; see whagent --help\n", a.cmd);
	return 2;
}
