/* Reading migration folders: order, names, checksums. */
#include "config.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "migrate.h"
#include "tap.h"

static char dir[] = "/tmp/tenantry-migrate-XXXXXX";

static void
write_file(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void
remove_file(const char *name)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
}

int
main(void)
{
	tn_migration_set set;
	char err[512];
	int rc;

	if (sodium_init() < 0 || mkdtemp(dir) == NULL) {
		return 1;
	}

	write_file("0002_second.sql", "SELECT 2;\n");
	write_file("0001_first.sql", "SELECT 1;\n");

	rc = tn_migrate_load(dir, &set, err, sizeof(err));
	ok(rc == 0 && set.count == 2, "two files load");
	if (rc == 0) {
		is_str(set.files[0].file, "0001_first.sql",
		    "files come in version order");
		is_str(set.files[0].version, "0001", "version is the prefix");
		is_str(set.files[1].sql, "SELECT 2;\n", "contents are read");
		/* sha256 of "SELECT 1;\n" */
		is_str(set.files[0].checksum,
		    "b4e0497804e46e0a0b0b8c31975b062152d551bac49c3c2e80932567b4085dcd",
		    "checksum is the sha256 of the file");
		tn_migrate_free(&set);
	}

	rc = tn_migrate_load(dir, &set, err, sizeof(err));
	if (rc == 0) {
		char first[65];

		ok(tn_migrate_newest(&set) == 2, "the newest version is 2");
		ok(strcmp(tn_migrate_digest(&set), set.files[1].digest) == 0 &&
		        strlen(set.files[1].digest) == 64 &&
		        strcmp(set.files[0].digest, set.files[1].digest) != 0,
		    "the folder's digest is its last file's");
		ok(!set.files[0].no_transaction,
		    "a file without the mark runs in a transaction");
		snprintf(first, sizeof(first), "%s", set.files[0].digest);
		tn_migrate_free(&set);

		write_file("0002_second.sql", "SELECT 22;\n");
		rc = tn_migrate_load(dir, &set, err, sizeof(err));
		ok(rc == 0 && strcmp(set.files[0].digest, first) == 0 &&
		        strcmp(tn_migrate_digest(&set), first) != 0,
		    "a changed file changes the digest from its version on");
		if (rc == 0) {
			tn_migrate_free(&set);
		}
		write_file("0002_second.sql", "SELECT 2;\n");
	}

	write_file("0003_index.sql",
	    "-- tenantry: no-transaction\n"
	    "CREATE INDEX CONCURRENTLY IF NOT EXISTS i ON t (c);\n");
	write_file("0004_not.sql", "-- tenantry: no-transactions\nSELECT 4;\n");
	write_file("0005_late.sql", "SELECT 5;\n-- tenantry: no-transaction\n");
	rc = tn_migrate_load(dir, &set, err, sizeof(err));
	ok(rc == 0 && set.count == 5 && set.files[2].no_transaction &&
	        !set.files[3].no_transaction && !set.files[4].no_transaction,
	    "only a first line that is the mark runs outside a transaction");
	if (rc == 0) {
		ok(tn_migrate_newest(&set) == 5, "the newest version is 5");
		tn_migrate_free(&set);
	}
	remove_file("0003_index.sql");
	remove_file("0004_not.sql");
	remove_file("0005_late.sql");

	set.count = 0;
	ok(tn_migrate_newest(&set) == 0 && tn_migrate_digest(&set)[0] == '\0',
	    "an empty folder has version 0 and an empty digest");

	write_file("0001_again.sql", "SELECT 3;\n");
	rc = tn_migrate_load(dir, &set, err, sizeof(err));
	ok(rc != 0 && strstr(err, "share a version") != NULL,
	    "two files with one version are refused: %s", err);
	remove_file("0001_again.sql");

	write_file("3_bad.sql", "SELECT 3;\n");
	rc = tn_migrate_load(dir, &set, err, sizeof(err));
	ok(rc != 0 && strstr(err, "3_bad.sql") != NULL,
	    "a badly named file is refused by name: %s", err);
	remove_file("3_bad.sql");

	rc = tn_migrate_load("/nonexistent/folder", &set, err, sizeof(err));
	ok(rc != 0 && strstr(err, "/nonexistent/folder") != NULL,
	    "a missing folder is named: %s", err);

	remove_file("0001_first.sql");
	remove_file("0002_second.sql");
	rmdir(dir);
	return done_testing();
}
