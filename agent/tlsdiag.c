/* Diagnosis of uplink connect failures: TLS files checked before use, the socket's error, the
 * broker certificate's verification result and the broker's TLS alerts (see tlsdiag.h). */
#include "tlsdiag.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

static wh_err
check_file(const char *key, const char *path, char *why, size_t whylen)
{
	int fd;

	if (path == NULL || path[0] == '\0')
		return WH_OK;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "cannot read %s %s: %s", key, path, strerror(errno));
		return WH_ERR_IO;
	}
	close(fd);
	return WH_OK;
}

wh_err
tlsdiag_check_files(const struct conf *c, char *why, size_t whylen)
{
	wh_err err = check_file("cafile", c->mqtt.cafile, why, whylen);

	if (err == WH_OK && c->mqtt.certfile != NULL && c->mqtt.certfile[0]) {
		err = check_file("certfile", c->mqtt.certfile, why, whylen);
		if (err == WH_OK)
			err = check_file("keyfile", c->mqtt.keyfile, why, whylen);
	}
	return err;
}

int
tlsdiag_socket_error(int fd)
{
	int e = 0;
	socklen_t len = sizeof(e);

	if (fd < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
		return 0;
	return e;
}

/* The DNS names and IP addresses of cert's subjectAltName (else its CN), comma-separated. */
static void
cert_names(X509 *cert, char *out, size_t outlen)
{
	GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	char raw[256] = "", one[80];
	size_t o = 0;
	int i;

	for (i = 0; names != NULL && i < sk_GENERAL_NAME_num(names) && o + 1 < sizeof(raw); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
		const unsigned char *d;
		int len;

		one[0] = '\0';
		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			snprintf(one, sizeof(one), "%.*s", len > 70 ? 70 : len, (const char *)d);
		} else if (g->type == GEN_IPADD && ASN1_STRING_length(g->d.iPAddress) == 4) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			snprintf(one, sizeof(one), "%u.%u.%u.%u", d[0], d[1], d[2], d[3]);
		} else if (g->type == GEN_IPADD) {
			snprintf(one, sizeof(one), "(an IPv6 address)");
		}
		if (one[0] != '\0')
			o += (size_t)snprintf(raw + o, sizeof(raw) - o, "%s%s", o ? ", " : "", one);
	}
	GENERAL_NAMES_free(names);
	if (raw[0] == '\0')
		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, raw,
					  (int)sizeof(raw));
	if (raw[0] == '\0')
		snprintf(raw, sizeof(raw), "(none)");
	log_escape(out, outlen, raw, strlen(raw));
}

static int watch_index = -1;

static int
watch_verify(int ok, X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct tlsdiag_watch *w = ssl != NULL ? SSL_get_ex_data(ssl, watch_index) : NULL;

	if (w == NULL)
		return ok;
	if (X509_STORE_CTX_get_error_depth(ctx) == 0 && X509_STORE_CTX_get_current_cert(ctx))
		cert_names(X509_STORE_CTX_get_current_cert(ctx), w->names, sizeof(w->names));
	return w->verify != NULL ? w->verify(ok, ctx) : ok;
}

void
tlsdiag_watch(void *ssl_, struct tlsdiag_watch *w)
{
	SSL *ssl = ssl_;

	if (ssl == NULL) {
		w->names[0] = '\0';
		return;
	}
	/* Called again for the same SSL object (each read while connecting): wrapping our own
	 * callback would make it call itself. */
	if (SSL_get_verify_callback(ssl) == watch_verify)
		return;
	w->names[0] = '\0';
	if (watch_index < 0)
		watch_index = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	if (watch_index < 0 || SSL_set_ex_data(ssl, watch_index, w) != 1)
		return;
	w->verify = (int (*)(int, void *))SSL_get_verify_callback(ssl);
	SSL_set_verify(ssl, SSL_get_verify_mode(ssl), watch_verify);
}

void
tlsdiag_explain(void *ssl_, const char *host, const char *lib_error, int name_failed,
		const char *seen, char *out, size_t outlen)
{
	SSL *ssl = ssl_;
	long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
	char names[300], text[200];
	X509 *peer;
	int mismatch;

	out[0] = '\0';
	log_escape(text, sizeof(text), lib_error, lib_error ? strlen(lib_error) : 0);
	peer = ssl != NULL ? SSL_get1_peer_certificate(ssl) : NULL;
	/* libmosquitto checks the host name in its own verify callback, which fails the chain
	 * with X509_V_ERR_UNSPECIFIED */
	mismatch = name_failed || v == X509_V_ERR_HOSTNAME_MISMATCH ||
		   v == X509_V_ERR_IP_ADDRESS_MISMATCH ||
		   (v == X509_V_ERR_UNSPECIFIED && peer != NULL &&
		    X509_check_host(peer, host, 0, 0, NULL) != 1 &&
		    X509_check_ip_asc(peer, host, 0) != 1);
	if (peer != NULL) {
		cert_names(peer, names, sizeof(names));
		X509_free(peer);
	} else {
		snprintf(names, sizeof(names), "%s",
			 seen != NULL && seen[0] ? seen : "(names not obtainable)");
	}
	if (mismatch) {
		snprintf(out, outlen,
			 "host-name mismatch: the broker's certificate is for %s, not for the "
			 "configured host %s",
			 names, host);
	} else if (v != X509_V_OK) {
		snprintf(
			out, outlen,
			"the broker's certificate is not trusted by cafile/capath (%s): check that "
			"cafile holds the CA that signed the broker's certificate",
			X509_verify_cert_error_string(v));
	} else if (strstr(lib_error, "alert unknown ca") != NULL ||
		   strstr(lib_error, "alert bad certificate") != NULL ||
		   strstr(lib_error, "alert certificate required") != NULL ||
		   strstr(lib_error, "alert handshake failure") != NULL ||
		   strstr(lib_error, "alert certificate unknown") != NULL) {
		snprintf(out, outlen,
			 "the broker refused our client certificate (%s): check that the broker "
			 "trusts the client certificate (certfile, keyfile)",
			 text);
	} else if (text[0] != '\0') {
		snprintf(out, outlen, "TLS: %s", text);
	}
}
