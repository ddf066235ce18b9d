# tenantctl migrate over many tenants (--jobs, --json, --dry-run,
# --fail-fast, two migrators at once, no-transaction files), tenantd's
# refusal of a tenant whose schema is behind, and tenantctl exec. Ten
# tenants in a database of their own, with a copy of the migrations.
use strict;
use warnings;

use File::Copy qw(copy);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

use Tenantry::Test;

my $s = stack();
my $tenantctl = "$s->{build}/app/tenantctl";
my $db = 'many_' . $$;
my $dir = tempdir('tenantry-many-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my @subs = map { sprintf 'many%dn%02d', $$, $_ } 1 .. 10;
my %schema = map { $_ => "t_$_" } @subs;
my $dburl = "host=$s->{pghost} dbname=$db user=tenantry";

plan skip_all => "$tenantctl is not built" unless -x $tenantctl;

chmod 0755, $dir;

END {
    if ($s) {
        psql("DROP DATABASE IF EXISTS $db", user => 'postgres');
        psql(join('', map { "DROP ROLE IF EXISTS $schema{$_};\n" } @subs),
            user => 'postgres');
    }
}

sub tenantctl {
    my (@args) = @_;
    return capture([$tenantctl, @args],
        TENANTRY_DATABASE_URL => $dburl, TENANTRY_DB_DIR => $dir);
}

# Runs tenantctl with --json; returns the exit code, the report (or {})
# and the whole output for diagnostics.
sub tenantctl_json {
    my (@args) = @_;
    my $pid = open(my $out, '-|') // die "fork: $!";

    if ($pid == 0) {
        $ENV{TENANTRY_DATABASE_URL} = $dburl;
        $ENV{TENANTRY_DB_DIR} = $dir;
        open STDIN, '<', '/dev/null';
        open STDERR, '>', '/dev/null';
        exec $tenantctl, @args, '--json' or POSIX::_exit(127);
    }
    local $/;
    my $text = <$out> // '';
    close $out;
    my $rc = $? >> 8;
    my $report = eval { decode_json($text) } || {};
    return ($rc, $report, $text);
}

sub in_db {
    my ($sql, %opt) = @_;
    return psql($sql, dbname => $db, %opt);
}

# The report's entries by subdomain.
sub by_sub {
    my ($report) = @_;
    return { map { $_->{subdomain} => $_ } @{ $report->{tenants} || [] } };
}

# Each tenant's recorded schema version, "sub=version" joined by spaces.
sub versions {
    my ($rc, $out) = in_db("SELECT string_agg(subdomain || '='"
        . " || schema_version, ' ' ORDER BY subdomain) FROM tenants");
    return $out;
}

sub all_at {
    my ($version) = @_;
    return join ' ', map { "$_=$version" } @subs;
}

# How many of the ten schemas have a constraint (or an index) so named.
sub schemas_with_constraint {
    my ($name) = @_;
    my ($rc, $out) = in_db("SELECT count(*) FROM pg_constraint c"
        . " JOIN pg_namespace n ON n.oid = c.connamespace"
        . " WHERE c.conname = '$name' AND n.nspname LIKE 't_many$$%'");
    return $out;
}

sub schemas_with_valid_index {
    my ($name) = @_;
    my ($rc, $out) = in_db("SELECT count(*) FROM pg_index i"
        . " JOIN pg_class c ON c.oid = i.indexrelid"
        . " JOIN pg_namespace n ON n.oid = c.relnamespace"
        . " WHERE c.relname = '$name' AND i.indisvalid"
        . " AND n.nspname LIKE 't_many$$%'");
    return $out;
}

sub history_rows {
    my ($version) = @_;
    my ($rc, $out) = in_db("SELECT count(*) FROM schema_migrations"
        . " WHERE version = '$version' AND schema_name LIKE 't_many$$%'");
    return $out;
}

for my $part (qw(public tenant)) {
    make_path("$dir/$part");
    copy($_, "$dir/$part/") or die "copy $_: $!"
        for glob "$s->{top}/db/$part/*.sql";
}
my ($newest) = map { m{/(\d{4})_[^/]+\z} } (sort glob "$dir/tenant/*.sql")[-1];
my $v = $newest + 0;
my $next = sub { sprintf '%04d', $v + $_[0] };

my ($rc, $out) = psql(<<"SQL", user => 'postgres');
CREATE DATABASE $db OWNER tenantry;
\\c $db
ALTER SCHEMA public OWNER TO tenantry;
SQL
is $rc, 0, 'a scratch database is created' or diag $out;

($rc, $out) = tenantctl('migrate');
is $rc, 0, 'the control plane migrates into an empty database' or diag $out;
like $out, qr/^0 tenants: 0 migrated/m, 'with no tenant yet';

# ten tenants with empty schemas, as onboarding leaves them before the
# schema step
($rc, $out) = in_db(join '', map { <<"SQL" } @subs);
CREATE ROLE $schema{$_} NOLOGIN NOINHERIT;
GRANT $schema{$_} TO tenantry;
CREATE SCHEMA $schema{$_} AUTHORIZATION $schema{$_};
INSERT INTO tenants (subdomain, name, status, schema_name, role_name)
VALUES ('$_', 'Tenant $_', 'active', '$schema{$_}', '$schema{$_}');
SQL
is $rc, 0, 'ten tenants with empty schemas are added' or diag $out;

my ($report, $text);
($rc, $report, $text) = tenantctl_json('migrate', '--jobs', 4);
is $rc, 0, 'migrate --jobs 4 migrates the ten schemas' or diag $text;
is_deeply $report->{totals},
    { tenants => 10, migrated => 10, unchanged => 0, failed => 0,
      skipped => 0, pending => 0 },
    'the report counts ten migrated';
is_deeply [ map { $_->{applied} } @{ $report->{tenants} } ],
    [ map { [ map { sprintf '%04d', $_ } 1 .. $v ] } @subs ],
    'every tenant got every file, in order';
is $report->{control_plane}{status}, 'unchanged',
    'the control plane was already current';
is versions(), all_at($v), "every tenant's row records version $v";

($rc, $out) = tenantctl('migrate', '--jobs', 4);
is $rc, 0, 'a second run succeeds' or diag $out;
like $out, qr/^10 tenants: 0 migrated, 10 unchanged, 0 failed/m,
    'and finds nothing to do';
like $out, qr/^$schema{$subs[0]}: 0 applied$/m, 'each schema is listed';

# a constraint the third tenant's data breaks
my $bad = $subs[2];
($rc, $out) = in_db("SET ROLE $schema{$bad}; SET search_path = $schema{$bad};"
    . " INSERT INTO users (email, password_hash)"
    . " VALUES ('Shouting\@Example.TEST', 'x')");
is $rc, 0, "$bad gets a user with an upper-case address" or diag $out;
write_file("$dir/tenant/" . $next->(1) . '_lower_email.sql',
    "ALTER TABLE users ADD CONSTRAINT users_email_lower\n"
    . "    CHECK (email = lower(email));\n");

($rc, $report, $text) = tenantctl_json('migrate', '--dry-run', '--jobs', 4);
is $rc, 0, 'a dry run succeeds' or diag $text;
is $report->{totals}{pending}, 10, 'it finds the new file pending everywhere';
is_deeply by_sub($report)->{$bad}{pending}, [ $next->(1) ],
    'and names its version';
ok $report->{dry_run}, 'the report says it was a dry run';
($rc, $out) = tenantctl('migrate', '--dry-run');
like $out, qr/^$schema{$bad}: 1 pending \(${\ $next->(1)}\)$/m,
    'the text report lists what is pending';
is history_rows($next->(1)), 0, 'the dry run applied nothing';
is versions(), all_at($v), 'and recorded no version';
is schemas_with_constraint('users_email_lower'), 0, 'nor added the constraint';

($rc, $report, $text) = tenantctl_json('migrate', '--jobs', 4);
isnt $rc, 0, 'a tenant that fails makes the run fail' or diag $text;
my $entries = by_sub($report);
is $entries->{$bad}{status}, 'failed', "the report says $bad failed";
like $entries->{$bad}{error}, qr/users_email_lower/,
    'with the error naming the constraint';
is $entries->{$bad}{schema}, $schema{$bad}, 'and the schema';
is_deeply [ sort map { $entries->{$_}{status} } grep { $_ ne $bad } @subs ],
    [ ('migrated') x 9 ], 'the other nine are migrated';
is $report->{totals}{failed}, 1, 'the totals count one failure';
is $report->{totals}{migrated}, 9, 'and nine migrated';
is versions(), join(' ', map { "$_=" . ($_ eq $bad ? $v : $v + 1) } @subs),
    'nine rows record the new version, the failed one the old';
is schemas_with_constraint('users_email_lower'), 9,
    'nine schemas have the constraint';

($rc, $out) = tenantctl('migrate', '--jobs', 4);
isnt $rc, 0, 'the text run fails too';
like $out, qr/tenant $bad, schema "$schema{$bad}": failed: .*users_email_lower/,
    'it names the tenant, the schema and the error';
like $out, qr/^$schema{$bad}: failed$/m, 'and lists the schema as failed';
like $out, qr/^10 tenants: 0 migrated, 9 unchanged, 1 failed/m,
    'the nine others are current';

($rc, $out) = in_db("SET ROLE $schema{$bad};"
    . " UPDATE $schema{$bad}.users SET email = lower(email)");
is $rc, 0, 'the data is fixed' or diag $out;
($rc, $report, $text) = tenantctl_json('migrate', '--jobs', 4);
is $rc, 0, 'the rerun succeeds' or diag $text;
is_deeply [ @{ $report->{totals} }{qw(migrated unchanged failed)} ],
    [ 1, 9, 0 ], 'it migrates one and leaves nine unchanged';
is_deeply by_sub($report)->{$bad}{applied}, [ $next->(1) ],
    "the one is $bad, with the new file only";
is versions(), all_at($v + 1), 'every row records the new version';

# --fail-fast: a file every tenant fails on; one worker stops at the first
write_file("$dir/tenant/" . $next->(2) . '_broken.sql',
    "SELECT 1 / 0;\n");
($rc, $report, $text) = tenantctl_json('migrate', '--fail-fast');
isnt $rc, 0, 'with --fail-fast the run fails' or diag $text;
is $report->{totals}{failed}, 1, 'after one failure';
is $report->{totals}{skipped}, 9, 'the nine others are skipped';
is_deeply [ map { $_->{status} } @{ $report->{tenants} } ],
    [ 'failed', ('skipped') x 9 ], 'in subdomain order';
($rc, $report, $text) = tenantctl_json('migrate', '--jobs', 2);
is $report->{totals}{failed}, 10, 'without it every tenant is tried';
unlink "$dir/tenant/" . $next->(2) . '_broken.sql';

# a changed applied file is refused, naming the file and the schema
my $applied_file = "$dir/tenant/" . $next->(1) . '_lower_email.sql';
write_file($applied_file, "ALTER TABLE users ADD CONSTRAINT users_email_lower\n"
    . "    CHECK (email = lower(email)) NOT VALID;\n");
($rc, $out) = tenantctl('migrate', '--jobs', 4);
isnt $rc, 0, 'a changed applied file fails the run';
like $out, qr/${\ $next->(1)}_lower_email\.sql applied to schema "$schema{$bad}" has changed/,
    'the message names the file and the schema';
($rc, $report) = tenantctl_json('migrate', '--jobs', 4);
is $report->{totals}{failed}, 10, 'every tenant is refused';
write_file($applied_file, "ALTER TABLE users ADD CONSTRAINT users_email_lower\n"
    . "    CHECK (email = lower(email));\n");
($rc, $report) = tenantctl_json('migrate');
is $report->{totals}{unchanged}, 10, 'the file restored, all are current';

# a file outside a transaction
write_file("$dir/tenant/" . $next->(2) . '_email_index.sql',
    "-- tenantry: no-transaction\n"
    . "CREATE INDEX CONCURRENTLY IF NOT EXISTS users_created_idx\n"
    . "    ON users (created_at);\n");
($rc, $report, $text) = tenantctl_json('migrate', '--jobs', 3);
is $rc, 0, 'a no-transaction file applies' or diag $text;
is $report->{totals}{migrated}, 10, 'to every tenant';
is schemas_with_valid_index('users_created_idx'), 10,
    'the index is built concurrently and valid in every schema';
is history_rows($next->(2)), 10, 'and the file is recorded';
is versions(), all_at($v + 2), 'with the version on every row';
# two migrators at once, each with four connections
write_file("$dir/tenant/" . $next->(3) . '_archived.sql',
    "ALTER TABLE projects ADD COLUMN archived boolean NOT NULL"
    . " DEFAULT false;\n");
write_file("$dir/tenant/" . $next->(4) . '_archived_index.sql',
    "-- tenantry: no-transaction\n"
    . "CREATE INDEX CONCURRENTLY IF NOT EXISTS projects_archived_idx\n"
    . "    ON projects (archived);\n");
my @runs;
for my $n (1, 2) {
    my $file = "$dir/run$n.json";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $ENV{TENANTRY_DATABASE_URL} = $dburl;
        $ENV{TENANTRY_DB_DIR} = $dir;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $file or POSIX::_exit(126);
        open STDERR, '>', "$file.err";
        exec $tenantctl, 'migrate', '--jobs', 4, '--json'
            or POSIX::_exit(127);
    }
    push @runs, { pid => $pid, file => $file };
}
for my $run (@runs) {
    waitpid $run->{pid}, 0;
    $run->{rc} = $? >> 8;
    open my $fh, '<', $run->{file} or die "$run->{file}: $!";
    local $/;
    $run->{report} = eval { decode_json(<$fh>) } || {};
}
is_deeply [ map { $_->{rc} } @runs ], [ 0, 0 ],
    'two migrators at once both succeed';
