# Cloudflare: tn_dns_upsert and tn_dns_delete (through t/unit/dns-tool)
# against a loopback stand-in of the DNS records API v4 that checks the
# bearer token, the list by name and the bodies of POST, PUT and DELETE.
use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Loopback;
use Tenantry::Test;

plan skip_all => 'HTTP::Daemon is not installed (libhttp-daemon-perl)'
    unless eval { require HTTP::Daemon; 1 };

my $tool = build_dir() . '/t/unit/dns-tool';
plan skip_all => "$tool is not built (make check-build)" unless -x $tool;

my $json = JSON::PP->new->canonical;
my $zone = '023e105f4ecef8ad9ca31a8372d0c353';
my $token = 'cf-api-token-unit-5b1d9e';
my $wrong = 'cf-wrong-token-0000';
my $prefix = "/client/v4/zones/$zone/dns_records";

sub answer {
    my ($status, $doc) = @_;
    return ($status, [ 'Content-Type' => 'application/json' ],
        $json->encode($doc));
}

sub failure {
    my ($status, $code, $message) = @_;
    return answer($status, { success => JSON::PP::false,
        errors => [ { code => $code, message => $message } ],
        messages => [], result => undef });
}

sub success {
    my ($result) = @_;
    return answer(200, { success => JSON::PP::true, errors => [],
        messages => [], result => $result });
}

