# Requests nginx itself refuses, before any location is chosen, answer
# application/problem+json like everything else.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

my $s = stack();
my $host = host_for('demo');

my @cases = (
    [ 'a NUL in the path', http('GET', $host, '/api/projects/%00'), 400 ],
    [ 'a 10 KB path', http('GET', $host, '/' . 'a' x 10000), 414 ],
    [ 'a 9 KB cookie', http('GET', $host, '/api/tenant',
        headers => [ Cookie => 'x=' . 'a' x 9000 ]), 400 ],
    [ 'an empty label in the host', http('GET',
        "demo..$s->{domain}:$s->{port}", '/api/tenant'), 400 ],
    [ 'a request line that is no request line',
        raw_http("GARBAGE\r\n\r\n"), 400 ],
    [ 'HTTP/1.1 without a host', raw_http("GET /api/tenant HTTP/1.1\r\n"
        . "Connection: close\r\n\r\n"), 400 ],
);

for my $case (@cases) {
    my ($name, $res, $status) = @$case;
    is($res->{status}, $status, "$name: $status");
    like($res->{headers}{'content-type'} // '',
        qr{^application/problem\+json}, "$name: problem+json");
    is(($res->{json} || {})->{status}, $status,
        "$name: the problem carries the status");
}

is(http('GET', $host, '/.problem')->{status}, 404,
    'the internal error address cannot be asked for');

done_testing();