my %applied;
for my $run (@runs) {
    for my $entry (@{ $run->{report}{tenants} || [] }) {
        $applied{"$entry->{subdomain} $_"}++ for @{ $entry->{applied} };
    }
}
is scalar(keys %applied), 20, 'between them they applied both files'
    . ' to all ten schemas';
is_deeply [ grep { $applied{$_} != 1 } sort keys %applied ], [],
    'each file to each schema exactly once';
($rc, $out) = in_db("SELECT count(*), count(DISTINCT (schema_name, version))"
    . " FROM schema_migrations WHERE schema_name LIKE 't_many$$%'");
is $out, join('|', 10 * ($v + 4), 10 * ($v + 4)),
    'the history has every file once per schema, no duplicates';
is schemas_with_valid_index('projects_archived_idx'), 10,
    'the concurrent index is valid everywhere';
is versions(), all_at($v + 4), 'every row records the newest version';

# tenantd refuses tenants behind the version it needs
SKIP: {
    skip 'FCGI::Client is not installed (libfcgi-client-perl)', 1
        unless eval { require FCGI::Client; 1 };

    write_file("$dir/tenant/" . $next->(5) . '_later.sql',
        "ALTER TABLE projects ADD COLUMN colour text;\n");
    my $t = start_tenantd(TENANTRY_DATABASE_URL => $dburl,
        TENANTRY_DB_DIR => $dir);
    my $ask = sub {
        my ($sub) = @_;
        return fcgi_request($t->{socket}, { TENANTRY_SITE => 'tenant',
            TENANT => $sub, REQUEST_METHOD => 'GET',
            DOCUMENT_URI => '/api/tenant', REQUEST_ID => 'c' x 32 });
    };

    my $res = $ask->($subs[0]);
    is_problem($res, 503, 'a tenant behind the code');
    like $res->{json}{type}, qr/schema-outdated\z/,
        'the problem type is schema-outdated';

    ($rc, $out) = tenantctl('migrate', '--tenant', $subs[0]);
    is $rc, 0, 'migrate --tenant migrates that one tenant' or diag $out;
    like $out, qr/^1 tenants: 1 migrated/m, 'and only that one';
    ok wait_until(sub { $ask->($subs[0])->{status} == 200 }, 10),
        'the migrated tenant is served again';
    is $ask->($subs[1])->{status}, 503, 'the others are still refused';

    stop_tenantd($t, 10);
}

