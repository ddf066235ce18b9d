/*
 * Fuzzes the migration reader on a folder made from the input: regular
 * files, directories, FIFOs and symbolic links under any name. A folder
 * is loaded whole or refused whole: bad names, anything but a regular
 * file, a file outside the folder, a NUL byte or a shared version.
 */
#include "config.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "fuzz.h"
#include "migrate.h"

#define MAX_ENTRIES 12

enum { REGULAR, LINK_OUTSIDE, DIRECTORY, FIFO, LINK_INSIDE, KINDS };

typedef struct {
	int kind;
	char name[256];
	char *sql;
	size_t len;
} entry;

static char base[256], folder[300], outside[320];

static void
remove_base(void)
{
	rmdir(folder);
	unlink(outside);
	rmdir(base);
}

/* The folder lives as long as the process; each input empties it. */
static void
make_base(void)
{
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	snprintf(base, sizeof(base), "%s/tenantry-fuzz-migrate.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(base) != NULL, "a scratch folder");
	snprintf(folder, sizeof(folder), "%s/db", base);
	FUZZ_CHECK(mkdir(folder, 0700) == 0, "the migrations folder");
	snprintf(outside, sizeof(outside), "%s/0001_outside.sql", base);
	f = fopen(outside, "w");
	FUZZ_CHECK(f != NULL, "a file outside the folder");
	fputs("SELECT 'outside the folder';\n", f);
	fclose(f);
	atexit(remove_base);
}

static void
empty_folder(void)
{
	struct dirent *de;
	char path[512];
	DIR *d = opendir(folder);

	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0) {
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", folder, de->d_name);
		if (unlink(path) != 0) {
			rmdir(path);
		}
	}
	closedir(d);
}

/* NNNN_name.sql with name [a-z0-9_]+, shorter than 128 bytes. */
static int
reference_name(const char *name)
{
	size_t len = strlen(name);

	return len >= 10 && len < 128 && strspn(name, "0123456789") >= 4 &&
	    name[4] == '_' &&
	    strspn(name + 5, "abcdefghijklmnopqrstuvwxyz0123456789_") ==
	    len - 9 &&
	    strcmp(name + len - 4, ".sql") == 0;
}

/* Reads entries: kind byte, name, newline, contents; NUL between. */
static int
parse_entries(const uint8_t *data, size_t size, entry *entries)
{
	const uint8_t *p = data, *end = data + size, *stop, *nl;
	int n = 0, i;

	while (p < end && n < MAX_ENTRIES) {
		entry *e = &entries[n];
		size_t namelen;

		stop = memchr(p, '\0', (size_t)(end - p));
		stop = stop ? stop : end;
		if (stop == p) {
			p++;
			continue;
		}
		e->kind = (p[0] & 0x7f) % KINDS;
		nl = memchr(p + 1, '\n', (size_t)(stop - p - 1));
		nl = nl ? nl : stop;
		namelen = (size_t)(nl - p - 1);
		if (namelen == 0 || namelen >= sizeof(e->name)) {
			p = stop + 1;
			continue;
		}
		memcpy(e->name, p + 1, namelen);
		e->name[namelen] = '\0';
		for (i = 0; (size_t)i < namelen; i++) {
			e->name[i] = e->name[i] == '/' ? '_' : e->name[i];
		}
		e->len = nl < stop ? (size_t)(stop - nl - 1) : 0;
		e->sql = fuzz_string(nl < stop ? nl + 1 : stop, e->len);
		/* a kind byte with the top bit turns \x01 into NUL bytes */
		for (i = 0; (size_t)i < e->len && (p[0] & 0x80); i++) {
			e->sql[i] = e->sql[i] == 1 ? '\0' : e->sql[i];
		}
		for (i = 0; i < n; i++) {
			if (strcmp(entries[i].name, e->name) == 0) {
				break;
			}
		}
		if (i < n || strcmp(e->name, ".") == 0 ||
		    strcmp(e->name, "..") == 0) {
			free(e->sql);
		} else {
			n++;
		}
		p = stop + 1;
	}
	return n;
}

