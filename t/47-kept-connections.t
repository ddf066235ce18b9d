# FastCGI connections kept open between requests (FCGI_KEEP_CONN): one
# connection carries requests for two tenants in turn and each gets its
# own data; an idle kept connection holds one worker, and the others
# still answer new connections; a stop does not wait for it.  Then the
# same through nginx rendered with TENANTRY_FASTCGI_KEEPALIVE.
use strict;
use warnings;

use File::Temp qw(tempdir);
use IO::Select;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Socket qw(SOCK_STREAM);
use Test::More;
use Time::HiRes qw(time);

use Tenantry::Test;

plan skip_all => 'FCGI::Client is not installed'
    . ' (Debian package libfcgi-client-perl)'
    unless eval { require FCGI::Client; 1 };

my $workers = 2;
my $t = start_tenantd(TENANTD_WORKERS => $workers);

# two tenants with different data: B's owner adds a second user
my $a = new_tenant('kca');
my $b = new_tenant('kcb');
add_user($b, name => 'Second');
my %want = (
    $a->{sub} => "$a->{sub} t_$a->{sub} 1",
    $b->{sub} => "$b->{sub} t_$b->{sub} 2",
);

sub params_for {
    my ($sub) = @_;
    return { TENANTRY_SITE => 'tenant', TENANT => $sub,
        REQUEST_METHOD => 'GET', DOCUMENT_URI => '/api/tenant',
        REQUEST_ID => 'c' x 32 };
}

sub connect_tenantd {
    return IO::Socket::UNIX->new(Type => SOCK_STREAM,
        Peer => $t->{socket});
}

# Reads exactly n bytes within the deadline; undef on EOF or timeout.
sub read_exactly {
    my ($sock, $n, $deadline) = @_;
    my $sel = IO::Select->new($sock);
    my $buf = '';

    while (length $buf < $n) {
        my $left = $deadline - time;
        return undef if $left <= 0 || !$sel->can_read($left);
        my $got = sysread $sock, $buf, $n - length $buf, length $buf;
        return undef unless $got;
    }
    return $buf;
}

# One FastCGI request on an open connection, with or without
# FCGI_KEEP_CONN; reads records up to FCGI_END_REQUEST.  Returns the
# parsed answer, status 0 when the connection broke first.
sub request_on {
    my ($sock, $params, $keep) = @_;
    my $f = 'FCGI::Client::RecordFactory';
    my $deadline = time + 10;
    my $stdout = '';

    local $SIG{PIPE} = 'IGNORE';
    syswrite $sock, join '', $f->build_begin_request(1, 1, $keep ? 1 : 0),
        $f->build_params(1, %$params), $f->build_params(1),
        $f->build_stdin(1, '');

    for (;;) {
        my $head = read_exactly($sock, 8, $deadline);
        return { status => 0, error => 'no answer' } unless defined $head;
        my (undef, $type, undef, $len, $pad) = unpack 'CCnnC', $head;
        my $content = read_exactly($sock, $len + $pad, $deadline);
        return { status => 0, error => 'cut short' } unless defined $content;
        $stdout .= substr $content, 0, $len if $type == 6;
        return Tenantry::Test::parse_cgi_response($stdout) if $type == 3;
    }
}

