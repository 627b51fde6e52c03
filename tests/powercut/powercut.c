/* A simulated power cut for the tests, preloaded into the real daemon (LD_PRELOAD): a SQLite VFS
 * over the default unix one, registered as the default, that remembers what every write since a
 * file's last xSync overwrote, plus wrappers of rename, renameat, mkdir, fsync and fdatasync
 * that follow the directory entries. At operation number WH_POWERCUT_AT it puts the disk back as
 * a power loss would leave it and _exit()s at once. Test code only, never linked into the agent;
 * it needs the agent to link libsqlite3 dynamically (so both use one SQLite and its VFS list).
 *
 * The disk model, what survives the cut:
 * - A file's content as of its last xSync. Every write or truncation since is undone (the
 *   overwritten bytes are kept in memory, restored newest first; the size goes back to the
 *   synced size). A real disk may keep any part of the unsynced writes; keeping none is one
 *   admissible outcome, the one that loses the most data. (SQLite's own crash tests also keep
 *   or garble some unsynced sectors; this model does not.)
 * - A directory entry once its directory was fsynced. A file SQLite created is removed at the
 *   cut, content and all, unless its directory was fsynced after the creation (SQLite does so
 *   for the WAL and rollback journals it creates; a new database file rides on the WAL's).
 *   A rename is undone unless the directory holding the new name was fsynced after it; a file
 *   the rename replaced comes back (it is kept meanwhile as a hard link NEW.powercut-K). A
 *   directory made here (mkdir) goes, with all it holds, unless its parent was fsynced since.
 * - Deletions (xDelete, unlink) are taken as durable at once (the lenient direction: a deleted
 *   rollback journal or checkpointed WAL that came back would hold nothing SQLite has not
 *   already applied).
 * - The -shm is a memory map of the WAL index, never synced: it is deleted at the cut, and
 *   SQLite rebuilds it from the WAL at the next open.
 * - Only this process's operations: files others wrote (the spool's exports) stay as they are,
 *   as do files the agent wrote outside SQLite without renaming them. The agent's live-state
 *   file is renamed into place with no directory fsync on purpose (runtime state, not durable
 *   data): a cut brings back an older copy.
 *
 * Operations counted: xWrite, xTruncate, xSync and xDelete on SQLite's files (write, truncate,
 * sync, delete), rename and renameat (rename), mkdir, fsync and fdatasync of a directory
 * (dirsync).
 * The cut is taken instead of operation number WH_POWERCUT_AT, counting only operations of the
 * kind WH_POWERCUT_ON when set (WH_POWERCUT_AT unset or 0: only count, and print the count at
 * exit; WH_POWERCUT_TRACE set: print every operation). The cut prints a line on stderr, one per
 * rename undone, and exits with status 86. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CUT_STATUS 86

struct undo {
	struct undo *prev; /* the write before (older) */
	sqlite3_int64 off;
	int len;
	unsigned char bytes[];
};

/* One file by path, shared by every handle SQLite opens on it, kept after close. */
struct node {
	struct node *next;
	char *path;
	sqlite3_int64 synced_size;
	struct undo *undo; /* newest first */
	int created;	   /* created here, its directory not fsynced since */
	int main_db;
	dev_t dir_dev;
	ino_t dir_ino;
};

/* A directory this process made, its entry not yet durable (its parent not fsynced since). */
struct made {
	struct made *prev;
	char *path;
	dev_t dir_dev;
	ino_t dir_ino;
};

/* A rename not yet made durable by an fsync of the new name's directory. */
struct moved {
	struct moved *prev;
	char *from, *to, *backup; /* backup: what `to` held before, or NULL */
	dev_t dir_dev;
	ino_t dir_ino;
};

struct pc_file {
	sqlite3_file base;
	struct node *node; /* NULL: not followed (temporary files) */
			   /* the unix VFS's file follows */
};

#define REAL(f) ((sqlite3_file *)((struct pc_file *)(f) + 1))

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static sqlite3_vfs *real_vfs;
static sqlite3_vfs pc_vfs;
static struct node *nodes;
static struct moved *moves;
static struct made *made;
static unsigned long ops, kind_ops, cut_at, backups;
static const char *cut_on;
static int trace;
static int armed;

static int (*real_rename)(const char *, const char *);
static int (*real_renameat)(int, const char *, int, const char *);
static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static int (*real_mkdir)(const char *, mode_t);

