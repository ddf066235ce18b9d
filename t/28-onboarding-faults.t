# A failure injected at each onboarding step, and the process killed at
# each step: a retry always ends with an active, working tenant and
# nothing orphaned.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

my $s = stack();
my @steps = qw(role schema first_user dns pipeline activate);

sub fcgi {
    my ($t, %params) = @_;
    my $body = delete $params{body};
    return fcgi_request($t->{socket}, { REQUEST_ID => 'b' x 32,
        (defined $body ? (CONTENT_TYPE => 'application/json',
            CONTENT_LENGTH => length $body) : ()), %params },
        body => $body);
}

for my $what (qw(fail kill)) {
    for my $step (@steps) {
        my $case = "$step:$what";
        my $sub = unique_sub('flt');
        my $t = start_tenantd(TENANTRY_ONBOARD_FAULT => $case,
            TENANTD_WORKERS => 1);
        my $body = qq({"subdomain":"$sub","name":"Faulty","owner":)
            . qq({"email":"o\@$sub.test","password":"fault password"}});

        my $res = fcgi($t, TENANTRY_SITE => 'main', REQUEST_METHOD => 'POST',
            DOCUMENT_URI => '/admin/register-user', body => $body,
            HTTP_AUTHORIZATION => "Bearer $s->{token}");
        if ($what eq 'fail') {
            is($res->{status}, 500, "$case: onboarding answers 500");
            like($res->{body}, qr/fault injected at step $step/,
                "$case: the answer names the step");
        } else {
            is($res->{status}, 0, "$case: the worker dies with the request");
        }

        my $retry = http('POST', main_host(), "/admin/tenants/$sub/retry",
            bearer => $s->{token});
        my $shown = http('GET', main_host(), "/admin/tenants/$sub",
            bearer => $s->{token})->{json} || {};
        if ($what eq 'kill' && $step eq 'activate') {
            ok($retry->{status} == 200 || $retry->{status} == 409,
                "$case: the tenant was activated before the process died");
        } else {
            is($retry->{status}, 200, "$case: a retry completes onboarding")
                or diag($retry->{body});
        }
        is($shown->{status}, 'active', "$case: the tenant is active");

        my $api = http('GET', host_for($sub), '/api/tenant');
        is($api->{status}, 200, "$case: the tenant is served");
        is($api->{json}{users}, 1, "$case: with exactly its first user");

        my $login = fcgi($t, TENANTRY_SITE => 'tenant', TENANT => $sub,
            REQUEST_METHOD => 'POST', DOCUMENT_URI => '/api/session',
            body => qq({"email":"o\@$sub.test","password":"fault password"}));
        is($login->{status}, 201, "$case: the owner signs in");

        my ($rc, $out) = psql("SELECT"
            . " (SELECT count(*) FROM pg_namespace WHERE nspname = 't_$sub')"
            . " || ',' || (SELECT count(*) FROM pg_roles"
            . "  WHERE rolname = 't_$sub')"
            . " || ',' || (SELECT count(*) FROM onboarding_owners o"
            . "  JOIN tenants t ON t.id = o.tenant_id"
            . "  WHERE t.subdomain = '$sub')");
        is($out, '1,1,0', "$case: one schema, one role, no leftovers");

        stop_tenantd($t, 15);
    }
}

done_testing();