($rc, $out) = tenantctl('migrate', '--tenant', 'no-such-tenant');
isnt $rc, 0, 'an unknown --tenant is refused';
like $out, qr/no tenant "no-such-tenant"/, 'by name';
($rc, $out) = tenantctl('migrate', '--jobs', 0);
is $rc, 2, '--jobs 0 is a usage error';

# tenantctl exec
($rc, $out) = tenantctl('exec', '--all', '--jobs', 3, '-c',
    "INSERT INTO projects (name) VALUES ('from exec')");
is $rc, 0, 'exec --all runs a statement in every tenant' or diag $out;
like $out, qr/^$subs[4]: INSERT 0 1$/m, 'each tenant reports its rows';
like $out, qr/^10 tenants: 10 ok, 0 failed$/m, 'and the totals';
($rc, $out) = in_db(join(' UNION ALL ', map {
    "SELECT count(*) FROM $schema{$_}.projects WHERE name = 'from exec'" }
    @subs), user => 'postgres');
is $out, join("\n", (1) x 10), 'each schema got its own row';

($rc, $report, $text) = tenantctl_json('exec', '--all', '-c',
    'UPDATE users SET email = upper(email)');
isnt $rc, 0, 'a statement one tenant refuses fails the run';
$entries = by_sub($report);
is $entries->{$bad}{status}, 'failed', "$bad failed";
like $entries->{$bad}{error}, qr/users_email_lower/, 'with its error';
is_deeply [ map { [ $entries->{$_}{status}, $entries->{$_}{rows} ] }
        grep { $_ ne $bad } @subs ],
    [ ([ 'ok', 0 ]) x 9 ], 'the others ran it, changing no row';
