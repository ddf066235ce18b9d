# tenantctl migrate: control plane then tenants, recorded with checksums,
# changed or missing applied files refused. Runs in a database of its own.
use strict;
use warnings;

use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;

use Tenantry::Test;

my $s = stack();
my $tenantctl = "$s->{build}/app/tenantctl";
my $db = 'migrate_' . $$;
my $role = "t_mig$$";
my $dir = tempdir('tenantry-migrate-XXXXXX', TMPDIR => 1, CLEANUP => 1);

plan skip_all => "$tenantctl is not built" unless -x $tenantctl;

END {
    if ($s) {
        psql("DROP DATABASE IF EXISTS $db", user => 'postgres');
        psql("DROP ROLE IF EXISTS $role", user => 'postgres');
    }
}

sub migrate {
    return capture([$tenantctl, 'migrate'],
        TENANTRY_DATABASE_URL => "host=$s->{pghost} dbname=$db user=tenantry",
        TENANTRY_DB_DIR => $dir);
}

sub in_db {
    my ($sql, %opt) = @_;
    return psql($sql, dbname => $db, %opt);
}

# a copy of the project's migrations that the test may change
for my $part (qw(public tenant)) {
    make_path("$dir/$part");
    copy($_, "$dir/$part/") or die "copy $_: $!"
        for glob "$s->{top}/db/$part/*.sql";
}

my ($rc, $out) = psql(<<"SQL", user => 'postgres');
CREATE DATABASE $db OWNER tenantry;
\\c $db
ALTER SCHEMA public OWNER TO tenantry;
SQL
is $rc, 0, 'a scratch database is created' or diag $out;

($rc, $out) = migrate();
is $rc, 0, 'the control plane migrates into an empty database' or diag $out;
like $out, qr/^public: \d+ applied$/m, 'the control plane is reported';

($rc, $out) = in_db(<<"SQL");
CREATE ROLE $role NOLOGIN NOINHERIT;
GRANT $role TO tenantry;
CREATE SCHEMA $role AUTHORIZATION $role;
INSERT INTO tenants (subdomain, name, status, schema_name, role_name)
VALUES ('mig', 'Migrated', 'active', '$role', '$role');
SQL
is $rc, 0, 'a tenant with an empty schema is added' or diag $out;

my @tenant_files = map { m{([^/]+)\z} } sort glob "$dir/tenant/*.sql";
my $files = @tenant_files;

($rc, $out) = migrate();
is $rc, 0, 'migrate runs' or diag $out;
like $out, qr/^public: 0 applied$/m, 'nothing more for the control plane';
like $out, qr/^$role: $files applied$/m, 'the tenant schema gets every file';

($rc, $out) = in_db("SELECT tableowner FROM pg_tables"
    . " WHERE schemaname = '$role' AND tablename = 'users'");
is $out, $role, 'tenant tables belong to the tenant role';

($rc, $out) = in_db("SELECT count(*), min(length(checksum))"
    . " FROM schema_migrations WHERE schema_name = '$role'");
is $out, "$files|64", 'the applied files are recorded with their sha256';

write_file("$dir/tenant/0099_notes.sql",
    "CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);\n");
($rc, $out) = migrate();
is $rc, 0, 'a new tenant migration applies' or diag $out;
like $out, qr/^$role: 1 applied$/m, 'only the new file runs';

($rc, $out) = in_db("SELECT file FROM schema_migrations"
    . " WHERE schema_name = '$role' ORDER BY version");
is $out, join("\n", @tenant_files, '0099_notes.sql'),
    'every file is recorded, the new one last';

($rc, $out) = migrate();
is $rc, 0, 'running it again succeeds';
like $out, qr/^$role: 0 applied$/m, 'and applies nothing';

write_file("$dir/tenant/0099_notes.sql",
    "CREATE TABLE notes (id bigint PRIMARY KEY);\n");
($rc, $out) = migrate();
isnt $rc, 0, 'a changed applied file fails the run';
like $out, qr/0099_notes\.sql applied to schema "$role" has changed/,
    'the message names the file and the schema';

unlink "$dir/tenant/0099_notes.sql";
($rc, $out) = migrate();
isnt $rc, 0, 'a missing applied file fails the run';
like $out, qr/0099_notes\.sql applied to schema "$role" is missing/,
    'the message names the missing file and the schema';

write_file("$dir/tenant/0099_broken.sql", "CREATE TABLE oops (;\n");
in_db("DELETE FROM schema_migrations WHERE version = '0099';"
    . " SET ROLE $role; DROP TABLE $role.notes;");
($rc, $out) = migrate();
isnt $rc, 0, 'a failing migration fails the run';
like $out, qr/0099_broken\.sql on schema "$role".*syntax error/,
    'the error names the file, the schema and the cause';
($rc, $out) = in_db("SELECT count(*) FROM schema_migrations"
    . " WHERE schema_name = '$role' AND version = '0099'");
is $out, '0', 'a failed file is not recorded';
($rc, $out) = in_db("SELECT count(*) FROM pg_tables"
    . " WHERE schemaname = '$role' AND tablename = 'oops'");
is $out, '0', 'and leaves nothing behind';

done_testing();
