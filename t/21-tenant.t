# Tenant subdomains: each names its own tenant, unknown and nested names get
# 404, the main site and health checks, the static bundle, and a status
# change that takes effect within the documented one-second bound.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $main = main_host();
my @subs = (unique_sub('tena'), unique_sub('tenb'));
my %names = ($subs[0] => 'Tenant Alpha', $subs[1] => 'Tenant Beta');
my $suspended;

# The cache bound is one second; waiting longer is the contract, not a
# measurement.
my $status_bound = 1.5;

END {
    set_status($suspended, 'active') if $suspended;
}

# Sets a tenant's status directly in the control plane.
sub set_status {
    my ($sub, $status) = @_;
    my ($rc, $out) = psql("UPDATE public.tenants SET status = '$status'"
        . " WHERE subdomain = '$sub' RETURNING status", user => 'postgres');

    return $rc == 0 && $out eq $status;
}

# 1. Two tenants, each answering with its own row.

for my $sub (@subs) {
    is_json_response(register($sub, name => $names{$sub}), 201,
        "register $sub");
}

for my $sub (@subs) {
    my $t = is_json_response(http('GET', host_for($sub), '/api/tenant'),
        200, "/api/tenant on $sub");

    is($t->{subdomain}, $sub, "$sub: subdomain");
    is($t->{name}, $names{$sub}, "$sub: name");
    is($t->{schema}, "t_$sub", "$sub: schema");
    is($t->{users}, 1, "$sub: one user");
    ok(defined $t->{created_at} && length $t->{created_at},
        "$sub: created_at");
}

# 2. Unknown and nested names are 404, never another tenant.

{
    my $unknown = unique_sub('nobody');
    my $r1 = http('GET', host_for($unknown), '/api/tenant');
    my $r2 = http('GET', host_for($unknown), '/api/tenant');

    is_problem($r1, 404, 'unknown subdomain');
    is_problem($r2, 404, 'unknown subdomain again');
    isnt($r1->{json}{request_id} // '', $r2->{json}{request_id} // '',
        'two requests carry different request ids');
}

for my $host ("a.b.$s->{domain}:$s->{port}",
    "x.$subs[0].$s->{domain}:$s->{port}",
    "$subs[0].$subs[1].$s->{domain}:$s->{port}")
{
    my $res = http('GET', $host, '/api/tenant');

    is_problem($res, 404, "nested labels $host");
    unlike($res->{body}, qr/\Q$subs[0]\E|\Q$subs[1]\E/,
        "nested labels $host: no tenant's data");
}

# 3. The main site and www.

{
    my $www = "www.$s->{domain}:$s->{port}";
    my $home = http('GET', $main, '/');
    my $www_home = http('GET', $www, '/');

    is($home->{status}, 200, 'main site /: 200');
    like($home->{headers}{'content-type'} // '', qr{^text/html}i,
        'main site /: html');
    is($www_home->{status}, 200, 'www /: 200');
    like($www_home->{headers}{'content-type'} // '', qr{^text/html}i,
        'www /: html');
    is($www_home->{body}, $home->{body}, 'www serves the main site');

    is_problem(http('GET', $www, '/api/tenant'), 404, 'www /api/tenant');
    is_problem(http('GET', $main, '/api/tenant'), 404,
        'main domain /api/tenant');
}

# 4. Health checks on the main domain and a tenant subdomain.

for my $host ($main, host_for($subs[0])) {
    my $health = is_json_response(http('GET', $host, '/healthz'), 200,
        "/healthz on $host");
    is($health->{status}, 'ok', "/healthz on $host: ok");

    my $ready = is_json_response(http('GET', $host, '/readyz'), 200,
        "/readyz on $host");
    is($ready->{status}, 'ready', "/readyz on $host: ready");
    is($ready->{database}{role}, 'tenantry',
        "/readyz on $host: role tenantry");
}

# 5. The static bundle on a tenant host.

{
    my $file = "$s->{top}/nginx/html/index.html";
    my $res = http('GET', host_for($subs[0]), '/');
    my $expected = do { local (@ARGV, $/) = $file; <> };

    is($res->{status}, 200, 'tenant /: 200');
    like($res->{headers}{'content-type'} // '', qr{^text/html}i,
        'tenant /: html');
    ok(defined $expected, "the bundle has $file");
    ok(defined $expected && $res->{body} eq $expected,
        'tenant /: the bundle index.html');
}

# 6. Only nginx's normalised host picks the tenant.

{
    my $upper = uc host_for($subs[0]);
    my $t = is_json_response(raw_http("GET /api/tenant HTTP/1.1\r\n"
        . "Host: $upper\r\nConnection: close\r\n\r\n"), 200,
        'an upper-case Host header');

    is($t->{subdomain}, $subs[0], 'an upper-case Host names the tenant');

    my $res = raw_http("GET /api/tenant HTTP/1.1\r\n"
        . 'Host: ' . host_for(unique_sub('nobody')) . "\r\n"
        . 'X-Forwarded-Host: ' . host_for($subs[0]) . "\r\n"
        . 'Forwarded: host=' . host_for($subs[0]) . "\r\n"
        . "Connection: close\r\n\r\n");

    is_problem($res, 404, 'an unknown Host with forwarded headers');
    unlike($res->{body}, qr/\Q$subs[0]\E/,
        'forwarded headers do not pick a tenant');

    is_problem(raw_http("GET /api/tenant HTTP/1.0\r\n\r\n"), 404,
        'HTTP/1.0 without a Host header');
}

# 7. Suspending a tenant refuses its requests; reactivating serves again.

ok(set_status($subs[0], 'suspended'), "suspend $subs[0]");
$suspended = $subs[0];
sleep $status_bound;

{
    my @statuses;
    my $all_problems = 1;

    for (1 .. 10) {
        my $res = http('GET', host_for($subs[0]), '/api/tenant');

        push @statuses, $res->{status};
        $all_problems &&= ($res->{headers}{'content-type'} // '')
            =~ m{^application/problem\+json}i;
    }

    is(join(',', @statuses), join(',', (403) x 10),
        'suspended: ten requests all 403');
    ok($all_problems, 'suspended: all answers are problem+json');
    is_problem(http('GET', host_for($subs[0]), '/api/tenant'), 403,
        'suspended tenant');

    my $other = is_json_response(http('GET', host_for($subs[1]),
        '/api/tenant'), 200, 'the other tenant while one is suspended');
    is($other->{subdomain}, $subs[1], 'the other tenant still answers');
}

ok(set_status($subs[0], 'active'), "reactivate $subs[0]");
$suspended = undef;
sleep $status_bound;

{
    my @statuses;
    my $all_json = 1;

    for (1 .. 10) {
        my $res = http('GET', host_for($subs[0]), '/api/tenant');

        push @statuses, $res->{status};
        $all_json &&= ($res->{headers}{'content-type'} // '')
            =~ m{^application/json}i;
    }

    is(join(',', @statuses), join(',', (200) x 10),
        'reactivated: ten requests all 200');
    ok($all_json, 'reactivated: all answers are JSON');

    my $t = is_json_response(http('GET', host_for($subs[0]), '/api/tenant'),
        200, 'reactivated tenant');
    is($t->{subdomain}, $subs[0], 'reactivated: subdomain');
}

done_testing();