is_deeply $report->{totals}, { tenants => 10, ok => 9, failed => 1 },
    'the totals count one failure';
($rc, $out) = in_db("SELECT email FROM $schema{$bad}.users",
    user => 'postgres');
is $out, 'shouting@example.test', 'the failed statement changed nothing';

($rc, $out) = tenantctl('exec', '--tenant', $subs[1], '-c',
    "SELECT * FROM $schema{$subs[0]}.projects");
isnt $rc, 0, "a statement reaching into another tenant's schema fails";
like $out, qr/permission denied/, "it runs as the tenant's role";

($rc, $report, $text) = tenantctl_json('exec', '--tenant', $subs[1],
    '-c', "INSERT INTO projects (name) VALUES ('just one')");
is $rc, 0, 'exec --tenant runs in one tenant' or diag $text;
is_deeply [ map { [ $_->{subdomain}, $_->{status}, $_->{rows} ] }
        @{ $report->{tenants} } ],
    [ [ $subs[1], 'ok', 1 ] ], 'and reports that one';
($rc, $out) = in_db(join(' UNION ALL ', map {
    "SELECT count(*) FROM $schema{$_}.projects WHERE name = 'just one'" }
    @subs[0, 1, 2]), user => 'postgres');
is $out, "0\n1\n0", 'only that tenant has the row';