static void
resolve(void)
{
	if (real_rename == NULL) {
		real_rename = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
		real_renameat =
			(int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
		real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
		real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
		real_mkdir = (int (*)(const char *, mode_t))dlsym(RTLD_NEXT, "mkdir");
	}
}

static char *
dup_str(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		abort(); /* a test tool: out of memory ends the test */
	return p;
}

/* The directory holding path: its device and inode. */
static void
dir_of(const char *path, dev_t *dev, ino_t *ino)
{
	char d[PATH_MAX];
	const char *slash = strrchr(path, '/');
	struct stat st;

	if (slash == NULL)
		snprintf(d, sizeof(d), ".");
	else
		snprintf(d, sizeof(d), "%.*s", (int)(slash - path) ? (int)(slash - path) : 1, path);
	*dev = 0;
	*ino = 0;
	if (stat(d, &st) == 0) {
		*dev = st.st_dev;
		*ino = st.st_ino;
	}
}

static void
free_undo(struct node *n)
{
	while (n->undo != NULL) {
		struct undo *u = n->undo;

		n->undo = u->prev;
		free(u);
	}
}

static int
remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* Puts every file back to what the disk holds after a power loss, then exits (mu held). */
static void
cut(const char *what, const char *path)
{
	int restored = 0, dropped = 0, undone = 0, unmade = 0;
	char shm[PATH_MAX + 8];

	for (struct node *n = nodes; n != NULL; n = n->next) {
		int fd;

		if (n->main_db) {
			snprintf(shm, sizeof(shm), "%s-shm", n->path);
			unlink(shm);
		}
		if (n->created) {
			dropped += unlink(n->path) == 0;
			continue;
		}
		if ((fd = open(n->path, O_WRONLY | O_CLOEXEC)) < 0)
			continue;
		for (struct undo *u = n->undo; u != NULL; u = u->prev)
			if (pwrite(fd, u->bytes, (size_t)u->len, (off_t)u->off) != u->len)
				break;
		if (ftruncate(fd, (off_t)n->synced_size) == 0)
			restored++;
		close(fd);
	}
	for (struct moved *m = moves; m != NULL; m = m->prev) {
		if (real_rename(m->to, m->from) != 0)
			continue;
		fprintf(stderr, "powercut: rename undone: %s back to %s\n", m->to, m->from);
		if (m->backup != NULL)
			real_rename(m->backup, m->to);
		undone++;
	}
	for (struct made *d = made; d != NULL; d = d->prev) /* with all they hold */
		unmade += nftw(d->path, remove_one, 16, FTW_DEPTH | FTW_PHYS) == 0;
	fprintf(stderr,
		"powercut: the cut, at operation %lu (%s %s): %d files put back to their last "
		"sync, "
		"%d created files dropped, %d renames undone, %d created folders dropped\n",
		ops, what, path, restored, dropped, undone, unmade);
	fflush(stderr);
	_exit(CUT_STATUS);
}

/* Counts an operation; the cut is taken instead of operation cut_at (of the kind cut_on when
 * set) (mu held). */
static void
op(const char *what, const char *path)
{
	ops++;
	if (trace)
		fprintf(stderr, "powercut: %lu %s %s\n", ops, what, path);
	if (cut_on == NULL || strcmp(what, cut_on) == 0)
		kind_ops++;
	if (cut_at != 0 && kind_ops == cut_at)
		cut(what, path);
}

static struct node *
node_get(const char *path)
{
	struct node *n;
	struct stat st;

	for (n = nodes; n != NULL; n = n->next)
		if (strcmp(n->path, path) == 0)
			return n;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		abort();
	n->path = dup_str(path);
	if (stat(path, &st) == 0)
		n->synced_size = st.st_size; /* what was there before this process is durable */
	dir_of(path, &n->dir_dev, &n->dir_ino);
	n->next = nodes;
	nodes = n;
	return n;
}

static void
node_forget(const char *path)
{
	for (struct node **p = &nodes; *p != NULL; p = &(*p)->next) {
		if (strcmp((*p)->path, path) == 0) {
			struct node *n = *p;

			*p = n->next;
			free_undo(n);
			free(n->path);
			free(n);
			return;
		}
	}
}

/* Keeps the bytes [off, off + len) of f that lie below its synced size (mu held). */
static int
keep(sqlite3_file *f, struct node *n, sqlite3_int64 off, sqlite3_int64 len)
{
	struct undo *u;
	int rc;

	if (off >= n->synced_size || len <= 0)
		return SQLITE_OK;
	if (len > n->synced_size - off)
		len = n->synced_size - off;
	if (len > INT_MAX)
		return SQLITE_IOERR_NOMEM;
	u = malloc(sizeof(*u) + (size_t)len);
	if (u == NULL)
		abort();
	u->off = off;
	u->len = (int)len;
	rc = REAL(f)->pMethods->xRead(REAL(f), u->bytes, (int)len, off);
	if (rc != SQLITE_OK && rc != SQLITE_IOERR_SHORT_READ) {
		free(u);
		return rc;
	}
	u->prev = n->undo;
	n->undo = u;
	return SQLITE_OK;
}

/* --- the file methods ---------------------------------------------------------------------- */

static int
pc_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int
pc_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int
pc_write(sqlite3_file *f, const void *buf, int amt, sqlite3_int64 off)
{
	struct node *n = ((struct pc_file *)f)->node;
	int rc;

	if (n == NULL)
		return REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
	pthread_mutex_lock(&mu);
	op("write", n->path);
	rc = keep(f, n, off, amt);
	if (rc == SQLITE_OK)
		rc = REAL(f)->pMethods->xWrite(REAL(f), buf, amt, off);
	pthread_mutex_unlock(&mu);
	return rc;
}

static int
pc_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	struct node *n = ((struct pc_file *)f)->node;
	int rc;

	if (n == NULL)
		return REAL(f)->pMethods->xTruncate(REAL(f), size);
	pthread_mutex_lock(&mu);
	op("truncate", n->path);
	rc = keep(f, n, size, n->synced_size - size);
	if (rc == SQLITE_OK)
		rc = REAL(f)->pMethods->xTruncate(REAL(f), size);
	pthread_mutex_unlock(&mu);
	return rc;
}

