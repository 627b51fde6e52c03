/* The live-state file: its path, its JSON format, its atomic rewrite and its reading. */
#include "livestate.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

#define LIVESTATE_MAX_BYTES 4096 /* a document is well under 1 KiB */

wh_err
livestate_path(const char *state_dir, const char *journal_id, char *buf, size_t len)
{
	const char *dir = getenv("RUNTIME_DIRECTORY");
	size_t dirlen;
	int n;

	if (dir == NULL || dir[0] == '\0')
		dir = state_dir;
	dirlen = strcspn(dir, ":"); /* systemd separates several directories with ':' */
	n = snprintf(buf, len, "%.*s/live-%s.json", (int)dirlen, dir, journal_id);
	return n < 0 || (size_t)n >= len ? WH_ERR_INVAL : WH_OK;
}

static cJSON *
to_json(const struct livestate *ls)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	if (cJSON_AddNumberToObject(o, "pid", (double)ls->pid) == NULL ||
	    cJSON_AddStringToObject(o, "mqtt", ls->mqtt) == NULL ||
	    cJSON_AddNumberToObject(o, "since_ms", (double)ls->since_ms) == NULL ||
	    cJSON_AddNumberToObject(o, "down_since_ms", (double)ls->down_since_ms) == NULL ||
	    cJSON_AddNumberToObject(o, "last_connect_ms", (double)ls->last_connect_ms) == NULL ||
	    cJSON_AddStringToObject(o, "last_error", ls->last_error) == NULL ||
	    cJSON_AddNumberToObject(o, "last_error_ms", (double)ls->last_error_ms) == NULL ||
	    cJSON_AddBoolToObject(o, "error_current", ls->error_current) == NULL ||
	    cJSON_AddNumberToObject(o, "inflight", ls->inflight) == NULL ||
	    cJSON_AddNumberToObject(o, "backfill_through", (double)ls->backfill_through) == NULL ||
	    cJSON_AddNumberToObject(o, "written_ms", (double)ls->written_ms) == NULL ||
	    cJSON_AddStringToObject(o, "alarms", ls->alarms) == NULL ||
	    cJSON_AddStringToObject(o, "inputs", ls->inputs) == NULL) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Writes all of text to a new file tmp. */
static wh_err
write_file(const char *tmp, const char *text)
{
	size_t len = strlen(text), done = 0;
	wh_err err = WH_OK;
	ssize_t n;
	int fd;

	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0)
		return WH_ERR_IO;
	while (done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = WH_ERR_IO;
			break;
		}
		done += (size_t)n;
	}
	if (close(fd) != 0)
		err = WH_ERR_IO;
	return err;
}

wh_err
livestate_write(const char *path, const struct livestate *ls)
{
	char tmp[4200];
	cJSON *o = NULL;
	char *text = NULL;
	wh_err err = WH_ERR_NOMEM;
	int n, saved;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		err = WH_ERR_IO;
		goto out;
	}
	if ((o = to_json(ls)) == NULL || (text = cJSON_PrintUnformatted(o)) == NULL)
		goto out;
	err = write_file(tmp, text);
	if (err == WH_OK && rename(tmp, path) != 0)
		err = WH_ERR_IO;
	if (err != WH_OK) {
		saved = errno;
		unlink(tmp);
		errno = saved;
	}
out:
	cJSON_free(text);
	cJSON_Delete(o);
	return err;
}

static int64_t
get_int(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? (int64_t)v->valuedouble : 0;
}

static void
get_text(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	snprintf(buf, len, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

static void
from_json(const cJSON *o, struct livestate *ls)
{
	int64_t n;

	ls->pid = (long)get_int(o, "pid");
	get_text(o, "mqtt", ls->mqtt, sizeof(ls->mqtt));
	ls->since_ms = get_int(o, "since_ms");
	ls->down_since_ms = get_int(o, "down_since_ms");
	ls->last_connect_ms = get_int(o, "last_connect_ms");
	get_text(o, "last_error", ls->last_error, sizeof(ls->last_error));
	ls->last_error_ms = get_int(o, "last_error_ms");
	ls->error_current = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "error_current"));
	n = get_int(o, "inflight");
	ls->inflight = n > 0 && n < 1000000 ? (int)n : 0;
	n = get_int(o, "backfill_through");
	ls->backfill_through = n > 0 ? (uint64_t)n : 0;
	ls->written_ms = get_int(o, "written_ms");
	get_text(o, "alarms", ls->alarms, sizeof(ls->alarms));
	get_text(o, "inputs", ls->inputs, sizeof(ls->inputs));
}

/* Reads the whole file at path (up to LIVESTATE_MAX_BYTES) into buf. */
static wh_err
read_file(const char *path, char *buf, size_t cap, size_t *ret_len)
{
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	wh_err err = WH_OK;

	if (fd < 0)
		return errno == ENOENT ? WH_ERR_NOTFOUND : WH_ERR_IO;
	while (len < cap) {
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = WH_ERR_IO;
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	if (err == WH_OK && len == cap)
		err = WH_ERR_INVAL; /* larger than any live-state document */
	if (err == WH_OK)
		*ret_len = len;
	return err;
}

wh_err
livestate_read(const char *path, struct livestate *ret)
{
	char *buf = wh_malloc(LIVESTATE_MAX_BYTES);
	cJSON *o = NULL;
	size_t len = 0;
	wh_err err = WH_ERR_NOMEM;

	memset(ret, 0, sizeof(*ret));
	if (buf == NULL)
		goto out;
	if ((err = read_file(path, buf, LIVESTATE_MAX_BYTES, &len)) != WH_OK)
		goto out;
	o = cJSON_ParseWithLength(buf, len);
	if (!cJSON_IsObject(o) || !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(o, "mqtt"))) {
		err = WH_ERR_INVAL;
		goto out;
	}
	from_json(o, ret);
	err = WH_OK;
out:
	cJSON_Delete(o);
	wh_free(buf);
	return err;
}
