# tenantctl export and import: one file holds a tenant; importing it under
# another subdomain, or into another database, gives back every row, the
# sign-in, the API token and the ETags; a taken subdomain, a truncated or
# a corrupt file is refused and leaves no role, schema or row behind.
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use JSON::PP;
use POSIX ();
use Test::More;

use Tenantry::Test;

my $s = stack();
my $ctl = "$s->{build}/app/tenantctl";
my $dir = tempdir(CLEANUP => 1);
my %env = (TENANTRY_DATABASE_URL => $s->{dburl},
    TENANTRY_DB_DIR => "$s->{top}/db");
my @tables = qw(users auth_tokens projects tasks);

# tenantctl with its standard output in a file; returns (exit code,
# standard error).
sub ctl_to_file {
    my ($out, $env, @args) = @_;
    my $err = "$dir/stderr";
    my $pid = fork() // die "fork: $!";

    if ($pid == 0) {
        @ENV{ keys %$env } = values %$env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        exec $ctl, @args or POSIX::_exit(127);
    }
    waitpid($pid, 0);
    open my $fh, '<', $err or die "$err: $!";
    local $/;
    return ($? >> 8, scalar <$fh> // '');
}

sub ctl {
    my ($env, @args) = @_;
    return capture([$ctl, @args], %$env);
}

sub pg {
    my ($sql, $db) = @_;
    my ($rc, $out) = psql($sql, user => 'postgres', dbname => $db);
    die "psql: $out\n" if $rc != 0;
    return $out;
}

# Row count and checksum of every table of a tenant's schema, and its
# control-plane row without its id and names.
sub fingerprint {
    my ($sub, $db) = @_;
    my $schema = pg("SELECT schema_name FROM public.tenants"
        . " WHERE subdomain = '$sub'", $db);
    return 'no tenant' if $schema eq '';

    my %print = (tenant => pg("SELECT name, status, created_at, updated_at"
        . " FROM public.tenants WHERE subdomain = '$sub'", $db));
    for my $table (@tables) {
        $print{$table} = pg("SELECT count(*) || ' '"
            . " || md5(coalesce(string_agg(t::text, '|' ORDER BY t.id), ''))"
            . " FROM \"$schema\".$table t", $db);
    }
    return JSON::PP->new->canonical->encode(\%print);
}

# What an import that failed must not leave: role, schema, rows.
sub nothing_left {
    my ($sub, $what, $db) = @_;
    my $name = 't_' . ($sub =~ s/-/_/gr);

    is(pg("SELECT (SELECT count(*) FROM pg_roles WHERE rolname = '$name')"
        . " || ',' || (SELECT count(*) FROM pg_namespace"
        . " WHERE nspname = '$name')"
        . " || ',' || (SELECT count(*) FROM public.tenants"
        . " WHERE subdomain = '$sub')", $db), '0,0,0',
        "$what leaves no role, schema or tenant row");
}

# 1. A tenant with users, tokens, projects, tasks and a host name.

my $t = new_tenant('exp');
my $auth = { bearer => $t->{token} };
my $member = add_user($t, name => 'Member One');
my $res = api($auth, 'POST', $t->{host}, '/api/tokens',
    json => { name => 'deploy' });
is($res->{status}, 201, 'an API token is made');
my $api_token = $res->{json}{token};

my (@projects, @tasks);
for my $p (1 .. 2) {
    $res = api($auth, 'POST', $t->{host}, '/api/projects',
        json => { name => "Project $p", description => "line one\nline two\t\\" });
    is($res->{status}, 201, "project $p is made");
    push @projects, $res->{json}{id};
    for my $n (1 .. 3) {
        $res = api($auth, 'POST', $t->{host},
            "/api/projects/$projects[-1]/tasks",
            json => { title => "Task $p.$n", assignee_id => $member->{id},
                due_date => '2027-01-0' . $n });
        is($res->{status}, 201, "task $p.$n is made");
        push @tasks, $res->{json}{id};
    }
}
$res = api($auth, 'PATCH', $t->{host}, "/api/tasks/$tasks[0]",
    json => { status => 'doing' });
is($res->{status}, 200, 'a task moves, its version goes up');
$res = api($auth, 'DELETE', $t->{host}, "/api/tasks/$tasks[1]");
is($res->{status}, 204, 'a task is deleted');
my $etag = api($auth, 'GET', $t->{host}, "/api/tasks/$tasks[0]")
    ->{headers}{etag};
like($etag // '', qr/^"/, 'the moved task has an ETag');
$res = http('POST', main_host(), "/admin/tenants/$t->{sub}/domains",
    bearer => $s->{token}, json => { domain => "$t->{sub}.example.test" });
is($res->{status}, 201, 'the tenant gets a host name');

my $before = fingerprint($t->{sub});
like($before, qr/"tasks":"5 /, 'five tasks are there');

# 2. Export.

my $file = "$dir/$t->{sub}.export";
my ($rc, $err) = ctl_to_file($file, \%env, 'export', $t->{sub});
is($rc, 0, 'tenantctl export succeeds') or diag($err);
open my $fh, '<', $file or die "$file: $!";
my @lines = <$fh>;
close $fh;
my $header = eval { decode_json($lines[0]) } || {};
is($header->{format}, 'tenantry-export', 'the first line is the header');
is($header->{tenant}{subdomain}, $t->{sub}, 'holding the tenant row');
is(scalar @{ $header->{domains} || [] }, 1, 'and its host name');
my $trailer = eval { decode_json($lines[-1]) } || {};
is_deeply($trailer->{rows}, { users => 2, auth_tokens => 2, projects => 2,
    tasks => 5 }, 'the last line counts the rows of every table');
is($trailer->{sha256}, sha256_hex(join '', @lines[0 .. $#lines - 1]),
    'and holds the hash of everything before it');

# 3. Import under another name in the same database.

my $copy = unique_sub('imp');
($rc, my $out) = ctl(\%env, 'import', $file, '--as', $copy);
isnt($rc, 0, 'importing with a host name another tenant has is refused');
like($out, qr/tenant_domains/, 'naming the host names');
nothing_left($copy, 'the refused import');

($rc, $out) = ctl(\%env, 'import', $file, '--as', $copy,
    '--without-domains');
is($rc, 0, 'tenantctl import --as --without-domains succeeds') or diag($out);
like($out, qr/^\Q$copy\E: imported from \Q$t->{sub}\E/m, 'and says so');
is(fingerprint($copy), $before,
    'the import has the same rows, counts and checksums');
is(fingerprint($t->{sub}), $before, 'the original is untouched');

my $host = host_for($copy);
my $in = sign_in($host, $t->{email}, $t->{password});
is($in->{status}, 201, 'the owner signs in on the import');
is(sign_in($host, $member->{email}, $member->{password})->{status}, 201,
    'so does the member');
$res = api({ bearer => $api_token }, 'GET', $host, '/api/me');
is($res->{status}, 200, 'the API token works on the import');
is($res->{json}{email}, $t->{email}, 'as the owner');
$res = api({ bearer => $api_token }, 'GET', $host, "/api/tasks/$tasks[0]");
is($res->{headers}{etag}, $etag, 'the ETag is the same');
$res = api({ bearer => $api_token }, 'PATCH', $host, "/api/tasks/$tasks[0]",
    headers => ['If-Match' => $etag], json => { title => 'Renamed' });
is($res->{status}, 200, 'a PATCH with the exported ETag is taken');
$res = api({ bearer => $api_token }, 'POST', $host, '/api/projects',
    json => { name => 'After the import' });
is($res->{status}, 201, 'the import takes new projects');
cmp_ok($res->{json}{id}, '>', $projects[-1], 'with ids after the old ones');
is(api({ bearer => $api_token }, 'GET', $t->{host}, '/api/me')->{status},
    200, 'the token still works on the original');
is(sign_in($t->{host}, $t->{email}, $t->{password})->{status}, 201,
    'the owner still signs in on the original');
is(api({ bearer => $api_token }, 'GET', $t->{host}, "/api/tasks/$tasks[0]")
    ->{json}{title}, 'Task 1.1', 'the original did not see the PATCH');

# 4. Refusals leave everything as it was.

my $copy_print = fingerprint($copy);
my $orig_print = fingerprint($t->{sub});
($rc, $out) = ctl(\%env, 'import', $file, '--as', $copy,
    '--without-domains');
isnt($rc, 0, 'importing over an existing subdomain is refused');
like($out, qr/the subdomain "\Q$copy\E" is taken/, 'with a clear message');
is(fingerprint($copy), $copy_print, 'and the tenant there is unchanged');
($rc, $out) = ctl(\%env, 'import', $file);
isnt($rc, 0, 'importing over the original is refused');
is(fingerprint($t->{sub}), $orig_print, 'and the original is unchanged');

my $bad = unique_sub('bad');
my $truncated = "$dir/truncated";
open $fh, '>', $truncated or die;
print {$fh} substr(join('', @lines), 0, int(length(join '', @lines) / 2));
close $fh;
($rc, $out) = ctl(\%env, 'import', $truncated, '--as', $bad);
isnt($rc, 0, 'a truncated file is refused');
like($out, qr/truncated/, 'as truncated');
nothing_left($bad, 'the truncated file');

my $flipped = "$dir/flipped";
open $fh, '>', $flipped or die;
print {$fh} join('', @lines) =~ s/Task 1\.3/Task 1.4/r;
close $fh;
($rc, $out) = ctl(\%env, 'import', $flipped, '--as', $bad);
isnt($rc, 0, 'a file whose content does not match its hash is refused');
like($out, qr/checksum/, 'naming the checksum');
nothing_left($bad, 'the altered file');

# rows the database refuses, in a file whose hash is right: the role and
# schema made before the rows are rolled back with them
my @broken = @lines;
for my $i (1 .. $#broken) {
    last if $broken[$i - 1] =~ /^\{"table":"tasks"/
        && ($broken[$i] =~ s/^\d+\t/not-a-number\t/);
}
my $body = join '', @broken[0 .. $#broken - 1];
my $end = decode_json($broken[-1]);
$end->{sha256} = sha256_hex($body);
open $fh, '>', "$dir/broken" or die;
print {$fh} $body, JSON::PP->new->canonical->encode($end), "\n";
close $fh;
isnt(join('', @broken), join('', @lines), 'a task row is broken');
($rc, $out) = ctl(\%env, 'import', "$dir/broken", '--as', $bad,
    '--without-domains');
isnt($rc, 0, 'a file with a row the database refuses is refused');
like($out, qr/tasks/, 'naming the table');
nothing_left($bad, 'the refused row');

# 5. Into a second database of the same cluster.

my $db2 = 'tenantry_import_' . $$;
pg("CREATE DATABASE $db2 OWNER tenantry");
pg('ALTER SCHEMA public OWNER TO tenantry', $db2);
my %env2 = (%env, TENANTRY_DATABASE_URL =>
    "host=$s->{pghost} dbname=$db2 user=tenantry");
($rc, $out) = ctl(\%env2, 'migrate');
is($rc, 0, 'the second database gets its control plane') or diag($out);
($rc, $out) = ctl(\%env2, 'import', $file);
is($rc, 0, 'the file imports into the second database') or diag($out);
is(fingerprint($t->{sub}, $db2), $before,
    'with the same rows, counts and checksums');
is(pg("SELECT d.host FROM public.tenant_domains d JOIN public.tenants t"
    . " ON t.id = d.tenant_id WHERE t.subdomain = '$t->{sub}'", $db2),
    "$t->{sub}.example.test", 'and its host name');
is(pg("SELECT count(*) FROM public.schema_migrations m JOIN public.tenants t"
    . " ON t.schema_name = m.schema_name WHERE t.subdomain = '$t->{sub}'",
    $db2), scalar @{ $header->{migrations} },
    'its applied migrations are on record');
($rc, $out) = ctl(\%env2, 'export', $t->{sub});
is($rc, 0, 'and it exports from there');
($rc, $out) = ctl(\%env2, 'import', $file);
isnt($rc, 0, 'a second import there is refused');
is(fingerprint($t->{sub}, $db2), $before, 'leaving it as it was');

# 6. tenant create: the admin API's onboarding from the command line.

my $made = unique_sub('cli');
open $fh, '>', "$dir/password" or die;
print {$fh} "a long cli password\n";
close $fh;
($rc, $out) = ctl(\%env, 'tenant', 'create', $made, '--name', 'Made Here',
    '--email', "owner\@$made.test", '--password-file', "$dir/password");
is($rc, 0, 'tenantctl tenant create succeeds') or diag($out);
is($out, "$made: active", 'and the tenant is active');
is(sign_in(host_for($made), "owner\@$made.test", 'a long cli password')
    ->{status}, 201, 'its owner signs in');
($rc, $out) = ctl(\%env, 'tenant', 'create', $made, '--name', 'Again',
    '--email', "owner\@$made.test", '--password-file', "$dir/password");
isnt($rc, 0, 'a taken subdomain is refused');
like($out, qr/taken/, 'as taken');
open $fh, '>', "$dir/short" or die;
print {$fh} "short\n";
close $fh;
($rc, $out) = ctl(\%env, 'tenant', 'create', 'pgx', '--name', 'X',
    '--email', 'nope', '--password-file', "$dir/short");
isnt($rc, 0, 'invalid input is refused');
like($out, qr/subdomain/, 'naming the subdomain');
like($out, qr/owner\.email/, 'the email');
like($out, qr/owner\.password/, 'and the password');

pg("DROP DATABASE $db2");
done_testing();
