# Hostile FastCGI straight to tenantd's socket: oversized and numerous
# parameters, empty values, and crafted records (absurd lengths, a bad
# version, an unknown type, a truncated header, more stdin than
# announced).  Each costs at most the worker that read it, which the
# master replaces, while requests through nginx go on being served.  The
# socket itself is reachable by the service user (nginx) alone.

use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM SHUT_WR);
use Time::HiRes qw(time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my ($master, @workers) = tenantd_pids();
my $env = $master ? proc_environ($master) : {};
my ($socket) = ($env->{TENANTD_LISTEN}
    // "unix:$s->{state}/run/tenantd.sock") =~ /^unix:(.+)$/;
my $count = @workers;

plan skip_all => 'the stack\'s tenantd does not listen on a unix socket'
    unless $socket && -S $socket;

ok($master && kill(0, $master), 'the stack\'s tenantd master runs');
my $sub = unique_sub('fcgi');
is(register($sub, name => 'FastCGI tenant')->{status}, 201,
    "register $sub");

# FastCGI records (version 1): header, content, padding.
sub record {
    my ($type, $id, $content, %opt) = @_;
    my $pad = $opt{padding} // 0;
    return pack('CCnnCC', $opt{version} // 1, $type, $id,
        $opt{length} // length $content, $pad, 0) . $content . ("\0" x $pad);
}

sub name_value {
    my ($name, $value) = @_;
    my $len = sub { $_[0] < 128 ? pack('C', $_[0])
        : pack('N', $_[0] | 0x80000000) };
    return $len->(length $name) . $len->(length $value) . $name . $value;
}

# BEGIN_REQUEST (responder, keep no connection), the parameters in
# records of at most 65535 bytes, an empty PARAMS, the stdin, an empty
# STDIN.
sub fcgi_bytes {
    my ($params, $stdin) = @_;
    my $pairs = join '', map { name_value(@$_) } @$params;
    my $bytes = record(1, 1, pack('nCx5', 1, 0));

    for (my $i = 0; $i < length $pairs; $i += 65535) {
        $bytes .= record(4, 1, substr $pairs, $i, 65535);
    }
    $bytes .= record(4, 1, '');
    $bytes .= record(5, 1, $stdin) if defined $stdin && length $stdin;
    return $bytes . record(5, 1, '');
}

# Sends bytes to the socket (closing the sending side unless keep_open)
# and reads records until END_REQUEST, EOF or the bound.  Returns
# {status, headers, body, ended, eof, timeout}.
sub exchange {
    my ($bytes, %opt) = @_;
    my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $socket)
        or return { status => 0, error => "connect: $!" };
    my $sel = IO::Select->new($sock);
    my $deadline = time + ($opt{timeout} // 15);
    my ($raw, $stdout, $ended, $eof) = ('', '', 0, 0);

    local $SIG{PIPE} = 'IGNORE';
    syswrite $sock, $bytes;
    shutdown $sock, SHUT_WR unless $opt{keep_open};

    while (!$ended && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $sock, $raw, 65536, length $raw;
        if (!$n) {
            $eof = 1;
            last;
        }
        while (length $raw >= 8) {
            my ($v, $type, $id, $len, $pad) = unpack 'CCnnC', $raw;
            last if length $raw < 8 + $len + $pad;
            my $content = substr $raw, 8, $len;
            substr($raw, 0, 8 + $len + $pad) = '';
            $stdout .= $content if $type == 6;
            $ended = 1 if $type == 3;
        }
    }
    close $sock;

    my $res = Tenantry::Test::parse_cgi_response($stdout);
    $res->{status} = 0 unless length $stdout;
    @$res{qw(ended eof timeout)} = ($ended, $eof, !$ended && !$eof);
    return $res;
}

# What nginx's wildcard block passes for GET /api/tenant.
my @tenant_get = (
    [ TENANTRY_SITE => 'tenant' ], [ TENANT => $sub ],
    [ REQUEST_METHOD => 'GET' ], [ DOCUMENT_URI => '/api/tenant' ],
    [ REQUEST_ID => 'feedfacefeedfacefeedfacefeedface' ],
);

# A request through nginx, answered by the tenant.
sub served {
    my $res = http('GET', host_for($sub), '/api/tenant', timeout => 10);
    return $res->{status} == 200 && ref $res->{json} eq 'HASH'
        && ($res->{json}{subdomain} // '') eq $sub;
}

# The master is the same, has all its workers again (at most one of them
# new), and a request through nginx is served.
sub still_serving {
    my ($name, @before) = @_;
    my %before = map { $_ => 1 } @before;
    my @now;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    ok(wait_until(sub {
        my ($m, @w) = tenantd_pids();
        @now = @w;
        return defined $m && $m == $master && @w == $count;
    }, 10), "$name: the master has its $count workers")
        or diag("workers now: @now");
    cmp_ok(scalar(grep { !$before{$_} } @now), '<=', 1,
        "$name: at most one worker was replaced");
    ok(served(), "$name: a request through nginx is served");
}

# 1. Big, many and empty parameters are answered like any request.

{
    my (undef, @before) = tenantd_pids();
    my $res = exchange(fcgi_bytes([ @tenant_get,
        [ HTTP_COOKIE => 'tn_session=' . ('c' x 16384) ] ]));

    is($res->{status}, 200, 'a 16 KB cookie: 200');
    is(($res->{json} || {})->{subdomain}, $sub, 'a 16 KB cookie: the tenant');

    $res = exchange(fcgi_bytes([ @tenant_get,
        [ HTTP_X_BIG => 'b' x 200000 ] ]));
    is($res->{status}, 200, 'a 200 KB parameter over four records: 200');

    $res = exchange(fcgi_bytes([ @tenant_get,
        map { [ "HTTP_X_P$_" => "value $_" ] } 1 .. 1000 ]));
    is($res->{status}, 200, '1000 parameters: 200');
    is(($res->{json} || {})->{subdomain}, $sub, '1000 parameters: the tenant');

    $res = exchange(fcgi_bytes([ map { [ $_->[0] => '' ] } @tenant_get ]));
    is_problem($res, 404, 'empty values');

    $res = exchange(fcgi_bytes([ [ TENANTRY_SITE => 'tenant' ],
        [ TENANT => '' ], [ REQUEST_METHOD => 'GET' ],
        [ DOCUMENT_URI => '/api/tenant' ] ]));
    is_problem($res, 404, 'an empty tenant');

    $res = exchange(fcgi_bytes([ [ REQUEST_METHOD => 'GET' ],
        [ DOCUMENT_URI => '/admin/tenants' ],
        [ HTTP_AUTHORIZATION => "Bearer $s->{token}" ] ]));
    is_problem($res, 404, 'no site: not even the admin API');

    $res = exchange(fcgi_bytes([]));
    is_problem($res, 404, 'no parameters at all');

    $res = exchange(fcgi_bytes([ @tenant_get, [ TENANT => "$sub\0x" ],
        [ '' => 'no name' ], [ "\xff\xfe" => "\xff" ] ]));
    ok($res->{status} >= 200 && $res->{status} < 500,
        "odd names and a second TENANT: $res->{status}, not 5xx");

    still_serving('parameters', @before);
}

# 2. Crafted records: each answered or closed, never a hang, never a
#    crash that costs more than the worker.  (No management records,
#    request id 0: libfcgi leaks 48 bytes of each one it answers, which
#    the leak checker of the test build reports; nginx never sends one.)

my @records = (
    [ 'a bad version', record(1, 1, pack('nCx5', 1, 0), version => 2)
        . fcgi_bytes(\@tenant_get) ],
    [ 'an unknown record type first', record(99, 1, 'xxxxxxxx')
        . fcgi_bytes(\@tenant_get) ],
    [ 'an unknown role', record(1, 1, pack('nCx5', 7, 0))
        . record(4, 1, '') . record(5, 1, '') ],
    [ 'PARAMS before BEGIN_REQUEST', record(4, 1, name_value(A => 'b'))
        . fcgi_bytes(\@tenant_get) ],
    [ 'a name length of 2^31-1', record(1, 1, pack('nCx5', 1, 0))
        . record(4, 1, pack('NN', 0xffffffff, 1) . 'abc')
        . record(4, 1, '') . record(5, 1, '') ],
    [ 'a value length past the record', record(1, 1, pack('nCx5', 1, 0))
        . record(4, 1, pack('CN', 4, 0x8000ffff) . 'NAME' . 'v' x 10)
        . record(4, 1, '') . record(5, 1, '') ],
    [ 'a content length past the data', record(1, 1, pack('nCx5', 1, 0))
        . record(4, 1, 'abc', length => 65535) ],
    [ 'padding of 255', record(1, 1, pack('nCx5', 1, 0), padding => 255)
        . record(4, 1, join('', map { name_value(@$_) } @tenant_get),
            padding => 255) . record(4, 1, '') . record(5, 1, '') ],
    [ 'a truncated header', "\x01\x01\x00" ],
    [ 'a truncated BEGIN_REQUEST', record(1, 1, "\x00\x01") ],
    [ 'garbage', 'GET / HTTP/1.1' . "\r\n" x 40 ],
    [ 'another request id in between', record(1, 1, pack('nCx5', 1, 0))
        . record(4, 2, name_value(TENANT => 'other'))
        . record(4, 1, join('', map { name_value(@$_) } @tenant_get))
        . record(4, 1, '') . record(5, 1, '') ],
    [ 'stdin larger than announced', fcgi_bytes([
        [ TENANTRY_SITE => 'tenant' ], [ TENANT => $sub ],
        [ REQUEST_METHOD => 'POST' ], [ DOCUMENT_URI => '/api/session' ],
        [ CONTENT_TYPE => 'application/json' ], [ CONTENT_LENGTH => 2 ] ],
        '{}' . ('x' x 100000)), 422 ],
    [ 'stdin shorter than announced', fcgi_bytes([
        [ TENANTRY_SITE => 'tenant' ], [ TENANT => $sub ],
        [ REQUEST_METHOD => 'POST' ], [ DOCUMENT_URI => '/api/session' ],
        [ CONTENT_TYPE => 'application/json' ],
        [ CONTENT_LENGTH => 100000 ] ], '{}'), 400 ],
    [ 'a Content-Length of 2^63', fcgi_bytes([
        [ TENANTRY_SITE => 'tenant' ], [ TENANT => $sub ],
        [ REQUEST_METHOD => 'POST' ], [ DOCUMENT_URI => '/api/session' ],
        [ CONTENT_TYPE => 'application/json' ],
        [ CONTENT_LENGTH => '9223372036854775808' ] ], '{}'), 413, 400 ],
    [ 'a negative Content-Length', fcgi_bytes([
        [ TENANTRY_SITE => 'tenant' ], [ TENANT => $sub ],
        [ REQUEST_METHOD => 'POST' ], [ DOCUMENT_URI => '/api/session' ],
        [ CONTENT_TYPE => 'application/json' ],
        [ CONTENT_LENGTH => '-5' ] ], '{}'), 400 ],
);

for my $case (@records) {
    my ($name, $bytes, @statuses) = @$case;
    my (undef, @before) = tenantd_pids();
    my $res = exchange($bytes);

    ok(!$res->{timeout}, "$name: answered or closed, no hang")
        or diag("status $res->{status}");
    if (@statuses) {
        my $want = grep({ $_ == $res->{status} } @statuses)
            ? $res->{status} : $statuses[0];
        is_problem($res, $want, $name);
    } else {
        ok($res->{status} == 0 || $res->{status} < 500,
            "$name: no 5xx ($res->{status})");
        ok($res->{status} != 200
            || (($res->{json} || {})->{subdomain} // '') eq $sub,
            "$name: an answer, if any, is the request's own tenant");
    }
    still_serving($name, @before);
}

# 3. Connections that stop half-way hold one worker each, for at most
#    the read bound; meanwhile requests through nginx are served.

{
    my (undef, @before) = tenantd_pids();
    my @held;

    for my $bytes ("\x01\x01", record(1, 1, pack('nCx5', 1, 0))
        . record(4, 1, name_value(TENANT => $sub)))
    {
        my $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM,
            Peer => $socket);
        syswrite $sock, $bytes if $sock;
        push @held, $sock if $sock;
    }
    is(scalar @held, 2, 'two connections stop half-way');

    my $ok = grep { served() } 1 .. 10;
    is($ok, 10, 'meanwhile 10 requests through nginx are served');
    close $_ for @held;
    still_serving('half-way connections', @before);
}

# 4. Only the service user reaches the socket.

{
    my @st = stat $socket;
    my $run = $socket =~ s{/[^/]+\z}{}r;
    my @dir = stat $run;
    my ($nginx_pid) = do {
        open my $fh, '<', "$s->{state}/run/nginx.pid";
        $fh ? (<$fh> // '') =~ /(\d+)/ : ();
    };

    is(sprintf('%04o', $st[2] & 07777), '0660', 'the socket is mode 0660');
    is($st[2] & 07, 0, 'others have no right on the socket');
    is($dir[2] & 07, 0, "others cannot enter $run");
    is($st[4], (stat "/proc/$master")[4],
        'the socket belongs to the user tenantd runs as');

    SKIP: {
        skip 'nginx.pid is missing', 1 unless $nginx_pid;
        is((stat "/proc/$nginx_pid")[4], $st[4],
            'nginx runs as the socket\'s owner');
    }

    # tenantd has no TCP socket at all: only the unix one.
    my %inodes;
    for my $pid ($master, @workers) {
        for my $fd (glob "/proc/$pid/fd/*") {
            my $link = readlink $fd // next;
            $inodes{$1} = 1 if $link =~ /^socket:\[(\d+)\]$/;
        }
    }
    my @tcp;
    for my $table ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $table or next;
        while (<$fh>) {
            my @f = split;
            push @tcp, "$table: $f[1]" if defined $f[9] && $inodes{ $f[9] };
        }
    }
    ok(%inodes, 'tenantd\'s sockets are found');
    is("@tcp", '', 'none of them is a TCP socket');

    SKIP: {
        skip 'only root can try another user', 1 unless $> == 0;
        my ($rc, $out) = capture([ 'setpriv', '--reuid=nobody',
            '--regid=nogroup', '--clear-groups', $^X, '-MIO::Socket::UNIX',
            '-e', 'IO::Socket::UNIX->new(Peer => $ARGV[0]) or die "$!\n";'
            . ' print "connected\n"', $socket ]);
        isnt($rc, 0, 'the user nobody cannot connect to the socket');
        like($out, qr/Permission denied/, 'nobody: permission denied');
    }
}

done_testing();
