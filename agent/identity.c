/* Client certificate, signing key and password of the uplink (see identity.h). */
#include "identity.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cert.h"
#include "conf.h"
#include "crypto.h"
#include "log.h"
#include "mem.h"

static void
stamp(const struct conf *c, char *buf, size_t len)
{
	struct stat a = {0}, b = {0};

	if (c->mqtt.certfile[0] != '\0')
		stat(c->mqtt.certfile, &a);
	if (c->mqtt.keyfile[0] != '\0')
		stat(c->mqtt.keyfile, &b);
	snprintf(buf, len, "%ju:%ju:%jd:%jd/%ju:%ju:%jd:%jd", (uintmax_t)a.st_dev,
		 (uintmax_t)a.st_ino, (intmax_t)a.st_size, (intmax_t)a.st_mtime,
		 (uintmax_t)b.st_dev, (uintmax_t)b.st_ino, (intmax_t)b.st_size,
		 (intmax_t)b.st_mtime);
}

wh_err
identity_load(struct identity *id, const struct conf *c, char *why, size_t whylen)
{
	struct cert_info info;
	char text[512];

	stamp(c, id->stamp, sizeof(id->stamp));
	id->has_client_cert = c->mqtt.certfile[0] != '\0';
	if (id->has_client_cert) {
		if (cert_check(c->mqtt.certfile, c->mqtt.keyfile, NULL, &info, text,
			       sizeof(text)) != 0 &&
		    info.not_after[0] == '\0')
			log_warnx("uplink: %s", text);
		else if (info.days_left < c->mqtt.cert_warn_days)
			log_warnx("uplink: client certificate %s expires on %s (%d days): renew it",
				  info.subject, info.not_after, info.days_left);
		id->cert_days_left = info.days_left;
	}
	if (c->mqtt.sign_batches) {
		struct crypto_signer *s;

		if (crypto_signer_new(c->mqtt.keyfile, &s, text, sizeof(text)) != 0) {
			snprintf(why, whylen, "sign_batches: %s", text);
			return WH_ERR_CONF;
		}
		crypto_signer_free(id->signer);
		id->signer = s;
	}
	return WH_OK;
}

void
identity_done(struct identity *id)
{
	crypto_signer_free(id->signer);
	id->signer = NULL;
}

int
identity_changed(const struct identity *id, const struct conf *c)
{
	char now[sizeof(id->stamp)];

	stamp(c, now, sizeof(now));
	return strcmp(now, id->stamp) != 0;
}

char *
identity_read_password(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	return wh_strdup(line);
}
