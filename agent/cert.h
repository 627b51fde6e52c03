/* The device's X.509 identity: enrollment (a new EC P-256 key and a CSR for the company CA to
 * sign) and the checks `whagent check` and the uplink make on the client certificate (matches
 * the key, chains to the CA, days left). Over mbedtls (2.28 and 3.x). */
#ifndef WHAGENT_CERT_H
#define WHAGENT_CERT_H

#include <stddef.h>
#include <sys/types.h>

/* Who owns the key file enroll writes: the service's user when root enrolls for it. */
struct cert_owner {
	uid_t uid;
	gid_t gid;
};

/* Generates an EC P-256 key into key_path (created with O_EXCL and mode 0600; replaced only
 * with force; given to owner, when not NULL, through its descriptor before the key is
 * written) and a PEM CSR for subject ("CN=...,O=...") with DNS SANs into csr_path.
 * fingerprint gets the hex SHA-256 of the CSR's DER (65 bytes). 0, or -1 with why. */
int cert_enroll(const char *key_path, const char *csr_path, const char *subject,
		const char *const *dns, int ndns, int force, const struct cert_owner *owner,
		char *fingerprint, char *why, size_t whylen);

/* What `whagent check` says about a client certificate. */
struct cert_info {
	int days_left; /* until notAfter; negative when expired */
	char subject[256];
	char not_after[32]; /* YYYY-MM-DD HH:MM:SS UTC */
};

/* Parses certfile, checks it matches keyfile and chains to cafile (if given); fills info
 * (not_after stays empty when certfile could not be read). Returns 0, -1 with why
 * ("certificate expired on ...", "does not match the key", ...), or 1 with why when all holds
 * but the chain to cafile: the broker may trust a device CA other than the one that signed
 * its own certificate (split CA, as with AWS IoT), so that is for the caller to weigh. */
int cert_check(const char *certfile, const char *keyfile, const char *cafile,
	       struct cert_info *info, char *why, size_t whylen);

#endif