($rc, $out) = tenantctl('exec', '-c', 'SELECT 1');
is $rc, 2, 'exec without --all or --tenant is a usage error';
($rc, $out) = tenantctl('exec', '--all', '-c', 'SELECT 1', '-c',
    'SELECT 2');
is $rc, 2, 'exec with two statements is a usage error';
like $out, qr/one statement/, 'and says exec runs one';

# On the stack itself: onboarding records the version, and the app
# refuses a tenant whose recorded version is behind until it is migrated.
{
    my $sub = unique_sub('mm');
    my @main = (TENANTRY_DATABASE_URL => $s->{dburl},
        TENANTRY_DB_DIR => "$s->{top}/db");
    my ($top_newest) = map { m{/(\d{4})_[^/]+\z} }
        (sort glob "$s->{top}/db/tenant/*.sql")[-1];

    is register($sub)->{status}, 201, "$sub is onboarded";
    ($rc, $out) = psql("SELECT schema_version, length(schema_digest)"
        . " FROM tenants WHERE subdomain = '$sub'");
    is $out, ($top_newest + 0) . '|64',
        'onboarding records the newest version and the digest';
    ($rc, $out) = capture([$tenantctl, 'migrate', '--tenant', $sub], @main);
    like $out, qr/^1 tenants: 0 migrated, 1 unchanged/m,
        'so the new tenant is current';

    ($rc, $out) = psql("UPDATE tenants SET schema_version ="
        . " schema_version - 1 WHERE subdomain = '$sub'");
    my $res;
    ok wait_until(sub {
        $res = http('GET', host_for($sub), '/api/tenant');
        $res->{status} == 503 }, 10), 'a tenant behind is refused';
    is_problem($res, 503, 'GET /api/tenant of a tenant behind');
    like $res->{json}{type}, qr/schema-outdated\z/, 'as schema-outdated';
    ($rc, $out) = capture([$tenantctl, 'migrate', '--tenant', $sub], @main);
    is $rc, 0, 'migrate --tenant brings it up' or diag $out;
    ok wait_until(sub {
        http('GET', host_for($sub), '/api/tenant')->{status} == 200 }, 10),
        'and it is served again';
}

done_testing();