# Checks a POST or PUT body; returns the record or an error message.
sub record_of {
    my ($req) = @_;
    my $r = eval { $json->decode($req->{body}) };

    return 'the body is no JSON object' unless ref $r eq 'HASH';
    return 'Content-Type is not application/json'
        unless ($req->{headers}{'content-type'} // '') =~ m{^application/json};
    return 'type must be CNAME, A or AAAA'
        unless ($r->{type} // '') =~ /^(?:CNAME|A|AAAA)\z/;
    for my $field (qw(name content)) {
        return "$field must be a non-empty string"
            unless defined $r->{$field} && !ref $r->{$field}
            && length $r->{$field};
    }
    return 'ttl must be an integer' unless ($r->{ttl} // '') =~ /^\d+\z/;
    return 'proxied must be false' unless defined $r->{proxied}
        && JSON::PP::is_bool($r->{proxied}) && !$r->{proxied};
    return 'unexpected fields: ' . join ',', sort grep {
        !/^(?:type|name|content|ttl|proxied)\z/ } keys %$r
        if grep { !/^(?:type|name|content|ttl|proxied)\z/ } keys %$r;

    return { map { $_ => $r->{$_} } qw(type name content ttl) };
}

# A CNAME shares its name with no other record, as at Cloudflare.
sub conflicts {
    my ($state, $r, $except) = @_;

    return grep {
        $_->{name} eq $r->{name} && $_->{id} ne ($except // '')
            && ($r->{type} eq 'CNAME' || $_->{type} eq 'CNAME')
    } values %{ $state->{records} };
}

sub list {
    my ($req, $state) = @_;
    my %q = map { split /=/, $_, 2 } split /&/, $req->{query};

    return failure(400, 1004, 'name is required for this test') unless
        defined $q{name};
    return success([ sort { $a->{id} cmp $b->{id} } grep {
        $_->{name} eq $q{name} } values %{ $state->{records} } ]);
}

sub create {
    my ($req, $state) = @_;
    my $r = record_of($req);

    return failure(400, 9000, $r) unless ref $r;
    return failure(400, 81053, 'a record with that name and a clashing type exists')
        if conflicts($state, $r);
    $r->{id} = sprintf '%032x', ++$state->{next};
    $r->{proxied} = JSON::PP::false;
    $state->{records}{ $r->{id} } = $r;
    return success($r);
}

sub update {
    my ($req, $state, $id) = @_;
    my $r = record_of($req);

    return failure(404, 81044, 'Record does not exist.')
        unless $state->{records}{$id};
    return failure(400, 9000, $r) unless ref $r;
    return failure(400, 81053, 'a record with that name and a clashing type exists')
        if conflicts($state, $r, $id);
    $r->{id} = $id;
    $r->{proxied} = JSON::PP::false;
    $state->{records}{$id} = $r;
    return success($r);
}

my $fake = loopback_server(sub {
    my ($req, $state) = @_;
    my ($m, $path) = ($req->{method}, $req->{path});

    if ($path eq '/test/records') {
        return success([ sort { $a->{id} cmp $b->{id} }
            values %{ $state->{records} || {} } ]);
    }
    if ($path eq '/test/seed') {
        my $r = $json->decode($req->{body});
        $r->{id} = sprintf '%032x', ++$state->{next};
        $state->{records}{ $r->{id} } = $r;
        return success($r);
    }

    return failure(403, 10000, 'Authentication error')
        unless ($req->{headers}{authorization} // '') eq "Bearer $token";

    return list($req, $state) if $m eq 'GET' && $path eq $prefix;
    return create($req, $state) if $m eq 'POST' && $path eq $prefix;

    my ($id) = $path =~ m{^\Q$prefix\E/([0-9a-f]{32})\z}
        or return failure(404, 7003, 'no route for that URI');
    return update($req, $state, $id) if $m eq 'PUT';
    if ($m eq 'DELETE') {
        return failure(404, 81044, 'Record does not exist.')
            unless delete $state->{records}{$id};
        return success({ id => $id });
    }
    return failure(405, 10000, 'method not allowed');
});

my %base = (
    TENANTRY_DOMAIN                 => 'example.test',
    TENANTRY_DNS_PROVIDER           => 'cloudflare',
    TENANTRY_DNS_TARGET             => 'lb.example.net',
    TENANTRY_DNS_CLOUDFLARE_URL     => $fake->url . '/client/v4',
    TENANTRY_DNS_CLOUDFLARE_ZONE_ID => $zone,
    TENANTRY_DNS_CLOUDFLARE_TOKEN   => $token,
);
my $output = '';

sub dns {
    my ($action, $sub, %env) = @_;
    my ($rc, $out, $err) = run_tool([ $tool, $action, $sub ], %base, %env);

    $output .= $out . $err;
    return { rc => $rc, out => $out, err => $err };
}

# A request to the fake's own test resources (not under test).
sub fake_call {
    my ($method, $path, $body) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => ($fake->url =~ /:(\d+)$/)[0], Timeout => 5)
        or die "connect: $!";
    $body //= '';
    print {$sock} "$method $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
    local $/;
    my $raw = <$sock>;
    return $json->decode((split /\r\n\r\n/, $raw, 2)[1])->{result};
}

sub records_of {
    my ($name) = @_;
    return [ map { "$_->{type} $_->{content} $_->{ttl}" }
        grep { $_->{name} eq $name } @{ fake_call('GET', '/test/records') } ];
}

# The method and path of each request since n, the fake's own left out.
sub calls_since {
    my ($n) = @_;
    return [ map { "$_->{method} " . ($_->{path} =~ s{^\Q$prefix\E}{}r)
            . ($_->{query} ne '' ? "?$_->{query}" : '') . " $_->{status}" }
        grep { $_->{path} !~ m{^/test/} } $fake->requests_since($n) ];
}

sub count {
    my @all = $fake->requests;
    return scalar @all;
}

# 1. The first upsert lists the name, then creates the record.

my $n = count();
my $res = dns('upsert', 'acme');
is($res->{rc}, 0, 'upsert acme succeeds') or diag($res->{err});
my $calls = calls_since($n);
is_deeply($calls, [ 'GET ?name=acme.example.test&per_page=100 200',
    'POST  200' ], 'it lists the name, then POSTs the record');
is_deeply(records_of('acme.example.test'), ['CNAME lb.example.net 300'],
    'a CNAME to the target with TTL 300');
my ($post) = grep { $_->{method} eq 'POST' } $fake->requests_since($n);
is_deeply($json->decode($post->{body}), { type => 'CNAME',
    name => 'acme.example.test', content => 'lb.example.net', ttl => 300,
    proxied => JSON::PP::false }, 'the POST body is the record, unproxied');

# 2. The same upsert again finds the record as it should be: no write.

$n = count();
$res = dns('upsert', 'acme');
is($res->{rc}, 0, 'a second upsert succeeds') or diag($res->{err});
is_deeply(calls_since($n), [ 'GET ?name=acme.example.test&per_page=100 200' ],
    'and only lists');

# 3. Another TTL overwrites the record in place.

$n = count();
$res = dns('upsert', 'acme', TENANTRY_DNS_TTL => 600);
is($res->{rc}, 0, 'upsert with TTL 600') or diag($res->{err});
like(calls_since($n)->[1] // '', qr{^PUT /[0-9a-f]{32} 200$},
    'PUTs the existing record');
is_deeply(records_of('acme.example.test'), ['CNAME lb.example.net 600'],
    'which now has TTL 600');

# 4. An address target replaces the CNAME by an A record.

$n = count();
$res = dns('upsert', 'acme', TENANTRY_DNS_TARGET => '192.0.2.80');
is($res->{rc}, 0, 'upsert with an IPv4 target') or diag($res->{err});
is_deeply([ map { s{/[0-9a-f]{32}}{/ID}r } @{ calls_since($n) } ],
    [ 'GET ?name=acme.example.test&per_page=100 200', 'DELETE /ID 200',
        'POST  200' ], 'deletes the CNAME, then creates the A record');
is_deeply(records_of('acme.example.test'), ['A 192.0.2.80 300'],
    'only the A record is left');

# 5. Stale records of a name are cleared by an upsert.

fake_call('POST', '/test/seed', $json->encode({ type => 'A',
    name => 'beta.example.test', content => '198.51.100.1', ttl => 1,
    proxied => JSON::PP::false }));
fake_call('POST', '/test/seed', $json->encode({ type => 'AAAA',
    name => 'beta.example.test', content => '2001:db8::1', ttl => 1,
    proxied => JSON::PP::false }));
$res = dns('upsert', 'beta');
is($res->{rc}, 0, 'upsert beta over an old A and AAAA')
    or diag($res->{err});
is_deeply(records_of('beta.example.test'), ['CNAME lb.example.net 300'],
    'which leaves only the new CNAME');

# 6. Delete removes every record of the name; again is fine.

$n = count();
$res = dns('delete', 'acme');
is($res->{rc}, 0, 'delete acme succeeds') or diag($res->{err});
is_deeply(records_of('acme.example.test'), [], 'acme has no record');
$res = dns('delete', 'acme');
is($res->{rc}, 0, 'deleting it again succeeds') or diag($res->{err});
is_deeply([ map { s{/[0-9a-f]{32}}{/ID}r } @{ calls_since($n) } ],
    [ 'GET ?name=acme.example.test&per_page=100 200', 'DELETE /ID 200',
        'GET ?name=acme.example.test&per_page=100 200' ],
    'the second delete only listed');
is_deeply(records_of('beta.example.test'), ['CNAME lb.example.net 300'],
    'other names keep their records');

# 7. The token: every request carries it; from a file; a wrong one.

my @auth = map { $_->{headers}{authorization} // '' }
    grep { $_->{path} !~ m{^/test/} } $fake->requests;
is(scalar(grep { $_ ne "Bearer $token" } @auth), 0,
    'every request carried Authorization: Bearer and the token');

my $dir = tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/token" or die "$dir/token: $!";
print {$fh} "$token\n";
close $fh;
$res = dns('upsert', 'gamma', TENANTRY_DNS_CLOUDFLARE_TOKEN => undef,
    TENANTRY_DNS_CLOUDFLARE_TOKEN_FILE => "$dir/token");
is($res->{rc}, 0, 'the token can come from a _FILE') or diag($res->{err});

$res = dns('upsert', 'acme', TENANTRY_DNS_CLOUDFLARE_TOKEN => $wrong);
is($res->{rc}, 1, 'a wrong token fails');
like($res->{err},
    qr/Cloudflare refused to list the records of acme\.example\.test \(HTTP 403\): Authentication error/,
    'with Cloudflare\'s message');

for my $secret ($token, $wrong) {
    unlike($output, qr/\Q$secret\E/, 'no output shows a token');
}

$fake->stop;
done_testing();
