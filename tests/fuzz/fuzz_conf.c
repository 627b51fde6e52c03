/* libFuzzer target: the configuration parser (inih plus the key table), on a file. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char path[64];

static void
remove_file(void)
{
	unlink(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	char err[512];
	FILE *f;

	if (path[0] == '\0') {
		snprintf(path, sizeof(path), "/tmp/whagent-fuzz-conf-%d", (int)getpid());
		atexit(remove_file);
	}
	f = fopen(path, "wb");
	if (f == NULL)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);
	if (conf_load(path, &c, err, sizeof(err)) == WH_OK) {
		FILE *null = fopen("/dev/null", "w");

		conf_print(c, null);
		fclose(null);
	}
	conf_free(c);
	return 0;
}
