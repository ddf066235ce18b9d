# Route 53: tn_dns_upsert and tn_dns_delete (through t/unit/dns-tool)
# against a loopback stand-in that checks the ChangeResourceRecordSets
# request and recomputes its AWS Signature Version 4.
use strict;
use warnings;

use Digest::SHA qw(sha256_hex hmac_sha256 hmac_sha256_hex);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(strftime);
use Test::More;
use Time::Local qw(timegm);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Loopback;
use Tenantry::Test;

plan skip_all => 'HTTP::Daemon is not installed (libhttp-daemon-perl)'
    unless eval { require HTTP::Daemon; 1 };

my $tool = build_dir() . '/t/unit/dns-tool';
plan skip_all => "$tool is not built (make check-build)" unless -x $tool;

my $json = JSON::PP->new->canonical;
my $zone = 'ZTEST0123456789';
my $xmlns = 'https://route53.amazonaws.com/doc/2013-04-01/';

# Long-lived keys, and temporary ones that need their session token.
my %keys = (
    AKIATENANTRYTEST0001 => { secret => 'r53-secret/Key+unit-0001' },
    ASIATENANTRYTEST0002 => { secret => 'r53-temporary/Key+0002',
        token => 'r53-session-token-FwoGZXIvYXdzEunit' },
);
my @secrets = ('r53-secret/Key+unit-0001', 'r53-temporary/Key+0002',
    'r53-session-token-FwoGZXIvYXdzEunit', 'r53-wrong/Key+9999');

sub xml_error {
    my ($status, $code, $message) = @_;

    return ($status, [ 'Content-Type' => 'text/xml' ],
        qq{<?xml version="1.0"?>\n<ErrorResponse xmlns="$xmlns"><Error>}
        . qq{<Type>Sender</Type><Code>$code</Code><Message>$message}
        . qq{</Message></Error><RequestId>0f1e2d3c</RequestId>}
        . qq{</ErrorResponse>});
}

# A header value as SigV4 canonicalises it: trimmed, inner runs of
# spaces folded.
sub canonical_value {
    my ($value) = @_;
    $value =~ s/^\s+|\s+\z//g;
    $value =~ s/\s+/ /g;
    return $value;
}

sub canonical_query {
    my ($query) = @_;
    return join '&', sort grep { length } split /&/, $query // '';
}

