/* Temporary files and key pairs for unit tests. */
#include "testutil.h"

#include <mbedtls/pk.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cert.h"
#include "crypto.h"

const char *
tu_tmpdir(void)
{
	static char path[512];
	const char *base = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/whagent-test-XXXXXX", base ? base : "/tmp");
	if (mkdtemp(path) == NULL) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

const char *
tu_write(const char *dir, const char *name, const char *text)
{
	static char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		abort();
	}
	return path;
}

void
tu_rmtree(const char *dir)
{
	char cmd[1200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

void
tu_keypair(const char *dir, const char *name, char *key, char *pub)
{
	char csr[512], fp[65], why[512];
	unsigned char pem[1024];
	struct crypto_rng r;
	mbedtls_pk_context pk;
	int rc;

	snprintf(key, 512, "%s/%s.key", dir, name);
	snprintf(csr, sizeof(csr), "%s/%s.csr", dir, name);
	snprintf(pub, 512, "%s/%s.pub", dir, name);
	if (cert_enroll(key, csr, "CN=test", NULL, 0, 1, NULL, fp, why, sizeof(why)) != 0) {
		fprintf(stderr, "tu_keypair: %s\n", why);
		abort();
	}
	mbedtls_pk_init(&pk);
	rc = crypto_rng_init(&r);
	if (rc == 0)
		rc = crypto_key_parse(&pk, key, &r);
	if (rc == 0)
		rc = mbedtls_pk_write_pubkey_pem(&pk, pem, sizeof(pem));
	mbedtls_pk_free(&pk);
	crypto_rng_done(&r);
	if (rc != 0) {
		fprintf(stderr, "tu_keypair: public key of %s: %d\n", key, rc);
		abort();
	}
	snprintf(csr, sizeof(csr), "%s.pub", name);
	tu_write(dir, csr, (const char *)pem);
}
