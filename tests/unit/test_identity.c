/* The uplink's identity: a signing key that cannot be read is an error the caller reports
 * (identity_load says why and logs nothing itself), a reload with a broken key keeps signing
 * with the key in use, and a replaced key file is noticed. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"
#include "crypto.h"
#include "identity.h"
#include "testutil.h"

static char dir[512], key[512], pub[512];

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s", tu_tmpdir());
	tu_keypair(dir, "client", key, pub);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	tu_rmtree(dir);
	return 0;
}

static struct conf *
conf_with_key(const char *keyfile)
{
	struct conf *c = NULL;
	char text[2048], path[1024], err[512];

	snprintf(text, sizeof(text),
		 "[agent]\nsite_id = DC-1\nstate_dir = %s\n"
		 "[mqtt]\nhost = 127.0.0.1\nkeyfile = %s\nsign_batches = true\n",
		 dir, keyfile);
	snprintf(path, sizeof(path), "%s", tu_write(dir, "w.conf", text));
	if (conf_load(path, &c, err, sizeof(err)) != WH_OK)
		fail_msg("config: %s", err);
	return c;
}

/* Runs identity_load with stderr (the log) going to a file; returns what was logged. */
static wh_err
load_quietly(struct identity *id, const struct conf *c, char *why, size_t whylen, char *logged,
	     size_t loglen)
{
	char path[600];
	int saved, fd;
	ssize_t n;
	wh_err err;

	snprintf(path, sizeof(path), "%s/stderr", dir);
	fflush(stderr);
	saved = dup(2);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	err = identity_load(id, c, why, whylen);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, logged, loglen - 1, 0);
	logged[n > 0 ? n : 0] = '\0';
	close(fd);
	return err;
}

static void
test_unreadable_key_is_returned_not_logged(void **state)
{
	struct identity id = {0};
	char missing[600], why[512] = "", logged[1024];
	struct conf *c;

	(void)state;
	snprintf(missing, sizeof(missing), "%s/missing.key", dir);
	c = conf_with_key(missing);
	assert_int_equal(load_quietly(&id, c, why, sizeof(why), logged, sizeof(logged)),
			 WH_ERR_CONF);
	assert_non_null(strstr(why, "sign_batches: "));
	assert_non_null(strstr(why, missing));
	assert_string_equal(logged, ""); /* the caller logs it, once */
	assert_null(id.signer);
	identity_done(&id);
	conf_free(c);
}

static void
test_reload_with_a_broken_key_keeps_the_key(void **state)
{
	struct identity id = {0};
	struct crypto_signer *before;
	uint8_t fp[32];
	char why[512], logged[1024], broken[600];
	struct conf *c = conf_with_key(key), *c2;

	(void)state;
	assert_int_equal(load_quietly(&id, c, why, sizeof(why), logged, sizeof(logged)), WH_OK);
	assert_non_null(id.signer);
	before = id.signer;
	memcpy(fp, crypto_signer_fingerprint(id.signer), sizeof(fp));
	assert_false(identity_changed(&id, c));
	snprintf(broken, sizeof(broken), "%s",
		 tu_write(dir, "broken.key", "-----BEGIN EC PRIVATE KEY-----\nnot a key\n"));
	c2 = conf_with_key(broken);
	assert_true(identity_changed(&id, c2)); /* another file: a rotation */
	assert_int_equal(load_quietly(&id, c2, why, sizeof(why), logged, sizeof(logged)),
			 WH_ERR_CONF);
	assert_non_null(strstr(why, broken));
	assert_ptr_equal(id.signer, before);
	assert_memory_equal(crypto_signer_fingerprint(id.signer), fp, sizeof(fp));
	identity_done(&id);
	assert_null(id.signer);
	conf_free(c);
	conf_free(c2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unreadable_key_is_returned_not_logged),
		cmocka_unit_test(test_reload_with_a_broken_key_keeps_the_key),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
