# Onboarding as recorded steps: a step that fails leaves the tenant in
# provisioning with the error on record; a retry resumes it there and
# ends with a working tenant. Admin actions go to the audit log.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

my $s = stack();
my $admin = main_host();

sub admin {
    my ($method, $path) = @_;
    return http($method, $admin, $path, bearer => $s->{token});
}

sub steps_of {
    my ($sub) = @_;
    my $t = admin('GET', "/admin/tenants/$sub")->{json} || {};
    return ($t, { map { $_->{step} => $_ } @{ $t->{steps} || [] } });
}

# a schema of that name, owned by someone else, stops the schema step
my $sub = unique_sub('retry');
my ($rc, $out) = psql("CREATE SCHEMA t_$sub", user => 'postgres');
is($rc, 0, 'a conflicting schema is put in the way') or diag($out);

my $res = register($sub, password => 'first password!');
is_problem($res, 500, 'onboarding into a schema that is not its own');
like($res->{json}{detail},
    qr/onboarding stopped: migration 0001_users\.sql on schema "t_$sub": ERROR/,
    'the detail says where it stopped and why');

my ($t, $steps) = steps_of($sub);
is($t->{status}, 'provisioning', 'the tenant stays in provisioning');
is($steps->{reserve}{status}, 'done', 'reserve is done');
is($steps->{role}{status}, 'done', 'role is done');
is($steps->{schema}{status}, 'failed', 'schema failed');
like($steps->{schema}{last_error}, qr/^migration 0001_users\.sql .*ERROR/,
    'with its error on record');
ok(!exists $steps->{first_user}, 'no later step was started');
is(http('GET', host_for($sub), '/api/tenant')->{status}, 404,
    'a tenant in provisioning is not served');

is(register($sub)->{status}, 409, 'registering the name again is refused');

$res = admin('POST', "/admin/tenants/$sub/retry");
is($res->{status}, 500, 'a retry with the cause still there fails again');
(undef, $steps) = steps_of($sub);
is($steps->{schema}{attempts}, 2, 'the schema step counts two attempts');

($rc, $out) = psql("DROP SCHEMA t_$sub", user => 'postgres');
is($rc, 0, 'the cause is removed') or diag($out);

$res = admin('POST', "/admin/tenants/$sub/retry");
is($res->{status}, 200, 'the retry completes the tenant')
    or diag(explain($res->{json}));
is($res->{json}{status}, 'active', 'which is active');
(undef, $steps) = steps_of($sub);
is(join(',', map { "$_=$steps->{$_}{status}" } sort keys %$steps),
    'activate=done,dns=done,first_user=done,pipeline=done,reserve=done,role=done,schema=done',
    'every step is done');

my $api = http('GET', host_for($sub), '/api/tenant');
is($api->{status}, 200, 'the tenant is served');
is($api->{json}{users}, 1, 'with its first user');
my $login = http('POST', host_for($sub), '/api/session',
    json => { email => "owner\@$sub.test", password => 'first password!' },
    headers => [Origin => 'http://' . host_for($sub)]);
is($login->{status}, 201,
    'the first user signs in with the password given at registration');
($rc, $out) = psql("SELECT count(*) FROM onboarding_owners o"
    . " JOIN tenants t ON t.id = o.tenant_id WHERE t.subdomain = '$sub'");
is($out, '0', 'the kept password hash is gone once the tenant is active');

$res = admin('POST', "/admin/tenants/$sub/retry");
is($res->{status}, 409, 'an active tenant is not retried');

# the role step, resumed from the command line
my $sub2 = unique_sub('retry');
($rc, $out) = psql("CREATE ROLE t_$sub2 SUPERUSER NOLOGIN", user => 'postgres');
is($rc, 0, 'a role the service may not use is put in the way');
is(register($sub2)->{status}, 500, 'onboarding stops');
(undef, $steps) = steps_of($sub2);
is($steps->{role}{status}, 'failed', 'at the role step');
psql("DROP ROLE t_$sub2", user => 'postgres');
($rc, $out) = capture(["$s->{build}/app/tenantctl", 'tenant', 'retry', $sub2],
    TENANTRY_DATABASE_URL => $s->{dburl},
    TENANTRY_DB_DIR => "$s->{top}/db");
is($rc, 0, 'tenantctl tenant retry completes it') or diag($out);
like($out, qr/^\Q$sub2\E: active$/m, 'and reports it active');
is(http('GET', host_for($sub2), '/api/tenant')->{status}, 200,
    'the tenant is served');

# the audit log
http('POST', $admin, "/admin/tenants/$sub/suspend", bearer => 'wrong token');
my $audit = admin('GET', '/admin/audit?limit=100');
is($audit->{status}, 200, 'the audit log is readable');
my @entries = @{ $audit->{json}{entries} || [] };
my @retries = grep { $_->{path} eq "/admin/tenants/$sub/retry" } @entries;
is(join(',', map { $_->{status} } reverse @retries), '500,200,409',
    'each retry is logged with its outcome, in order');
ok((grep { $_->{status} == 401 && $_->{path} =~ /\Q$sub\E\/suspend/ }
    @entries), 'a refused request is logged too');
my %tokens = map { $_->{token} => 1 } @entries;
ok(!grep({ index($_, $s->{token}) >= 0 } keys %tokens),
    'the log keeps fingerprints, never the token');
ok(!grep({ $_->{method} eq 'GET' } @entries), 'reads are not logged');

done_testing();
