# A tenant's life: suspend, resume, delete, purge, through the admin API
# and through tenantctl.
use strict;
use warnings;

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);

use Tenantry::Test;

my $s = stack();
my $admin = main_host();
my $token = $s->{token};

sub admin {
    my ($method, $path) = @_;
    return http($method, $admin, $path, bearer => $token);
}

# The status of ten answers in a row, after the documented one-second
# bound for a change to reach every worker.
sub statuses_after_bound {
    my ($sub) = @_;
    sleep 1.2;
    return join ',', map { http('GET', host_for($sub), '/api/tenant')
        ->{status} } 1 .. 10;
}

my $sub = unique_sub('life');
is(register($sub)->{status}, 201, 'a tenant is registered');
is(http('GET', host_for($sub), '/api/tenant')->{status}, 200, 'it is served');

my $res = admin('POST', "/admin/tenants/$sub/suspend");
is($res->{status}, 200, 'suspend answers 200');
is($res->{json}{status}, 'suspended', 'and shows the tenant suspended');
is(statuses_after_bound($sub), join(',', ('403') x 10),
    'every worker refuses a suspended tenant with 403');
my $r = http('GET', host_for($sub), '/api/tenant');
is_problem($r, 403, 'a suspended tenant');
like($r->{headers}{'content-type'}, qr{^application/problem\+json},
    'the refusal is problem+json');

$res = admin('POST', "/admin/tenants/$sub/suspend");
is($res->{status}, 409, 'suspending twice is a conflict');

$res = admin('DELETE', "/admin/tenants/$sub?purge=true");
is($res->{status}, 409, 'purging a tenant that is not deleted is refused');
like($res->{json}{detail}, qr/delete it before purging/,
    'and says what to do first');

$res = admin('POST', "/admin/tenants/$sub/resume");
is($res->{status}, 200, 'resume answers 200');
is(statuses_after_bound($sub), join(',', ('200') x 10),
    'a resumed tenant is served again');

$res = admin('DELETE', "/admin/tenants/$sub");
is($res->{status}, 200, 'delete answers 200');
is($res->{json}{status}, 'deleted', 'the tenant is marked deleted');
is(statuses_after_bound($sub), join(',', ('404') x 10),
    'a deleted tenant is not served');
my ($rc, $out) = psql("SELECT count(*) FROM pg_namespace"
    . " WHERE nspname = 't_$sub'");
is($out, '1', 'delete keeps the schema');

$res = admin('DELETE', "/admin/tenants/$sub?purge=maybe");
is($res->{status}, 422, 'purge must be true or false');
for my $query ('purge=true&purge=false', 'purge', 'purge&purge=true') {
    $res = admin('DELETE', "/admin/tenants/$sub?$query");
    is($res->{status}, 422, "?$query is refused: which was meant is unclear");
}
($rc, $out) = psql("SELECT status FROM tenants WHERE subdomain = '$sub'");
is($out, 'deleted', 'and the tenant is still there, deleted');

# A migration holding the schema's lock keeps a purge out of it.
my $holder = fork() // die "fork: $!";
if ($holder == 0) {
    psql("SELECT pg_advisory_lock(hashtext('tenantry.migrate'),"
        . " hashtext('t_$sub')); SELECT pg_sleep(120) /* lock holder */");
    POSIX::_exit(0);
}
ok(wait_until(sub {
    (psql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
        . " AND granted"))[1] > 0 }, 10), 'a migrator holds the schema lock');
$res = admin('DELETE', "/admin/tenants/$sub?purge=true");
is($res->{status}, 409, 'a purge during a migration of the schema is refused');
like($res->{json}{detail}, qr/migration is running on schema t_$sub/,
    'and says why');
($rc, $out) = psql("SELECT count(*) FROM pg_namespace"
    . " WHERE nspname = 't_$sub'");
is($out, '1', 'the schema is still there');
psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    . " WHERE query LIKE '%lock holder%' AND pid <> pg_backend_pid()");
waitpid($holder, 0);

$res = admin('DELETE', "/admin/tenants/$sub?purge=true");
is($res->{status}, 204, 'purging a deleted tenant answers 204');
($rc, $out) = psql("SELECT (SELECT count(*) FROM pg_namespace"
    . " WHERE nspname = 't_$sub') || ',' || (SELECT count(*) FROM pg_roles"
    . " WHERE rolname = 't_$sub') || ',' || (SELECT count(*) FROM tenants"
    . " WHERE subdomain = '$sub') || ',' || (SELECT count(*)"
    . " FROM schema_migrations WHERE schema_name = 't_$sub')");
is($out, '0,0,0,0', 'schema, role, row and migration records are gone');
is(admin('GET', "/admin/tenants/$sub")->{status}, 404,
    'the admin API no longer knows it');

is(register($sub)->{status}, 201, 'the subdomain can be registered again');
is(http('GET', host_for($sub), '/api/tenant')->{json}{users}, 1,
    'and the new tenant starts with only its owner');

is(admin('POST', '/admin/tenants/nosuch-tenant/suspend')->{status}, 404,
    'an unknown tenant is 404');
is(http('POST', host_for($sub), "/admin/tenants/$sub/suspend",
    bearer => $token)->{status}, 404, 'not on a tenant subdomain');
is(http('POST', $admin, "/admin/tenants/$sub/suspend")->{status}, 401,
    'not without the token');

# the same steps from the command line
my @ctl = ("$s->{build}/app/tenantctl", 'tenant');
my %env = (TENANTRY_DATABASE_URL => $s->{dburl});
($rc, $out) = capture([@ctl, 'suspend', $sub], %env);
is($rc, 0, 'tenantctl tenant suspend succeeds') or diag($out);
like($out, qr/^\Q$sub\E: suspended$/m, 'and says so');
is(statuses_after_bound($sub), join(',', ('403') x 10),
    'the tenant is refused');
($rc, $out) = capture([@ctl, 'resume', $sub], %env);
is($rc, 0, 'tenantctl tenant resume succeeds') or diag($out);
($rc, $out) = capture([@ctl, 'delete', '--purge', $sub], %env);
isnt($rc, 0, 'tenantctl refuses to purge a tenant that is not deleted');
like($out, qr/delete it before purging/, 'with the reason');
($rc, $out) = capture([@ctl, 'delete', $sub], %env);
is($rc, 0, 'tenantctl tenant delete succeeds') or diag($out);
($rc, $out) = capture([@ctl, 'delete', '--purge', $sub], %env);
is($rc, 0, 'tenantctl tenant delete --purge succeeds') or diag($out);
($rc, $out) = capture([@ctl, 'show', $sub], %env);
isnt($rc, 0, 'the purged tenant is gone');

done_testing();