# Recomputes the request's signature from the secret of the key it
# names.  Returns undef when it matches, else [status, code, message].
sub check_signature {
    my ($req) = @_;
    my $h = $req->{headers};
    my $auth = $h->{authorization} // '';

    my ($key, $date, $region, $service, $end, $signed, $signature) = $auth
        =~ m{^AWS4-HMAC-SHA256 Credential=(\w+)/(\d{8})/([\w-]+)/(\w+)/(\w+),\s*SignedHeaders=([a-z0-9;-]+),\s*Signature=([0-9a-f]{64})\z}
        or return [403, 'IncompleteSignature',
            'the Authorization header is not an AWS4-HMAC-SHA256 one'];

    return [403, 'IncompleteSignature',
        "the scope $region/$service/$end is not us-east-1/route53"]
        unless $region eq 'us-east-1' && $service eq 'route53'
        && $end eq 'aws4_request';

    my $stamp = $h->{'x-amz-date'} // '';
    my @t = $stamp =~ /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z\z/
        or return [403, 'IncompleteSignature', 'no valid X-Amz-Date'];
    my $when = timegm($t[5], $t[4], $t[3], $t[2], $t[1] - 1, $t[0]);

    return [403, 'SignatureDoesNotMatch', 'X-Amz-Date is not the credential date']
        unless substr($stamp, 0, 8) eq $date;
    return [403, 'RequestExpired', 'X-Amz-Date is more than 5 minutes off']
        if abs(time - $when) > 300;

    my @signed = split /;/, $signed;
    my %is_signed = map { $_ => 1 } @signed;

    return [403, 'SignatureDoesNotMatch', 'host and x-amz-date must be signed']
        unless $is_signed{host} && $is_signed{'x-amz-date'};
    return [403, 'SignatureDoesNotMatch', 'the session token must be signed']
        if exists $h->{'x-amz-security-token'}
        && !$is_signed{'x-amz-security-token'};
    return [403, 'SignatureDoesNotMatch', 'SignedHeaders are not sorted']
        unless join(';', sort @signed) eq $signed;

    my $account = $keys{$key}
        or return [403, 'InvalidClientTokenId', "no access key $key"];

    if (defined $account->{token}
        && ($h->{'x-amz-security-token'} // '') ne $account->{token}) {
        return [403, 'InvalidClientTokenId',
            'a temporary key needs its session token'];
    }

    my $canonical = join "\n", $req->{method}, $req->{path},
        canonical_query($req->{query}),
        join('', map { "$_:" . canonical_value($h->{$_} // '') . "\n" }
            @signed),
        $signed, sha256_hex($req->{body});
    my $scope = "$date/$region/$service/$end";
    my $to_sign = join "\n", 'AWS4-HMAC-SHA256', $stamp, $scope,
        sha256_hex($canonical);

    my $k = hmac_sha256($date, 'AWS4' . $account->{secret});
    $k = hmac_sha256($region, $k);
    $k = hmac_sha256($service, $k);
    $k = hmac_sha256($end, $k);

    return undef if hmac_sha256_hex($to_sign, $k) eq $signature;
    return [403, 'SignatureDoesNotMatch',
        'the signature computed with the key\'s secret differs from the one sent'];
}

# The one change of a ChangeResourceRecordSetsRequest, or undef.
sub parse_change {
    my ($xml) = @_;

    my ($batch) = $xml =~ m{\A<\?xml version="1\.0" encoding="UTF-8"\?>\s*<ChangeResourceRecordSetsRequest xmlns="\Q$xmlns\E">\s*<ChangeBatch>(.*)</ChangeBatch>\s*</ChangeResourceRecordSetsRequest>\s*\z}s
        or return undef;
    $batch =~ s{^\s*<Comment>[^<]*</Comment>}{};

    my ($action, $name, $type, $ttl, $records) = $batch =~ m{\A\s*<Changes>\s*<Change>\s*<Action>(CREATE|UPSERT|DELETE)</Action>\s*<ResourceRecordSet>\s*<Name>([^<]+)</Name>\s*<Type>([A-Z]+)</Type>\s*<TTL>(\d+)</TTL>\s*<ResourceRecords>((?:\s*<ResourceRecord>\s*<Value>[^<]+</Value>\s*</ResourceRecord>)+)\s*</ResourceRecords>\s*</ResourceRecordSet>\s*</Change>\s*</Changes>\s*\z}s
        or return undef;
    my @values = $records =~ m{<Value>([^<]+)</Value>}g;

    return { action => $action, name => $name, type => $type,
        ttl => $ttl + 0, values => \@values };
}

# Route 53's side of a change: UPSERT writes, DELETE needs an exact match.
sub apply_change {
    my ($state, $c) = @_;
    my $key = "$c->{name} $c->{type}";
    my $now = $state->{records}{$key};
    my $set = { ttl => $c->{ttl}, values => $c->{values} };

    if ($c->{action} eq 'DELETE') {
        return xml_error(400, 'InvalidChangeBatch',
            "Tried to delete resource record set [name='$c->{name}', type='$c->{type}'] but it was not found")
            unless $now;
        return xml_error(400, 'InvalidChangeBatch',
            "values given for [name='$c->{name}', type='$c->{type}'] differ from the record set")
            unless $json->encode($now) eq $json->encode($set);
        delete $state->{records}{$key};
    } else {
        $state->{records}{$key} = $set;
    }

    my $id = sprintf 'C%08d', ++$state->{changes};
    my $at = strftime('%Y-%m-%dT%H:%M:%S.000Z', gmtime);

    return (200, [ 'Content-Type' => 'text/xml' ],
        qq{<?xml version="1.0" encoding="UTF-8"?>\n}
        . qq{<ChangeResourceRecordSetsResponse xmlns="$xmlns"><ChangeInfo>}
        . qq{<Id>/change/$id</Id><Status>PENDING</Status>}
        . qq{<SubmittedAt>$at</SubmittedAt></ChangeInfo>}
        . qq{</ChangeResourceRecordSetsResponse>});
}

my $fake = loopback_server(sub {
    my ($req, $state) = @_;

    if ($req->{path} eq '/test/records') {
        return (200, [ 'Content-Type' => 'application/json' ],
            $json->encode($state->{records} || {}));
    }
    return xml_error(404, 'NoSuchHostedZone', 'no hosted zone at this path')
        unless $req->{path} eq "/2013-04-01/hostedzone/$zone/rrset";
    return xml_error(405, 'MethodNotAllowed', 'POST only')
        unless $req->{method} eq 'POST';

    my $refused = check_signature($req);
    return xml_error(@$refused) if $refused;

    my $change = parse_change($req->{body})
        or return xml_error(400, 'InvalidInput',
            'the body is no ChangeResourceRecordSetsRequest with one change');

    return apply_change($state, $change);
});

my %base = (
    TENANTRY_DOMAIN                    => 'example.test',
    TENANTRY_DNS_PROVIDER              => 'route53',
    TENANTRY_DNS_TARGET                => 'lb.example.net',
    TENANTRY_DNS_ROUTE53_URL           => $fake->url,
    TENANTRY_DNS_ROUTE53_ZONE_ID       => "/hostedzone/$zone",
    TENANTRY_DNS_AWS_ACCESS_KEY_ID     => 'AKIATENANTRYTEST0001',
    TENANTRY_DNS_AWS_SECRET_ACCESS_KEY => $keys{AKIATENANTRYTEST0001}{secret},
);
my $output = '';

sub dns {
    my ($action, $sub, %env) = @_;
    my ($rc, $out, $err) = run_tool([ $tool, $action, $sub ], %base, %env);

    $output .= $out . $err;
    return { rc => $rc, out => $out, err => $err };
}

sub records {
    my $res = http_get($fake->url . '/test/records');
    return $json->decode($res);
}

# A GET to the fake for its state (not a request under test).
sub http_get {
    my ($url) = @_;
    my ($port, $path) = $url =~ m{^http://127\.0\.0\.1:(\d+)(/.*)$};
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port, Timeout => 5) or die "connect: $!";

    print {$sock} "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    local $/;
    my $raw = <$sock>;
    return (split /\r\n\r\n/, $raw, 2)[1];
}

# 1. An upsert is one signed, well-formed change.

my $res = dns('upsert', 'acme');
is($res->{rc}, 0, 'upsert acme succeeds') or diag($res->{err});
is($res->{out}, "ok\n", 'and says ok');

my ($req) = $fake->requests;
is($req->{status}, 200, 'Route 53 accepted the change and its signature');
is($req->{method}, 'POST', 'the change is a POST');
is($req->{path}, "/2013-04-01/hostedzone/$zone/rrset",
    'to the hosted zone\'s rrset resource (the /hostedzone/ prefix dropped)');
like($req->{headers}{authorization} // '',
    qr{^AWS4-HMAC-SHA256 Credential=AKIATENANTRYTEST0001/\d{8}/us-east-1/route53/aws4_request,},
    'signed with SigV4 for us-east-1 and route53');
my $change = parse_change($req->{body});
is_deeply($change, { action => 'UPSERT', name => 'acme.example.test.',
    type => 'CNAME', ttl => 300, values => ['lb.example.net'] },
    'the body is one UPSERT of a CNAME with name, TTL and value');
is_deeply(records(), { 'acme.example.test. CNAME' => { ttl => 300,
    values => ['lb.example.net'] } }, 'the record set is there');

$res = dns('upsert', 'acme');
is($res->{rc}, 0, 'a second upsert succeeds too') or diag($res->{err});

# 2. Addresses make A and AAAA records; the TTL is the setting's.

$res = dns('upsert', 'beta', TENANTRY_DNS_TARGET => '192.0.2.7',
    TENANTRY_DNS_TTL => 60);
is($res->{rc}, 0, 'upsert with an IPv4 target') or diag($res->{err});
$res = dns('upsert', 'gamma', TENANTRY_DNS_TARGET => '2001:db8::7');
is($res->{rc}, 0, 'upsert with an IPv6 target') or diag($res->{err});
my $records = records();
is_deeply($records->{'beta.example.test. A'},
    { ttl => 60, values => ['192.0.2.7'] }, 'an A record with TTL 60');
is_deeply($records->{'gamma.example.test. AAAA'},
    { ttl => 300, values => ['2001:db8::7'] }, 'an AAAA record');

# 3. A delete removes the set; a second one finds nothing and succeeds.

my $before = () = $fake->requests;
$res = dns('delete', 'acme');
is($res->{rc}, 0, 'delete acme succeeds') or diag($res->{err});
ok(!exists records()->{'acme.example.test. CNAME'}, 'the record set is gone');
$res = dns('delete', 'acme');
is($res->{rc}, 0, 'deleting it again succeeds') or diag($res->{err});
my @deletes = grep { $_->{path} =~ /rrset/ } $fake->requests_since($before);
is_deeply([ map { parse_change($_->{body})->{action} } @deletes ],
    [ 'DELETE', 'DELETE' ], 'both were DELETE changes');
is_deeply([ map { $_->{status} } @deletes ], [ 200, 400 ],
    'the second got Route 53\'s "not found", taken as done');

# 4. Temporary credentials send their session token, signed.

$before = () = $fake->requests;
$res = dns('upsert', 'delta',
    TENANTRY_DNS_AWS_ACCESS_KEY_ID     => 'ASIATENANTRYTEST0002',
    TENANTRY_DNS_AWS_SECRET_ACCESS_KEY => $keys{ASIATENANTRYTEST0002}{secret},
    TENANTRY_DNS_AWS_SESSION_TOKEN     => $keys{ASIATENANTRYTEST0002}{token});
is($res->{rc}, 0, 'upsert with a session token') or diag($res->{err});
($req) = $fake->requests_since($before);
is($req->{headers}{'x-amz-security-token'}, $keys{ASIATENANTRYTEST0002}{token},
    'the token travels in X-Amz-Security-Token');
like($req->{headers}{authorization}, qr{SignedHeaders=[^,]*x-amz-security-token},
    'and is signed');

$res = dns('upsert', 'delta',
    TENANTRY_DNS_AWS_ACCESS_KEY_ID     => 'ASIATENANTRYTEST0002',
    TENANTRY_DNS_AWS_SECRET_ACCESS_KEY => $keys{ASIATENANTRYTEST0002}{secret});
is($res->{rc}, 1, 'a temporary key without its token is refused');
like($res->{err}, qr/HTTP 403, InvalidClientTokenId/, 'with Route 53\'s code');

# 5. Secrets from files.

my $dir = tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/secret" or die "$dir/secret: $!";
print {$fh} "$keys{AKIATENANTRYTEST0001}{secret}\n";
close $fh;
$res = dns('upsert', 'epsilon', TENANTRY_DNS_AWS_SECRET_ACCESS_KEY => undef,
    TENANTRY_DNS_AWS_SECRET_ACCESS_KEY_FILE => "$dir/secret");
is($res->{rc}, 0, 'the secret key can come from a _FILE')
    or diag($res->{err});

# 6. A wrong secret key: the signature does not match.

$before = () = $fake->requests;
$res = dns('upsert', 'acme',
    TENANTRY_DNS_AWS_SECRET_ACCESS_KEY => 'r53-wrong/Key+9999');
is($res->{rc}, 1, 'a wrong secret key fails the upsert');
($req) = $fake->requests_since($before);
is($req->{status}, 403, 'Route 53 answered 403');
like($res->{err},
    qr/Route 53 refused to set acme\.example\.test in hosted zone $zone \(HTTP 403, SignatureDoesNotMatch\): the signature computed/,
    'the message names the record, the status, the code and the reason');

# 7. Settings and transport failures.

$res = dns('upsert', 'acme', TENANTRY_DNS_AWS_ACCESS_KEY_ID => undef);
is($res->{rc}, 1, 'no access key id: fails');
like($res->{err}, qr/TENANTRY_DNS_AWS_ACCESS_KEY_ID \(or TENANTRY_DNS_AWS_ACCESS_KEY_ID_FILE\) is required/,
    'naming the setting');

my $closed = free_port();
$res = dns('upsert', 'acme',
    TENANTRY_DNS_ROUTE53_URL => "http://127.0.0.1:$closed");
is($res->{rc}, 1, 'an endpoint nobody listens on: fails');
like($res->{err}, qr{POST http://127\.0\.0\.1:$closed/2013-04-01/hostedzone/$zone/rrset: }i,
    'naming the request');

# 8. No secret in anything the tool printed.

for my $secret (@secrets) {
    unlike($output, qr/\Q$secret\E/, "the output never shows a secret");
}

$fake->stop;
done_testing();
