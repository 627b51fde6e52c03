/* Key generation, CSR writing and client-certificate checks over mbedtls (see cert.h). Hashing,
 * randomness and key parsing come from the crypto module. */
#include "cert.h"

#include <errno.h>
#include <fcntl.h>
#include <mbedtls/asn1write.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <stdint.h>
#include <sys/stat.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "civil.h"
#include "crypto.h"
#include "platform.h"

#define PEM_CSR_BEGIN "-----BEGIN CERTIFICATE REQUEST-----\n"
#define PEM_CSR_END   "-----END CERTIFICATE REQUEST-----\n"

/* Writes text to path: a new file (O_EXCL), or with force one that replaces it only once
 * whole and synced (written under a temporary name, then renamed over it: a failure keeps
 * the old file). Given mode, and to owner when not NULL, through the descriptor. */
static int
write_new(const char *path, const char *text, mode_t mode, int force,
	  const struct cert_owner *owner, char *why, size_t whylen)
{
	size_t len = strlen(text);
	char tmp[4200];
	const char *dst = path;
	int fd;

	if (force) {
		snprintf(tmp, sizeof(tmp), "%s.new", path);
		unlink(tmp); /* one left by an earlier failure */
		dst = tmp;
	}
	fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0) {
		snprintf(why, whylen, "%s: %s%s", dst, strerror(errno),
			 errno == EEXIST ? " (use --force to replace it)" : "");
		return -1;
	}
	/* the descriptor, not the path: nothing swapped in between gets the owner or the mode */
	if ((owner != NULL && (fchown(fd, owner->uid, owner->gid) != 0 || fchmod(fd, mode) != 0)) ||
	    write(fd, text, len) != (ssize_t)len || fsync(fd) != 0) {
		snprintf(why, whylen, "%s: %s%s", dst,
			 owner ? "writing it for the service user: " : "", strerror(errno));
		close(fd);
		unlink(dst);
		return -1;
	}
	if (close(fd) != 0 || (force && rename(tmp, path) != 0)) {
		snprintf(why, whylen, "%s: %s", path, strerror(errno));
		unlink(dst);
		return -1;
	}
	(void)platform_fs_sync_parent(path); /* the name durable too; the key is written anyway */
	return 0;
}

/* The subjectAltName extension value: SEQUENCE OF dNSName [2] IA5String. */
static int
san_extension(const char *const *dns, int ndns, unsigned char *buf, size_t size,
	      unsigned char **ret_start, size_t *ret_len)
{
	unsigned char *p = buf + size;
	size_t len = 0;
	int rc;

	for (int i = ndns - 1; i >= 0; i--) {
		size_t n = strlen(dns[i]);

		if ((rc = mbedtls_asn1_write_raw_buffer(&p, buf, (const unsigned char *)dns[i],
							n)) < 0)
			return rc;
		len += (size_t)rc;
		if ((rc = mbedtls_asn1_write_len(&p, buf, n)) < 0)
			return rc;
		len += (size_t)rc;
		if ((rc = mbedtls_asn1_write_tag(&p, buf, MBEDTLS_ASN1_CONTEXT_SPECIFIC | 2)) < 0)
			return rc;
		len += (size_t)rc;
	}
	if ((rc = mbedtls_asn1_write_len(&p, buf, len)) < 0)
		return rc;
	len += (size_t)rc;
	if ((rc = mbedtls_asn1_write_tag(&p, buf,
					 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE)) < 0)
		return rc;
	*ret_start = p;
	*ret_len = len + (size_t)rc;
	return 0;
}

int
cert_enroll(const char *key_path, const char *csr_path, const char *subject, const char *const *dns,
	    int ndns, int force, const struct cert_owner *owner, char *fingerprint, char *why,
	    size_t whylen)
{
	mbedtls_pk_context key;
	mbedtls_x509write_csr csr;
	struct crypto_rng r;
	unsigned char key_pem[4096], pem[4096], der[2048], san[1024], *san_start, digest[32];
	size_t san_len, pem_len;
	int rc, n;

	mbedtls_pk_init(&key);
	mbedtls_x509write_csr_init(&csr);
	rc = crypto_rng_init(&r);
	if (rc != 0 || (rc = mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY))) ||
	    (rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key),
				      mbedtls_ctr_drbg_random, &r.drbg))) {
		crypto_why(why, whylen, "generating the key", rc);
		goto fail;
	}
	if ((rc = mbedtls_pk_write_key_pem(&key, key_pem, sizeof(key_pem))) != 0) {
		crypto_why(why, whylen, "writing the key", rc);
		goto fail;
	}
	mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
	mbedtls_x509write_csr_set_key(&csr, &key);
	if ((rc = mbedtls_x509write_csr_set_subject_name(&csr, subject)) != 0) {
		crypto_why(why, whylen, "subject name", rc);
		goto fail;
	}
	if (ndns > 0) {
		if ((rc = san_extension(dns, ndns, san, sizeof(san), &san_start, &san_len)) == 0)
#if MBEDTLS_VERSION_MAJOR < 3
			rc = mbedtls_x509write_csr_set_extension(
				&csr, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), san_start, san_len);