sub tenant_of {
    my ($res) = @_;
    my $j = ref $res->{json} eq 'HASH' ? $res->{json} : {};
    return join ' ', map { $_ // '-' } $j->{subdomain}, $j->{schema},
        $j->{users};
}

# 1. Two tenants in turn over one kept connection.
my $kept = connect_tenantd();
ok($kept, 'a client connects to tenantd');
my @got;
for my $i (1 .. 8) {
    my $sub = $i % 2 ? $a->{sub} : $b->{sub};
    my $res = request_on($kept, params_for($sub), 1);
    push @got, $res->{status} == 200 ? tenant_of($res)
        : "$res->{status} " . ($res->{error} // $res->{body});
}
is_deeply(\@got, [map { $want{ $_ % 2 ? $a->{sub} : $b->{sub} } } 1 .. 8],
    'eight requests on one kept connection, tenants A and B in turn,'
    . ' each answered with its own tenant');

# 2. The kept connection, idle now, holds one of the two workers: more
# new connections at once than workers are still all answered.
my $clients = $workers + 1;
my $dir = tempdir(CLEANUP => 1);
my @kids;
for my $client (1 .. $clients) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $sub = $client % 2 ? $a->{sub} : $b->{sub};
        my $res = fcgi_request($t->{socket}, params_for($sub));
        open my $fh, '>', "$dir/client.$client" or POSIX::_exit(1);
        print {$fh} $res->{status} == 200 && tenant_of($res) eq $want{$sub}
            ? "ok\n" : "$res->{status} " . tenant_of($res) . "\n";
        close $fh;
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
ok(wait_until(sub { !grep { waitpid($_, WNOHANG) == 0 } @kids }, 60),
    "$clients clients on new connections finish");
my @answers = map {
    open my $fh, '<', "$dir/client.$_" or next;
    scalar <$fh>;
} 1 .. $clients;
is_deeply(\@answers, [("ok\n") x $clients],
    "with one of $workers workers held by the idle kept connection, all"
    . " $clients get their own tenant");

my $res = request_on($kept, params_for($b->{sub}), 1);
is(tenant_of($res), $want{ $b->{sub} },
    'the kept connection still serves its next request');

# 3. Without FCGI_KEEP_CONN the worker closes the connection.
my $once = connect_tenantd();
$res = request_on($once, params_for($a->{sub}), 0);
is(tenant_of($res), $want{ $a->{sub} }, 'a request without keep-conn');
is(read_exactly($once, 1, time + 10), undef,
    'and then tenantd closes that connection');

# 4. A stop does not wait for a kept connection that stays idle.
my $status = stop_tenantd($t, 5 + 5);
ok(defined $status, 'SIGTERM with a kept connection idle: the master'
    . ' exits within the shutdown bound') or show_tenantd_log($t);
is($status, 0, 'and exits 0') if defined $status;
is(read_exactly($kept, 1, time + 10), undef,
    'the kept connection is closed by the stop');

# 5. nginx keeping one connection to a tenantd with two workers.
subtest 'nginx with TENANTRY_FASTCGI_KEEPALIVE=1' => sub {
    my $t2 = start_tenantd(TENANTD_WORKERS => $workers);
    my $nginx = start_nginx(TENANTRY_FASTCGI => "unix:$t2->{socket}",
        TENANTRY_FASTCGI_KEEPALIVE => 1);
    my $port = $nginx->{port};
    like(slurp($nginx->{conf}), qr/keepalive 1;.*fastcgi_keep_conn on;/s,
        'the configuration keeps connections');

    my @seen;
    for my $i (1 .. 10) {
        my $sub = $i % 2 ? $a->{sub} : $b->{sub};
        my $r = Tenantry::Test::raw_exchange_to($port,
            "GET /api/tenant HTTP/1.1\r\nHost: $sub.localhost:$port\r\n"
            . "Connection: close\r\n\r\n", 10);
        push @seen, $r->{status} == 200 ? tenant_of($r) : $r->{status};
    }
    is_deeply(\@seen,
        [map { $want{ $_ % 2 ? $a->{sub} : $b->{sub} } } 1 .. 10],
        'ten requests through nginx, A and B in turn, each its own');
    ok(wait_until(sub { connections_to($t2->{socket}) == 1 }, 10),
        'nginx keeps one connection to tenantd open')
        or diag('connections: ' . connections_to($t2->{socket}));

    stop_nginx($nginx);
    my $st = stop_tenantd($t2, 5 + 5);
    is($st, 0, 'tenantd stops');
};

# Connected sockets tenantd accepted on its socket (/proc/net/unix names
# them by the listening socket's path; state 03 is connected).
sub connections_to {
    my ($path) = @_;
    open my $fh, '<', '/proc/net/unix' or return -1;
    my $n = 0;
    while (<$fh>) {
        my @f = split;
        $n++ if @f >= 8 && $f[7] eq $path && $f[5] eq '03';
    }
    return $n;
}

done_testing();
