# The sign-in rate limit: one client address that keeps posting to
# /api/session is answered 429 problem+json, whatever forwarding headers
# it sends, while its other requests and other addresses go on.  It runs
# after the other API tests because it uses up 127.0.0.1's allowance,
# and it waits at the end until sign-in works again.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $attempts = 40;
my $recovery = 70;

my $tenant = new_tenant('rate');
my $host = $tenant->{host};
my (@statuses, $limited);

# Each attempt claims another origin in every forwarding header a proxy
# might trust; the limit must key on the connection's address.
for my $n (1 .. $attempts) {
    my $res = http('POST', $host, '/api/session',
        json => { email => $tenant->{email}, password => 'guess number ' . $n },
        headers => [
            'X-Forwarded-For' => "203.0.113.$n",
            'X-Real-IP'       => "198.51.100.$n",
            'Forwarded'       => "for=192.0.2.$n",
        ]);

    push @statuses, $res->{status};
    if ($res->{status} == 429) {
        $limited = $res;
        last;
    }
}

note("statuses before the limit: @statuses");
ok($limited, "repeated sign-ins are limited within $attempts attempts")
    or diag("statuses: @statuses");
is(join(' ', grep { $_ != 401 && $_ != 429 } @statuses), '',
    'every attempt before the limit was a 401')
    or diag("statuses: @statuses");
is_problem_slug($limited || { json => undef, headers => {}, status => 0 },
    429, 'too-many-requests', 'the limited sign-in');
is(scalar(grep { length $_->{value} } map { parse_cookie($_) }
    grep { /^tn_session=/ } set_cookies($limited || {})), 0,
    'the limited sign-in sets no session');

# The limit is on signing in, not on the signed-in client's other work.

is(api({ bearer => $tenant->{token} }, 'GET', $host, '/api/me')->{status},
    200, 'a signed-in request from the limited address is answered');
is(api({ cookie => $tenant->{token} }, 'POST', $host, '/api/tokens',
    json => { name => 'while limited' })->{status}, 201,
    'a write from the limited address is answered');
is(http('GET', $host, '/api/tenant')->{status}, 200,
    'the tenant page from the limited address is answered');

# Another client address has its own allowance.

SKIP: {
    my $probe = http('GET', $host, '/api/tenant', local_addr => '127.0.0.2');

    skip 'cannot connect from 127.0.0.2', 2 if $probe->{status} == 0;

    my $res = http('POST', $host, '/api/session', local_addr => '127.0.0.2',
        json => { email => $tenant->{email}, password => $tenant->{password} });

    is($res->{status}, 201, 'another address signs in meanwhile')
        or diag($res->{body});
    ok(session_token($res), 'another address gets a session');
}

# Waits for the allowance to come back, so that later tests can sign
# in; the bound is a failure bound, not a measurement.
my $back = wait_until(sub {
    my $res = http('POST', $host, '/api/session',
        json => { email => $tenant->{email},
            password => $tenant->{password} });

    return $res->{status} == 201;
}, $recovery, 1);

ok($back, "sign-in from 127.0.0.1 works again within $recovery s");

done_testing();