static int
pc_sync(sqlite3_file *f, int flags)
{
	struct node *n = ((struct pc_file *)f)->node;
	sqlite3_int64 size;
	int rc;

	if (n == NULL)
		return REAL(f)->pMethods->xSync(REAL(f), flags);
	pthread_mutex_lock(&mu);
	op("sync", n->path);
	pthread_mutex_unlock(&mu);
	/* unlocked: the unix VFS fsyncs the directory of a new journal here (our fsync) */
	rc = REAL(f)->pMethods->xSync(REAL(f), flags);
	if (rc == SQLITE_OK && REAL(f)->pMethods->xFileSize(REAL(f), &size) == SQLITE_OK) {
		pthread_mutex_lock(&mu);
		n->synced_size = size;
		free_undo(n);
		pthread_mutex_unlock(&mu);
	}
	return rc;
}

static int
pc_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int
pc_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int
pc_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int
pc_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int
pc_file_control(sqlite3_file *f, int op_, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op_, arg);
}

static int
pc_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int
pc_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int
pc_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}

static int
pc_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void
pc_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int
pc_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

/* Version 2: no xFetch, so SQLite reads through xRead, never through a memory map. */
static const sqlite3_io_methods pc_io = {
	2,
	pc_close,
	pc_read,
	pc_write,
	pc_truncate,
	pc_sync,
	pc_file_size,
	pc_lock,
	pc_unlock,
	pc_check_reserved,
	pc_file_control,
	pc_sector_size,
	pc_device_characteristics,
	pc_shm_map,
	pc_shm_lock,
	pc_shm_barrier,
	pc_shm_unmap,
	NULL,
	NULL,
};

/* --- the VFS ------------------------------------------------------------------------------- */

static int
pc_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
	struct pc_file *p = (struct pc_file *)f;
	int follow = name != NULL && !(flags & SQLITE_OPEN_DELETEONCLOSE) &&
		     (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL |
			       SQLITE_OPEN_SUPER_JOURNAL));
	int existed = name != NULL && access(name, F_OK) == 0, rc;

	(void)vfs;
	memset(p, 0, sizeof(*p));
	REAL(f)->pMethods = NULL;
	rc = real_vfs->xOpen(real_vfs, name, REAL(f), flags, out_flags);
	if (rc != SQLITE_OK) {
		if (REAL(f)->pMethods != NULL)
			REAL(f)->pMethods->xClose(REAL(f));
		return rc;
	}
	f->pMethods = &pc_io;
	if (!follow || !armed)
		return SQLITE_OK;
	pthread_mutex_lock(&mu);
	p->node = node_get(name);
	if (!existed) {
		p->node->created = 1;
		p->node->synced_size = 0;
		free_undo(p->node);
	}
	if (flags & SQLITE_OPEN_MAIN_DB)
		p->node->main_db = 1;
	pthread_mutex_unlock(&mu);
	return SQLITE_OK;
}

