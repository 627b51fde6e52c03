/* The run-time checks of `whagent check` (see check.h): file and folder access tested in a
 * child process that took the service user's uid and groups, placeholders, name resolution,
 * the client certificate and the site the journal was written by. */
#include "check.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cert.h"
#include "conf.h"
#include "envelope.h"
#include "httpauth.h"
#include "journal.h"
#include "journal_meta.h"

struct check {
	const struct conf *conf;
	const char *who; /* "user whagent" */
	int errors;
};

static void problem(struct check *ck, int error, const char *fmt, ...) WH_PRINTF(3, 4);

static void
problem(struct check *ck, int error, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "whagent check: %s: ", error ? "error" : "warning");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (error)
		ck->errors++;
}

/* The directory part of path ("." for a bare name). */
static void
dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');

	if (slash == NULL)
		snprintf(buf, len, ".");
	else if (slash == path)
		snprintf(buf, len, "/");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
}

/* 1 when the agent makes the directory itself at start (its parent must take it). */
static int
agent_creates(const char *section, const char *key)
{
	return (strcmp(section, "agent") == 0 && strcmp(key, "state_dir") == 0) ||
	       (strncmp(section, "input.spool", 11) == 0 && strcmp(key, "done_dir") == 0);
}

/* 1 when path is the folder of a spool input. */
static int
is_spool_dir(const struct conf *c, const char *path)
{
	for (int i = 0; i < conf_spool_count(c); i++)
		if (strcmp(path, conf_spool_at(c, i)->dir) == 0)
			return 1;
	return 0;
}

static void
check_dir(struct check *ck, const char *section, const char *key, const char *path)
{
	struct stat st;
	char parent[4096];

	if (stat(path, &st) != 0) {
		int e = errno;

		dir_of(path, parent, sizeof(parent));
		if (e == ENOENT && agent_creates(section, key) && access(parent, F_OK) != 0 &&
		    is_spool_dir(ck->conf, parent))
			return; /* done_dir in a missing spool folder: that check speaks for it */
		if (e == ENOENT && agent_creates(section, key) &&
		    access(parent, W_OK | X_OK) == 0) {
			printf("# [%s] %s %s does not exist yet: the agent creates it\n", section,
			       key, path);
			return;
		}
		problem(ck, 1, "[%s] %s %s: %s (as %s)", section, key, path, strerror(e), ck->who);
		return;
	}
	if (!S_ISDIR(st.st_mode))
		problem(ck, 1, "[%s] %s %s is not a directory", section, key, path);
	else if (access(path, W_OK | X_OK) != 0)
		problem(ck, 1, "[%s] %s %s: %s cannot create files in it: %s", section, key, path,
			ck->who, strerror(errno));
}

/* The webhook secret and the bearer token are keys: an empty one would let anyone in. */
static void
check_http_secret(struct check *ck, const char *section, const char *key, const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	char why[512];

	if (httpauth_secret_load(path, key, &buf, &len, why, sizeof(why)) != WH_OK)
		problem(ck, 1, "[%s] %s", section, why);
	httpauth_secret_free(buf, len);
}

static void
check_path(const char *section, const char *key, const char *path, enum conf_path_kind kind,
	   int secret, void *arg)
{
	struct check *ck = arg;
	char parent[4096];
	DIR *d;
	int fd;

	switch (kind) {
	case CONF_PATH_READ:
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
		if (fd < 0) {
			problem(ck, 1, "[%s] %s %s: %s cannot read it: %s", section, key, path,
				ck->who, strerror(errno));
			return;
		}
		{
			struct stat st;

			if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode))
				problem(ck, 1, "[%s] %s %s is not a file", section, key, path);
			else if (secret && strcmp(section, "input.http") == 0)
				check_http_secret(ck, section, key, path);
		}
		close(fd);
		return;
	case CONF_PATH_DIRREAD:
		if ((d = opendir(path)) == NULL) {
			problem(ck, 1, "[%s] %s %s: %s cannot read the directory: %s", section, key,
				path, ck->who, strerror(errno));
			return;
		}
		closedir(d);
		return;
	case CONF_PATH_DIR:
		check_dir(ck, section, key, path);
		return;
	case CONF_PATH_WRITE:
		if (access(path, F_OK) == 0) {
			if (access(path, R_OK | W_OK) != 0)
				problem(ck, 1, "[%s] %s %s: %s cannot write it: %s", section, key,
					path, ck->who, strerror(errno));
			return;
		}
		dir_of(path, parent, sizeof(parent));
		/* in a state_dir still to be made: that check speaks for it */
		if (strcmp(parent, ck->conf->agent.state_dir) == 0 && access(parent, F_OK) != 0)
			return;
		if (access(parent, W_OK | X_OK) != 0)
			problem(ck, 1, "[%s] %s %s: %s cannot create it in %s: %s", section, key,
				path, ck->who, strerror(errno), parent);
		return;
	}
}

/* Every path the agent will use, the configuration file first (the service reads it too). */
static void
check_all_paths(struct check *ck)
{
	if (access(ck->conf->path, R_OK) != 0)
		problem(ck, 1, "configuration file %s: %s cannot read it: %s", ck->conf->path,
			ck->who, strerror(errno));
	conf_paths(ck->conf, check_path, ck);
}