#else
			rc = mbedtls_x509write_csr_set_extension(
				&csr, MBEDTLS_OID_SUBJECT_ALT_NAME,
				MBEDTLS_OID_SIZE(MBEDTLS_OID_SUBJECT_ALT_NAME), 0, san_start,
				san_len);
#endif
		if (rc != 0) {
			crypto_why(why, whylen, "subjectAltName", rc);
			goto fail;
		}
	}
	/* signed once: the PEM is this DER, so the fingerprint is the file's whatever the
	 * signature scheme (a second signing may differ) */
	n = mbedtls_x509write_csr_der(&csr, der, sizeof(der), mbedtls_ctr_drbg_random, &r.drbg);
	if (n < 0 || (rc = mbedtls_pem_write_buffer(PEM_CSR_BEGIN, PEM_CSR_END,
						    der + sizeof(der) - (size_t)n, (size_t)n, pem,
						    sizeof(pem), &pem_len)) != 0) {
		crypto_why(why, whylen, "writing the CSR", n < 0 ? n : rc);
		goto fail;
	}
	/* the key file last but one: a refused subject or SAN leaves the key in use alone */
	if (write_new(key_path, (const char *)key_pem, 0600, force, owner, why, whylen) != 0 ||
	    write_new(csr_path, (const char *)pem, 0644, 1, NULL, why, whylen) != 0)
		goto fail;
	{
		struct crypto_sha256 h;

		crypto_sha256_start(&h);
		crypto_sha256_update(&h, der + sizeof(der) - (size_t)n, (size_t)n);
		crypto_sha256_finish(&h, digest);
		crypto_hex(digest, sizeof(digest), fingerprint);
	}
	rc = 0;
	goto out;
fail:
	rc = -1;
out:
	mbedtls_x509write_csr_free(&csr);
	mbedtls_pk_free(&key);
	crypto_rng_done(&r);
	return rc;
}

int
cert_check(const char *certfile, const char *keyfile, const char *cafile, struct cert_info *info,
	   char *why, size_t whylen)
{
	mbedtls_x509_crt crt, ca;
	mbedtls_pk_context key;
	struct crypto_rng r;
	const mbedtls_x509_time *t;
	uint32_t flags = 0;
	int64_t secs, now;
	int rc = -1;

	mbedtls_x509_crt_init(&crt);
	mbedtls_x509_crt_init(&ca);
	mbedtls_pk_init(&key);
	memset(info, 0, sizeof(*info));
	if (crypto_rng_init(&r) != 0) {
		snprintf(why, whylen, "no randomness");
		goto out;
	}
	if ((rc = mbedtls_x509_crt_parse_file(&crt, certfile)) != 0) {
		crypto_why(why, whylen, certfile, rc);
		rc = -1;
		goto out;
	}
	rc = -1;
	t = &crt.valid_to;
	secs = civil_seconds(t->year, t->mon, t->day, t->hour, t->min, t->sec);
	now = platform_now_ms() / 1000;
	info->days_left =
		secs >= now ? (int)((secs - now) / 86400) : -1 - (int)((now - secs) / 86400);
	snprintf(info->not_after, sizeof(info->not_after), "%04d-%02d-%02d %02d:%02d:%02d UTC",
		 t->year, t->mon, t->day, t->hour, t->min, t->sec);
	mbedtls_x509_dn_gets(info->subject, sizeof(info->subject), &crt.subject);
	if (crypto_key_parse(&key, keyfile, &r) != 0) {
		snprintf(why, whylen, "%s: cannot read the private key", keyfile);
		goto out;
	}
#if MBEDTLS_VERSION_MAJOR < 3
	if (mbedtls_pk_check_pair(&crt.pk, &key) != 0) {
#else
	if (mbedtls_pk_check_pair(&crt.pk, &key, mbedtls_ctr_drbg_random, &r.drbg) != 0) {
#endif
		snprintf(why, whylen, "certificate %s does not match the key %s", certfile,
			 keyfile);
		goto out;
	}
	if (info->days_left < 0) {
		snprintf(why, whylen, "certificate %s (%s) expired on %s", certfile, info->subject,
			 info->not_after);
		goto out;
	}
	if (cafile != NULL && cafile[0] != '\0') {
		if (mbedtls_x509_crt_parse_file(&ca, cafile) != 0) {
			snprintf(why, whylen, "%s: cannot read the CA certificates", cafile);
			goto out;
		}
		if (mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL) != 0) {
			char text[256];

			mbedtls_x509_crt_verify_info(text, sizeof(text), "", flags);
			text[strcspn(text, "\n")] = '\0';
			snprintf(why, whylen, "certificate %s does not chain to %s: %s", certfile,
				 cafile, text);
			rc = 1; /* a device CA other than the broker's (split CA) may be right */
			goto out;
		}
	}
	rc = 0;
out:
	mbedtls_x509_crt_free(&crt);
	mbedtls_x509_crt_free(&ca);
	mbedtls_pk_free(&key);
	crypto_rng_done(&r);
	return rc;
}