static int
pc_delete(sqlite3_vfs *vfs, const char *name, int sync_dir)
{
	(void)vfs;
	if (armed) {
		pthread_mutex_lock(&mu);
		op("delete", name);
		node_forget(name);
		pthread_mutex_unlock(&mu);
	}
	return real_vfs->xDelete(real_vfs, name, sync_dir);
}

static int
pc_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
	(void)vfs;
	return real_vfs->xAccess(real_vfs, name, flags, out);
}

static int
pc_full_pathname(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
	(void)vfs;
	return real_vfs->xFullPathname(real_vfs, name, n, out);
}

static void *
pc_dl_open(sqlite3_vfs *vfs, const char *name)
{
	(void)vfs;
	return real_vfs->xDlOpen(real_vfs, name);
}

static void
pc_dl_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	real_vfs->xDlError(real_vfs, n, msg);
}

static void (*pc_dl_sym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
	(void)vfs;
	return real_vfs->xDlSym(real_vfs, h, sym);
}

static void
pc_dl_close(sqlite3_vfs *vfs, void *h)
{
	(void)vfs;
	real_vfs->xDlClose(real_vfs, h);
}

static int
pc_randomness(sqlite3_vfs *vfs, int n, char *out)
{
	(void)vfs;
	return real_vfs->xRandomness(real_vfs, n, out);
}

static int
pc_sleep(sqlite3_vfs *vfs, int us)
{
	(void)vfs;
	return real_vfs->xSleep(real_vfs, us);
}

static int
pc_current_time(sqlite3_vfs *vfs, double *t)
{
	(void)vfs;
	return real_vfs->xCurrentTime(real_vfs, t);
}

static int
pc_last_error(sqlite3_vfs *vfs, int n, char *msg)
{
	(void)vfs;
	return real_vfs->xGetLastError(real_vfs, n, msg);
}

static int
pc_current_time64(sqlite3_vfs *vfs, sqlite3_int64 *t)
{
	(void)vfs;
	return real_vfs->xCurrentTimeInt64(real_vfs, t);
}

/* --- rename and directory fsync ------------------------------------------------------------ */

/* dirfd + name as a path from the root (or as given when it cannot tell). */
static void
abs_path(int dirfd, const char *name, char *out, size_t len)
{
	char link[64], dir[PATH_MAX];
	ssize_t n;

	if (name[0] == '/') {
		snprintf(out, len, "%s", name);
		return;
	}
	if (dirfd == AT_FDCWD) {
		if (getcwd(dir, sizeof(dir)) == NULL)
			dir[0] = '\0';
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		n = readlink(link, dir, sizeof(dir) - 1);
		dir[n > 0 ? n : 0] = '\0';
	}
	snprintf(out, len, "%s/%s", dir, name);
}

static int
do_rename(int ofd, const char *from, int nfd, const char *to)
{
	char afrom[PATH_MAX], ato[PATH_MAX], backup[PATH_MAX + 32];
	struct moved *m;
	struct stat st;
	int rc, have_backup = 0, e;

	resolve();
	if (!armed)
		return real_renameat(ofd, from, nfd, to);
	pthread_mutex_lock(&mu);
	abs_path(ofd, from, afrom, sizeof(afrom));
	abs_path(nfd, to, ato, sizeof(ato));
	op("rename", ato);
	if (lstat(ato, &st) == 0 && S_ISREG(st.st_mode)) {
		snprintf(backup, sizeof(backup), "%s.powercut-%lu", ato, ++backups);
		have_backup = link(ato, backup) == 0;
	}
	rc = real_renameat(ofd, from, nfd, to);
	e = errno;
	if (rc != 0) {
		if (have_backup)
			unlink(backup);
	} else {
		m = calloc(1, sizeof(*m));
		if (m == NULL)
			abort();
		m->from = dup_str(afrom);
		m->to = dup_str(ato);
		m->backup = have_backup ? dup_str(backup) : NULL;
		dir_of(ato, &m->dir_dev, &m->dir_ino);
		m->prev = moves;
		moves = m;
	}
	pthread_mutex_unlock(&mu);
	errno = e;
	return rc;
}

int
rename(const char *from, const char *to)
{
	return do_rename(AT_FDCWD, from, AT_FDCWD, to);
}

int
renameat(int ofd, const char *from, int nfd, const char *to)
{
	return do_rename(ofd, from, nfd, to);
}

