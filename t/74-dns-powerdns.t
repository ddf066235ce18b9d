# PowerDNS: tn_dns_upsert and tn_dns_delete (through t/unit/dns-tool)
# against a real authoritative server on 127.0.0.1 with its HTTP API and
# an sqlite3 backend made here; dig asks it what it answers.
use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Loopback;
use Tenantry::Test;

my ($pdns, $pdnsutil, $dig, $sqlite) = map { which($_) }
    qw(pdns_server pdnsutil dig sqlite3);
my ($schema) = grep { -r } '/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql',
    '/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql';
my $tool = build_dir() . '/t/unit/dns-tool';

plan skip_all => 'PowerDNS, dig or sqlite3 is missing (script/packages'
    . ' --test installs pdns-server, pdns-backend-sqlite3, dnsutils, sqlite3)'
    unless $pdns && $pdnsutil && $dig && $sqlite && $schema
    && glob('/usr/lib/*/pdns/libgsqlite3backend.so');
plan skip_all => "$tool is not built (make check-build)" unless -x $tool;

my $key = 'pdns-api-key-unit-7f3a';
my $wrong = 'pdns-wrong-key-0000';
my $domain = 'example.test';
my $dir = tempdir(CLEANUP => 1);
my $dns_port = free_port();
my $api_port = free_port();
my $server_pid;

sub which {
    my ($name) = @_;
    my ($path) = grep { -x } map { "$_/$name" }
        split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin';
    return $path;
}

END {
    if ($server_pid) {
        kill 'TERM', $server_pid;
        waitpid $server_pid, 0;
    }
}

# The server's configuration: loopback only, no outside lookups (the
# security poll is off), no caches so that answers follow the API.
sub write_config {
    open my $fh, '>', "$dir/pdns.conf" or die "$dir/pdns.conf: $!";
    print {$fh} <<"CONF";
launch=gsqlite3
gsqlite3-database=$dir/pdns.sqlite3
local-address=127.0.0.1
local-port=$dns_port
webserver=yes
webserver-address=127.0.0.1
webserver-port=$api_port
webserver-allow-from=127.0.0.0/8
api=yes
api-key=$key
socket-dir=$dir
security-poll-suffix=
cache-ttl=0
negquery-cache-ttl=0
query-cache-ttl=0
zone-cache-refresh-interval=0
daemon=no
guardian=no
disable-syslog=yes
loglevel=4
setuid=
setgid=
CONF
    close $fh;
}

sub start_server {
    my ($rc, $out) = capture([ $sqlite, "$dir/pdns.sqlite3",
        ".read $schema" ]);
    die "cannot create the sqlite3 database: $out\n" if $rc;

    write_config();
    ($rc, $out) = capture([ $pdnsutil, "--config-dir=$dir", 'create-zone',
        $domain, "ns1.$domain" ]);
    die "pdnsutil create-zone failed: $out\n" if $rc;

    $server_pid = fork() // die "fork: $!\n";
    if ($server_pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$dir/pdns.log";
        open STDERR, '>&', \*STDOUT;
        exec $pdns, "--config-dir=$dir" or POSIX::_exit(127);
    }

    return wait_until(sub {
        my $res = raw_get($api_port, '/api/v1/servers/localhost');
        return $res =~ m{^HTTP/1\.[01] 200};
    }, 20);
}

# A bare HTTP GET to the API with the key (used to wait for it).
sub raw_get {
    my ($port, $path) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $port, Timeout => 2) or return '';
    print {$sock} "GET $path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
        . "X-API-Key: $key\r\n\r\n";
    local $/;
    return <$sock> // '';
}