/* The path checks in a child that took the service user's identity; returns its errors. */
static int
check_paths_as(struct check *ck, const struct passwd *pw)
{
	pid_t pid;
	int status;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		problem(ck, 1, "cannot fork to test access as %s: %s", ck->who, strerror(errno));
		return 1;
	}
	if (pid == 0) {
		if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0) {
			fprintf(stderr, "whagent check: error: cannot become %s: %s\n", ck->who,
				strerror(errno));
			_exit(1);
		}
		ck->errors = 0;
		check_all_paths(ck);
		fflush(stdout);
		fflush(stderr);
		_exit(ck->errors > 100 ? 100 : ck->errors);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			problem(ck, 1, "waiting for the access test: %s", strerror(errno));
			return 1;
		}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

static void
check_broker(struct check *ck)
{
	const struct conf *c = ck->conf;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
	int rc;

	if (c->mqtt.host[0] == '\0') {
		problem(ck, 0,
			"[mqtt] host is empty: no uplink, events stay in the journal (set it to "
			"publish them)");
		return;
	}
	if ((rc = getaddrinfo(c->mqtt.host, NULL, &hints, &res)) != 0)
		problem(ck, 1, "[mqtt] host %s does not resolve: %s", c->mqtt.host,
			rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
	freeaddrinfo(res);
}

/* The client certificate: matches the key, not expired, days left; a chain to another CA
 * than cafile is a warning (split CA). */
static void
check_cert(struct check *ck)
{
	const struct conf *c = ck->conf;
	struct cert_info info;
	char why[512];
	int rc;

	if (c->mqtt.host[0] == '\0' || c->mqtt.certfile[0] == '\0')
		return;
	rc = cert_check(c->mqtt.certfile, c->mqtt.keyfile, c->mqtt.cafile, &info, why, sizeof(why));
	if (rc < 0) {
		problem(ck, 1, "%s", why);
		return;
	}
	if (rc > 0)
		problem(ck, 0,
			"%s; fine when the broker trusts the device CA that signed it (a split "
			"CA, as with AWS IoT), else the broker refuses the connection",
			why);
	printf("# client certificate %s: valid until %s, %d days left%s\n", info.subject,
	       info.not_after, info.days_left,
	       info.days_left < c->mqtt.cert_warn_days ? " (renew it: whagent enroll)" : "");
}

/* A journal written under another site_id is refused at start: say so now. */
static void
check_journal_site(struct check *ck)
{
	const struct conf *c = ck->conf;
	struct journal_opts jo = {.readonly = 1,
				  .max_bytes = c->journal.max_bytes,
				  .reserve_bytes = c->journal.reserve_bytes};
	struct journal *j = NULL;
	char site[128];
	wh_err err;

	if (access(c->journal.path, F_OK) != 0)
		return;
	if ((err = journal_open(c->journal.path, &jo, &j)) != WH_OK) {
		problem(ck, 1, "journal %s: %s%s%s", c->journal.path, wh_strerror(err),
			j && journal_errmsg(j)[0] ? ": " : "", j ? journal_errmsg(j) : "");
	} else if (journal_meta_get(j, "site_id", site, sizeof(site)) == WH_OK &&
		   strcmp(site, c->agent.site_id) != 0) {
		problem(ck, 1,
			"journal %s was written by site %s, not %s: the agent refuses to start. "
			"Restore site_id = %s, or, once its backlog is drained, move the journal "
			"away or set a new state_dir",
			c->journal.path, site, c->agent.site_id, site);
	}
	journal_close(j);
}

int
check_run(const struct conf *c, const char *as_user)
{
	struct check ck = {.conf = c};
	struct passwd *pw = NULL;
	char who[128];

	if (conf_site_placeholder(c->agent.site_id))
		problem(&ck, 1, "[agent] site_id = %s is a placeholder: set the warehouse's id",
			c->agent.site_id);
	if (geteuid() == 0) {
		pw = getpwnam(as_user);
		if (pw == NULL)
			problem(&ck, 0,
				"user %s (the service's) does not exist: access tested as root, "
				"which reads everything",
				as_user);
	}
	if (pw != NULL && pw->pw_uid != 0) {
		snprintf(who, sizeof(who), "user %s", pw->pw_name);
		ck.who = who;
		printf("# file access tested as %s (the service's user)\n", who);
		ck.errors += check_paths_as(&ck, pw);
	} else {
		struct passwd *me = getpwuid(geteuid());

		snprintf(who, sizeof(who), "user %s", me ? me->pw_name : "(this uid)");
		ck.who = who;
		if (geteuid() != 0)
			printf("# file access tested as %s (run as root to test as the service's "
			       "user %s)\n",
			       who, as_user);
		check_all_paths(&ck);
	}
	if (c->mqtt.host[0] != '\0') {
		const char *files[] = {c->mqtt.platform_pubkey, c->mqtt.platform_pubkey_next};
		struct envelope_keys *k = NULL;
		char why[300];

		if (envelope_keys_new(files, 2, &k, why, sizeof(why)) != WH_OK)
			problem(&ck, 1, "[mqtt] platform_pubkey: %s", why);
		envelope_keys_free(k);
	}
	if (c->mqtt.host[0] != '\0' && c->mqtt.allow_unsigned_control)
		problem(&ck, 0,
			"[mqtt] allow_unsigned_control = true: INSECURE, unsigned acks and "
			"commands "
			"are taken from anyone who may publish on the broker (trials only; set "
			"platform_pubkey)");
	else if (c->mqtt.host[0] != '\0' && c->mqtt.platform_pubkey[0] == '\0' &&
		 c->mqtt.platform_pubkey_next[0] == '\0')
		problem(&ck, 0,
			"[mqtt] no platform_pubkey: every command from the platform is refused");
	check_broker(&ck);
	check_cert(&ck);
	check_journal_site(&ck);
	return ck.errors;
}