int
mkdir(const char *path, mode_t mode)
{
	char apath[PATH_MAX];
	struct made *d;
	size_t len;
	int rc, e;

	resolve();
	if (!armed)
		return real_mkdir(path, mode);
	pthread_mutex_lock(&mu);
	abs_path(AT_FDCWD, path, apath, sizeof(apath));
	while ((len = strlen(apath)) > 1 && apath[len - 1] == '/')
		apath[len - 1] = '\0';
	op("mkdir", apath);
	rc = real_mkdir(path, mode);
	e = errno;
	if (rc == 0) {
		d = calloc(1, sizeof(*d));
		if (d == NULL)
			abort();
		d->path = dup_str(apath);
		dir_of(apath, &d->dir_dev, &d->dir_ino);
		d->prev = made;
		made = d;
	}
	pthread_mutex_unlock(&mu);
	errno = e;
	return rc;
}

/* What an fsync of a directory makes durable: the names in it (mu held). */
static void
dir_synced(const struct stat *d)
{
	for (struct made **p = &made; *p != NULL;) {
		struct made *m = *p;

		if (m->dir_dev == d->st_dev && m->dir_ino == d->st_ino) {
			*p = m->prev;
			free(m->path);
			free(m);
		} else {
			p = &m->prev;
		}
	}
	for (struct node *n = nodes; n != NULL; n = n->next)
		if (n->dir_dev == d->st_dev && n->dir_ino == d->st_ino)
			n->created = 0;
	for (struct moved **p = &moves; *p != NULL;) {
		struct moved *m = *p;

		if (m->dir_dev == d->st_dev && m->dir_ino == d->st_ino) {
			*p = m->prev;
			if (m->backup != NULL)
				unlink(m->backup);
			free(m->from);
			free(m->to);
			free(m->backup);
			free(m);
		} else {
			p = &m->prev;
		}
	}
}

static int
do_sync(int fd, int (*real)(int))
{
	struct stat st;
	char path[PATH_MAX];
	int rc, e;

	if (!armed || fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode))
		return real(fd);
	pthread_mutex_lock(&mu);
	abs_path(fd, ".", path, sizeof(path));
	op("dirsync", path);
	rc = real(fd);
	e = errno;
	if (rc == 0)
		dir_synced(&st);
	pthread_mutex_unlock(&mu);
	errno = e;
	return rc;
}

int
fsync(int fd)
{
	resolve();
	return do_sync(fd, real_fsync);
}

int
fdatasync(int fd)
{
	resolve();
	return do_sync(fd, real_fdatasync);
}

/* --- loading ------------------------------------------------------------------------------- */

__attribute__((constructor)) static void
powercut_init(void)
{
	const char *at = getenv("WH_POWERCUT_AT");
	char *end;

	trace = getenv("WH_POWERCUT_TRACE") != NULL;
	cut_on = getenv("WH_POWERCUT_ON");
	if (cut_on != NULL && cut_on[0] == '\0')
		cut_on = NULL;

	resolve();
	real_vfs = sqlite3_vfs_find(NULL);
	if (real_vfs == NULL) {
		fprintf(stderr, "powercut: no default SQLite VFS\n");
		_exit(2);
	}
	if (at != NULL && at[0] != '\0') {
		errno = 0;
		cut_at = strtoul(at, &end, 10);
		if (errno != 0 || *end != '\0') {
			fprintf(stderr, "powercut: WH_POWERCUT_AT=%s is not a number\n", at);
			_exit(2);
		}
	}
	pc_vfs.iVersion = 2;
	pc_vfs.szOsFile = (int)sizeof(struct pc_file) + real_vfs->szOsFile;
	pc_vfs.mxPathname = real_vfs->mxPathname;
	pc_vfs.zName = "powercut";
	pc_vfs.xOpen = pc_open;
	pc_vfs.xDelete = pc_delete;
	pc_vfs.xAccess = pc_access;
	pc_vfs.xFullPathname = pc_full_pathname;
	pc_vfs.xDlOpen = pc_dl_open;
	pc_vfs.xDlError = pc_dl_error;
	pc_vfs.xDlSym = pc_dl_sym;
	pc_vfs.xDlClose = pc_dl_close;
	pc_vfs.xRandomness = pc_randomness;
	pc_vfs.xSleep = pc_sleep;
	pc_vfs.xCurrentTime = pc_current_time;
	pc_vfs.xGetLastError = pc_last_error;
	pc_vfs.xCurrentTimeInt64 = pc_current_time64;
	if (sqlite3_vfs_register(&pc_vfs, 1) != SQLITE_OK) {
		fprintf(stderr, "powercut: cannot register the VFS\n");
		_exit(2);
	}
	armed = 1;
}

__attribute__((destructor)) static void
powercut_fini(void)
{
	if (armed && cut_at == 0)
		fprintf(stderr, "powercut: %lu operations, no cut\n", ops);
}