# What the server answers for a name and type: (status, answers).
sub ask {
    my ($name, $type) = @_;
    my ($rc, $out) = capture([ $dig, '@127.0.0.1', '-p', $dns_port,
        '+time=2', '+tries=2', '+norecurse', $name, $type ]);
    my ($status) = $out =~ /status: (\w+)/;
    my @answers = map { (split /\s+/)[4] }
        grep { /^\Q$name\E\.\s+\d+\s+IN\s+\Q$type\E\s/ } split /\n/, $out;

    return ($status // "dig failed: $out", join ' ', @answers);
}

my %base = (
    TENANTRY_DOMAIN           => $domain,
    TENANTRY_DNS_PROVIDER     => 'powerdns',
    TENANTRY_DNS_TARGET       => 'lb.example.net',
    TENANTRY_DNS_POWERDNS_URL => "http://127.0.0.1:$api_port/",
    TENANTRY_DNS_POWERDNS_KEY => $key,
);
my $output = '';

sub dns {
    my ($action, $sub, %env) = @_;
    my ($rc, $out, $err) = run_tool([ $tool, $action, $sub ], %base, %env);

    $output .= $out . $err;
    return { rc => $rc, out => $out, err => $err };
}

ok(start_server(), "PowerDNS answers its API on 127.0.0.1:$api_port")
    or do {
        diag(`tail -n 20 $dir/pdns.log`);
        done_testing();
        exit 1;
    };

my ($status, $answer) = ask("acme.$domain", 'CNAME');
is($status, 'NXDOMAIN', 'before the upsert the name does not exist');

# 1. Upsert: a CNAME to the target, idempotent.

my $res = dns('upsert', 'acme');
is($res->{rc}, 0, 'upsert acme succeeds') or diag($res->{err});
($status, $answer) = ask("acme.$domain", 'CNAME');
is("$status $answer", 'NOERROR lb.example.net.',
    'dig answers the CNAME to the target');

$res = dns('upsert', 'acme');
is($res->{rc}, 0, 'a second upsert succeeds') or diag($res->{err});
($status, $answer) = ask("acme.$domain", 'CNAME');
is("$status $answer", 'NOERROR lb.example.net.', 'and changes nothing');

# 2. A new target of another type replaces the old record; TTL as set.

$res = dns('upsert', 'acme', TENANTRY_DNS_TARGET => '192.0.2.44',
    TENANTRY_DNS_TTL => 120);
is($res->{rc}, 0, 'upsert with an IPv4 target') or diag($res->{err});
($status, $answer) = ask("acme.$domain", 'A');
is("$status $answer", 'NOERROR 192.0.2.44', 'dig answers the A record');
($status, $answer) = ask("acme.$domain", 'CNAME');
is($answer, '', 'and the CNAME is gone');
my ($rc, $out) = capture([ $dig, '@127.0.0.1', '-p', $dns_port, '+time=2',
    '+noall', '+answer', "acme.$domain", 'A' ]);
like($out, qr/^acme\.\Q$domain\E\.\s+120\s+IN\s+A\s+192\.0\.2\.44$/m,
    'with TTL 120');

$res = dns('upsert', 'beta', TENANTRY_DNS_TARGET => '2001:db8::44');
is($res->{rc}, 0, 'upsert with an IPv6 target') or diag($res->{err});
($status, $answer) = ask("beta.$domain", 'AAAA');
is("$status $answer", 'NOERROR 2001:db8::44', 'dig answers the AAAA');

# 3. Delete: the name is gone; deleting again succeeds.

for my $sub (qw(acme beta)) {
    $res = dns('delete', $sub);
    is($res->{rc}, 0, "delete $sub succeeds") or diag($res->{err});
    ($status) = ask("$sub.$domain", 'CNAME');
    is($status, 'NXDOMAIN', "dig finds no $sub any more");
}
$res = dns('delete', 'acme');
is($res->{rc}, 0, 'deleting a missing record succeeds')
    or diag($res->{err});

# 4. The key from a file; a wrong key; a zone the server lacks.

open my $fh, '>', "$dir/key" or die "$dir/key: $!";
print {$fh} "$key\n";
close $fh;
$res = dns('upsert', 'gamma', TENANTRY_DNS_POWERDNS_KEY => undef,
    TENANTRY_DNS_POWERDNS_KEY_FILE => "$dir/key");
is($res->{rc}, 0, 'the key can come from a _FILE') or diag($res->{err});
($status, $answer) = ask("gamma.$domain", 'CNAME');
is($answer, 'lb.example.net.', 'and the record is there');

$res = dns('upsert', 'acme', TENANTRY_DNS_POWERDNS_KEY => $wrong);
is($res->{rc}, 1, 'a wrong key fails');
like($res->{err},
    qr/PowerDNS refused to set acme\.example\.test in zone example\.test \(HTTP 401\)/,
    'with a message naming the record and the status');

$res = dns('upsert', 'acme', TENANTRY_DNS_ZONE => 'test');
is($res->{rc}, 1, 'a zone the server does not have fails');
like($res->{err}, qr/\(HTTP 404\)/, 'with PowerDNS\'s 404');

# 5. Onboarding and purging through tenantd: the record comes and goes.

my $t = start_tenantd(%base);
my $sub = unique_sub('dns');
my %admin = (TENANTRY_SITE => 'main', REQUEST_ID => 'a' x 32,
    HTTP_AUTHORIZATION => 'Bearer ' . stack()->{token},
    CONTENT_TYPE => 'application/json');
my $body = qq({"subdomain":"$sub","name":"DNS","owner":)
    . qq({"email":"o\@$sub.test","password":"dns password"}});
$res = fcgi_request($t->{socket}, { %admin, REQUEST_METHOD => 'POST',
    DOCUMENT_URI => '/admin/register-user',
    CONTENT_LENGTH => length $body }, body => $body);
is($res->{status}, 201, 'onboarding with PowerDNS configured succeeds')
    or diag($res->{body});
($status, $answer) = ask("$sub.$domain", 'CNAME');
is("$status $answer", 'NOERROR lb.example.net.',
    'the DNS server answers the new tenant\'s name');

for my $step ([ 'DELETE', "/admin/tenants/$sub", 200 ],
    [ 'DELETE', "/admin/tenants/$sub", 204, 'purge=true' ]) {
    $res = fcgi_request($t->{socket}, { %admin, REQUEST_METHOD => $step->[0],
        DOCUMENT_URI => $step->[1], QUERY_STRING => $step->[3] // '' });
    is($res->{status}, $step->[2], "$step->[0] $step->[1]"
        . ($step->[3] ? "?$step->[3]" : '') . " answers $step->[2]")
        or diag($res->{body});
}
($status) = ask("$sub.$domain", 'CNAME');
is($status, 'NXDOMAIN', 'purging the tenant removed its record');
stop_tenantd($t, 15);
$output .= do { local (@ARGV, $/) = $t->{log}; <> } // '';

# 6. Nothing printed a key.

for my $secret ($key, $wrong) {
    unlike($output, qr/\Q$secret\E/, 'no output shows a key');
}
my $log = do { local (@ARGV, $/) = "$dir/pdns.log"; <> } // '';
unlike($log, qr/\Q$key\E/, 'the server\'s log shows no key either');

kill 'TERM', $server_pid;
ok(wait_until(sub { waitpid($server_pid, WNOHANG) == $server_pid }, 10),
    'PowerDNS stops');
$server_pid = undef;

done_testing();