/* Makes the entry; returns its sql for a file the loader may take. */
static int
create(entry *e, const entry *entries, int n)
{
	char path[512], target[512];
	int fd, i;

	snprintf(path, sizeof(path), "%s/%s", folder, e->name);
	switch (e->kind) {
	case REGULAR:
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		FUZZ_CHECK(
		    fd >= 0 && write(fd, e->sql, e->len) == (ssize_t)e->len,
		    "writing a migration");
		close(fd);
		return 1;
	case LINK_OUTSIDE:
		snprintf(target, sizeof(target), "../0001_outside.sql");
		return symlink(target, path) == 0;
	case DIRECTORY:
		return mkdir(path, 0700) == 0;
	case FIFO:
		return mkfifo(path, 0600) == 0;
	default:
		/* to the first regular file made before it */
		for (i = 0; i < n && entries[i].kind != REGULAR; i++) {
		}
		if (i == n || &entries[i] == e) {
			return 0;
		}
		free(e->sql);
		e->sql = malloc(entries[i].len + 1);
		memcpy(e->sql, entries[i].sql, entries[i].len + 1);
		e->len = entries[i].len;
		return symlink(entries[i].name, path) == 0;
	}
}

/* Reading a folder never waits on anything (a FIFO): no signal ends it. */
static void
waited(int sig)
{
	static const char says[] = "fuzz: the migration reader waited on a "
	                           "FIFO for 5 seconds\n";

	(void)sig;
	if (write(2, says, sizeof(says) - 1) < 0) {
		abort();
	}
	abort();
}

/* Loads the folder under a 5 s guard, then gives libFuzzer its timer. */
static int
load_guarded(tn_migration_set *set, char *err, size_t errlen)
{
	struct itimerval guard = {{0, 0}, {5, 0}}, saved;
	struct sigaction sa, old;
	int rc;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = waited;
	sigaction(SIGALRM, &sa, &old);
	setitimer(ITIMER_REAL, &guard, &saved);
	rc = tn_migrate_load(folder, set, err, errlen);
	setitimer(ITIMER_REAL, &saved, NULL);
	sigaction(SIGALRM, &old, NULL);
	return rc;
}

static int
by_name(const void *a, const void *b)
{
	return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

/* Checks a loaded set against the entries that were made. */
static void
check_set(const tn_migration_set *set, entry *made, int n)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char hex[65];
	size_t i;

	FUZZ_CHECK(set->count == (size_t)n, "every file is loaded");
	qsort(made, (size_t)n, sizeof(entry), by_name);
	for (i = 0; i < set->count; i++) {
		const tn_migration *m = &set->files[i];

		FUZZ_CHECK(strcmp(m->file, made[i].name) == 0,
		    "files come in version order");
		FUZZ_CHECK(strncmp(m->version, m->file, 4) == 0 &&
		        strlen(m->version) == 4,
		    "the version is the name's first four digits");
		FUZZ_CHECK(
		    i == 0 || strcmp(m->version, set->files[i - 1].version) > 0,
		    "versions differ");
		FUZZ_CHECK(strlen(m->sql) == made[i].len &&
		        memcmp(m->sql, made[i].sql, made[i].len) == 0,
		    "the sql is the file's, and only files of the folder are read");
		crypto_hash_sha256(
		    hash, (const unsigned char *)made[i].sql, made[i].len);
		sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
		FUZZ_CHECK(strcmp(m->checksum, hex) == 0,
		    "the checksum is the SHA-256 of the file");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	entry entries[MAX_ENTRIES], kept[MAX_ENTRIES];
	tn_migration_set set;
	int n, i, k, nkept = 0, refuse = 0;
	char err[512] = "";

	if (base[0] == '\0') {
		make_base();
	}
	n = parse_entries(data, size, entries);
	for (i = 0; i < n; i++) {
		if (!create(&entries[i], entries, n)) {
			continue;
		}
		if (entries[i].name[0] == '.') {
			continue;
		}
		refuse |= !reference_name(entries[i].name) ||
		    entries[i].kind == LINK_OUTSIDE ||
		    entries[i].kind == DIRECTORY || entries[i].kind == FIFO ||
		    memchr(entries[i].sql, '\0', entries[i].len) != NULL;
		for (k = 0; k < nkept; k++) {
			refuse |=
			    strncmp(kept[k].name, entries[i].name, 4) == 0;
		}
		kept[nkept++] = entries[i];
	}

	if (load_guarded(&set, err, sizeof(err)) == 0) {
		FUZZ_CHECK(!refuse, "a bad folder is refused");
		check_set(&set, kept, nkept);
		tn_migrate_free(&set);
	} else {
		FUZZ_CHECK(refuse, "a good folder is loaded");
		FUZZ_CHECK(*err != '\0', "a refusal names its reason");
		FUZZ_CHECK(set.count == 0 && set.files == NULL,
		    "a refused folder loads nothing");
	}

	empty_folder();
	for (i = 0; i < n; i++) {
		free(entries[i].sql);
	}
	return 0;
}
