# tenantd's status page and metrics: what they say about the workers and
# the requests, and who may read them (the main domain, from the
# operator's addresses, with nginx's mark; never a tenant's host).

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use POSIX ();
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

plan skip_all => 'FCGI::Client is not installed'
    . ' (Debian package libfcgi-client-perl)'
    unless eval { require FCGI::Client; 1 };

my $s = stack();
my $sub = unique_sub('status');
is(register($sub)->{status}, 201, "register $sub");

# What nginx passes for the status locations and for a tenant's API.
my %status_params = (
    TENANTRY_SITE   => 'main',
    TENANTRY_STATUS => 'on',
    REQUEST_METHOD  => 'GET',
    DOCUMENT_URI    => '/status',
    QUERY_STRING    => 'json',
);
my %tenant_params = (
    TENANTRY_SITE  => 'tenant',
    TENANT         => $sub,
    REQUEST_METHOD => 'GET',
    DOCUMENT_URI   => '/api/tenant',
);

# The status document of a tenantd spoken to over FastCGI.
sub status_of {
    my ($socket) = @_;
    my $res = fcgi_request($socket, \%status_params);
    return ref $res->{json} eq 'HASH' ? $res->{json} : {};
}

# Parses Prometheus text exposition and checks its form; returns a hash
# of series ("name{labels}") to values, and a list of problems found.
sub parse_metrics {
    my ($text) = @_;
    my (%value, %type, @problems);
    my $name_re = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
    my $label_re = qr/[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"/;
    my $value_re = qr/[-+]?(?:\d+(?:\.\d*)?(?:[eE][-+]?\d+)?|Inf|NaN)/;

    push @problems, 'does not end in a newline' unless $text =~ /\n\z/;

    for my $line (split /\n/, $text) {
        if ($line =~ /^# HELP ($name_re) \S/) {
            next;
        }
        if ($line =~ /^# TYPE ($name_re) (counter|gauge|histogram)$/) {
            push @problems, "second TYPE for $1" if $type{$1};
            $type{$1} = $2;
            next;
        }
        my ($name, $labels, $v) = $line
            =~ /^($name_re)(?:\{((?:$label_re)(?:,$label_re)*)\})? ($value_re)$/;

        unless (defined $name) {
            push @problems, "not a sample: $line";
            next;
        }
        (my $family = $name) =~ s/_(?:bucket|sum|count)$//;
        push @problems, "no TYPE before $name"
            unless $type{$name} || ($type{$family} // '') eq 'histogram';

        my $series = $name . '{' . ($labels // '') . '}';
        push @problems, "$series twice" if exists $value{$series};
        $value{$series} = $v;
    }

    push @problems, histogram_problems(\%value, \%type);
    return (\%value, @problems);
}

# Every histogram series: buckets in order of le, cumulative, the last
# +Inf and equal to _count; a _sum beside it.
sub histogram_problems {
    my ($value, $type) = @_;
    my (%buckets, @problems);

    for my $series (keys %$value) {
        my ($name, $labels) = $series =~ /^(\w+)_bucket\{(.*)\}$/ or next;
        my ($le) = $labels =~ /(?:^|,)le="([^"]*)"/;
        (my $rest = $labels) =~ s/,?le="[^"]*"//;

        push @{ $buckets{"$name\{$rest\}"} }, [$le, $value->{$series}];
    }

    for my $key (sort keys %buckets) {
        my ($name, $labels) = $key =~ /^(\w+)\{(.*)\}$/;
        my @b = sort { num($a->[0]) <=> num($b->[0]) } @{ $buckets{$key} };
        my $count = $value->{"${name}_count\{$labels\}"};

        push @problems, "$key: not a histogram"
            unless ($type->{$name} // '') eq 'histogram';
        push @problems, "$key: no _sum"
            unless defined $value->{"${name}_sum\{$labels\}"};
        push @problems, "$key: the last bucket is not +Inf"
            unless $b[-1][0] eq '+Inf';
        push @problems, "$key: +Inf is not _count"
            unless defined $count && $b[-1][1] == $count;
        for my $i (1 .. $#b) {
            push @problems, "$key: le=$b[$i][0] is below le=$b[$i-1][0]"
                if $b[$i][1] < $b[ $i - 1 ][1];
        }
    }

    return @problems;
}

sub num {
    my ($le) = @_;
    return $le eq '+Inf' ? 9**9**9 : $le;
}

# One FastCGI record, and the records of a whole request (or, with
# partial, one whose body stops short of its CONTENT_LENGTH).
sub fcgi_record {
    my ($type, $content) = @_;
    my $len = length $content;
    my $pad = (8 - $len % 8) % 8;

    return pack('CCnnCx', 1, $type, 1, $len, $pad) . $content . "\0" x $pad;
}

sub fcgi_bytes {
    my ($params, $body) = @_;
    my $pairs = '';

    for my $k (sort keys %$params) {
        $pairs .= join '', map {
            length($_) < 128 ? pack('C', length $_)
                : pack('N', length($_) | 0x80000000)
        } $k, $params->{$k};
        $pairs .= $k . $params->{$k};
    }

    my $bytes = fcgi_record(1, pack('nCx5', 1, 0))
        . fcgi_record(4, $pairs) . fcgi_record(4, '');
    $bytes .= fcgi_record(5, $body) . fcgi_record(5, '') if defined $body;
    return $bytes;
}

sub fcgi_connect {
    my ($address) = @_;
    my $sock = $address =~ m{^/}
        ? IO::Socket::UNIX->new(Type => SOCK_STREAM, Peer => $address)
        : IO::Socket::INET->new(PeerAddr => $address);

    return $sock || die "connect $address: $!";
}

# Reads a FastCGI answer to its end; returns the CGI response's JSON.
sub fcgi_read_json {
    my ($sock) = @_;
    my ($raw, $out) = ('', '');

    local $SIG{ALRM} = sub { die "timeout\n" };
    alarm 20;
    while (sysread($sock, $raw, 65536, length $raw)) { }
    alarm 0;

    while (length $raw >= 8) {
        my ($type, $len, $pad) = (unpack 'CCnnC', $raw)[1, 3, 4];
        $out .= substr($raw, 8, $len) if $type == 6;
        substr($raw, 0, 8 + $len + $pad) = '';
    }

    my ($body) = $out =~ /\r?\n\r?\n(.*)\z/s;
    return eval { JSON::PP->new->decode($body // '') } // {};
}

# A worker held by a request whose body never comes (until the
# connection closes): it stays "working" on POST /api/session.
sub hold_worker {
    my ($socket) = @_;
    my $sock = fcgi_connect($socket);

    syswrite $sock, fcgi_bytes({ %tenant_params, REQUEST_METHOD => 'POST',
        DOCUMENT_URI => '/api/session', CONTENT_TYPE => 'application/json',
        CONTENT_LENGTH => 100 }) . fcgi_record(5, '{"email":');
    return $sock;
}

# With both workers of a master held, a status request waits in the
# queue with three more connections behind it; freeing one worker lets
# it be answered while the three still wait.
sub queue_case {
    my ($address, $kind) = @_;
    my @held = map { hold_worker($address) } 1 .. 2;
    my $waiting = fcgi_connect($address);

    syswrite $waiting, fcgi_bytes(\%status_params, '');
    my @queued = map { fcgi_connect($address) } 1 .. 3;

    close $held[1];
    my $doc = fcgi_read_json($waiting);
    is($doc->{listen_queue}, 3,
        "$kind: three connections wait behind the status request");
    ok($doc->{max_listen_queue} >= 3, "$kind: max_listen_queue is at least 3");
    ok($doc->{listen_queue_len} >= 3, "$kind: the queue's limit is reported");

    close $_ for @queued, $held[0];
    my $after;
    ok(wait_until(sub {
        $after = status_of($address);
        return $after->{listen_queue} == 0 && $after->{idle_workers} == 1;
    }, 10), "$kind: the queue drains once the connections close")
        or diag(explain($after));
    ok($after->{max_listen_queue} >= 3, "$kind: the maximum stays");
}

# GET path with the given Host from a loopback address, with an
# X-Forwarded-For header when xff is given.
sub get_from {
    my ($nginx, $host, $path, $addr, $xff) = @_;
    my $head = "GET $path HTTP/1.1\r\nHost: $host\r\n";

    $head .= "X-Forwarded-For: $xff\r\n" if defined $xff;
    return Tenantry::Test::raw_exchange_to($nginx->{port},
        "${head}Connection: close\r\n\r\n", 10, $addr);
}

# 1. Through nginx, from this host: the stack's own workers.

{
    my $res = http('GET', main_host(), '/status');

    is($res->{status}, 200, 'GET /status on the main domain');
    like($res->{headers}{'content-type'}, qr{^text/plain},
        'the status page is text');
    like($res->{body}, qr/^accepted:\s+\d+$/m, 'it counts accepted requests');
    like($res->{body}, qr/^total workers:\s+\d+$/m, 'and the workers');

    my $full = http('GET', main_host(), '/status?full');
    like($full->{body}, qr/^pid:\s+\d+$/m, '?full has a block per worker');
    like($full->{body}, qr{^request path:\s+/status$}m,
        '?full shows the worker serving the status page on /status');

    my ($doc, @pids);
    my (undef, @children) = tenantd_pids();
    ok(wait_until(sub {
        (undef, @children) = tenantd_pids();
        $doc = http('GET', main_host(), '/status?json')->{json} // {};
        @pids = sort { $a <=> $b } map { $_->{pid} } @{ $doc->{workers} };
        return "@pids" eq "@children";
    }, 10), 'the status page lists the master\'s children as its workers')
        or diag("status: @pids; children: @children");

    is($doc->{total_workers}, scalar @children,
        'total_workers is the number of children');
    is($doc->{idle_workers} + $doc->{active_workers}, $doc->{total_workers},
        'idle and active workers make the total');
    my ($me) = grep { $_->{request} && $_->{request}{path} eq '/status' }
        @{ $doc->{workers} };
    ok($me, 'one worker serves GET /status right now');
    is($me->{state}, 'working', 'it is working') if $me;
    is($me->{request}{method}, 'GET', 'on a GET') if $me;

    my $before = $doc->{accepted};
    http('GET', host_for($sub), '/api/tenant') for 1 .. 5;
    my $after = http('GET', main_host(), '/status?json')->{json} // {};
    is($after->{accepted}, $before + 6,
        'five requests and this status page later, accepted grew by 6');

    my $m = http('GET', main_host(), '/metrics');
    is($m->{status}, 200, 'GET /metrics on the main domain');
    is($m->{headers}{'content-type'},
        'text/plain; version=0.0.4; charset=utf-8',
        'metrics come in the Prometheus text format');
    my ($series, @problems) = parse_metrics($m->{body});
    is_deeply(\@problems, [], 'every line of the metrics is well formed');
    ok($series->{'tenantd_requests_total{}'} > $after->{accepted},
        'tenantd_requests_total counts past the last status page');
}

# 2. Who may read them.

for my $path ('/status', '/metrics', '/status?json') {
    my $res = http('GET', host_for($sub), $path);
    is_problem($res, 404, "$path on a tenant's host");
    unlike($res->{body}, qr/accepted|tenantd_/,
        "$path on a tenant's host says nothing of tenantd");

    $res = http('GET', "unknown-$$.example:$s->{port}", $path);
    is_problem($res, 404, "$path on a custom host");

    # 127.0.0.2 is a loopback address, but not one the location allows
    $res = http('GET', main_host(), $path, local_addr => '127.0.0.2');
    is_problem($res, 403, "$path from 127.0.0.2");
    unlike($res->{body}, qr/accepted|tenantd_/,
        "$path from 127.0.0.2 says nothing of tenantd");
}

{
    my $sock = "$s->{state}/run/tenantd.sock";
    my %unmarked = %status_params;
    delete $unmarked{TENANTRY_STATUS};

    is(fcgi_request($sock, \%status_params)->{status}, 200,
        'FastCGI with nginx\'s mark: 200');
    is_problem(fcgi_request($sock, \%unmarked), 404,
        'FastCGI without the mark: 404');
    is_problem(fcgi_request($sock,
        { %unmarked, DOCUMENT_URI => '/metrics' }), 404,
        'FastCGI /metrics without the mark: 404');
    is_problem(fcgi_request($sock,
        { %unmarked, REQUEST_METHOD => 'POST' }), 404,
        'FastCGI POST /status without the mark: 404, not 405');
    is_problem(fcgi_request($sock, { %status_params,
        TENANTRY_SITE => 'tenant', TENANT => $sub }), 404,
        'FastCGI with the mark on a tenant\'s site: 404');
}

# 3. A master of our own: exact counts, a busy worker, the listen queue,
# a killed worker.

my $t = start_tenantd(TENANTD_WORKERS => 2);
my $sock = $t->{socket};

{
    my $first = status_of($sock);
    is($first->{accepted}, 1, 'a new master: the status page is request 1');
    is($first->{configured_workers}, 2, 'two workers configured');
    is($first->{restarts}, 0, 'no restarts yet');

    my @failed;
    for my $r ((\%tenant_params) x 7,
        ({ %tenant_params, DOCUMENT_URI => '/healthz' }) x 3,
        ({ %tenant_params, DOCUMENT_URI => '/api/nowhere' }) x 2)
    {
        my $res = fcgi_request($sock, $r);
        push @failed, "$r->{DOCUMENT_URI} $res->{status}"
            unless $res->{status} == ($r->{DOCUMENT_URI} =~ /nowhere/
                ? 404 : 200);
    }
    is("@failed", '', '12 requests answered as expected');

    my $second = status_of($sock);
    is($second->{accepted}, 14, '12 requests and 2 status pages accepted');
    my $served = 0;
    $served += $_->{requests} for @{ $second->{workers} };
    is($served, 13, 'the workers served 13 (the 14th is in flight)');
    is_deeply([ sort { $a <=> $b } map { $_->{pid} }
        @{ $second->{workers} } ], [ proc_children($t->{pid}) ],
        'the workers are the master\'s children');

    my $m = fcgi_request($sock, { %status_params,
        DOCUMENT_URI => '/metrics', QUERY_STRING => '' });
    my ($v, @problems) = parse_metrics($m->{body});
    is_deeply(\@problems, [], 'the metrics are well formed');

    my $d = 'tenantd_request_duration_seconds';
    is($v->{qq(${d}_count{method="GET",route="/api/tenant",code="200"})},
        7, 'GET /api/tenant 200 counted 7 times');
    is($v->{qq(${d}_count{method="GET",route="/healthz",code="200"})},
        3, 'GET /healthz 200 counted 3 times');
    is($v->{qq(${d}_count{method="-",route="unmatched",code="404"})},
        2, 'two requests for no route, 404');
    is($v->{qq(${d}_count{method="GET",route="/status",code="200"})},
        2, 'two status pages');
    is($v->{qq(${d}_bucket{method="GET",route="/api/tenant",code="200",le="+Inf"})},
        7, 'the +Inf bucket of GET /api/tenant holds all 7');
    ok(!grep({ /nowhere/ } keys %$v), 'no raw path becomes a label');
    is($v->{'tenantd_requests_total{}'}, 15,
        'tenantd_requests_total counts the metrics request too');
    ok($v->{'tenantd_workers{state="working"}'} >= 1,
        'a worker is working (on the metrics)');
    my $workers = 0;
    $workers += $v->{"tenantd_workers{state=\"$_\"}"}
        for qw(starting idle reading working finishing);
    is($workers, 2, 'tenantd_workers adds up to the two workers');

    my $db = 'tenantd_db_duration_seconds';
    is($v->{qq(${db}_count{method="GET",route="/api/tenant"})}, 7,
        'database time observed for 7 GET /api/tenant');
    ok($v->{qq(${db}_sum{method="GET",route="/api/tenant"})} > 0,
        'and it took some time');
    ok($v->{qq(${db}_sum{method="GET",route="/healthz"})} == 0,
        '/healthz spends no time in the database');
    ok($v->{'tenantd_db_round_trips_total{method="GET",route="/api/tenant"}'}
        >= 1, 'GET /api/tenant made round trips');
    is($v->{'tenantd_db_round_trips_total{method="GET",route="/healthz"}'},
        0, '/healthz made none');
}

# A worker held by a slow request shows as working on its path.
{
    my $held = hold_worker($sock);
    my $doc;
    my $busy = wait_until(sub {
        $doc = status_of($sock);
        my ($w) = grep { $_->{state} eq 'working' && $_->{request}
            && $_->{request}{path} eq '/api/session' } @{ $doc->{workers} };
        return $w;
    }, 8);

    ok($busy, 'the held worker is working on /api/session')
        or diag(explain($doc));
    is($busy->{request}{method}, 'POST', 'on a POST') if $busy;
    is($busy->{request}{tenant}, $sub, "for $sub") if $busy;
    is($doc->{active_workers}, 2,
        'two active: the held one and the one on the status page');
    is($doc->{idle_workers}, 0, 'none idle');

    my $busy_before = $doc->{all_workers_busy};
    is(fcgi_request($sock, { %tenant_params, DOCUMENT_URI => '/healthz' })
        ->{status}, 200, 'a request while the other worker is held');
    is(status_of($sock)->{all_workers_busy}, $busy_before + 2,
        'it and the next status page were accepted with all workers busy');
    close $held;
    ok(wait_until(sub { status_of($sock)->{idle_workers} == 1 }, 10),
        'the held worker is free again once its connection closes');
}

queue_case($sock, 'unix socket');

# A killed worker: counted as a restart, replaced by a new pid; the
# slot's histograms survive it.
{
    my @before = proc_children($t->{pid});
    ok(kill('KILL', $before[0]), "SIGKILL worker $before[0]");

    my $doc;
    ok(wait_until(sub {
        $doc = status_of($sock);
        my @pids = map { $_->{pid} } @{ $doc->{workers} };
        return $doc->{restarts} == 1 && @pids == 2
            && !grep { $_ == $before[0] } @pids;
    }, 15), 'restarts is 1 and the killed pid is gone')
        or diag(explain($doc));
    my @pids = sort { $a <=> $b } map { $_->{pid} } @{ $doc->{workers} };
    is_deeply(\@pids, [ proc_children($t->{pid}) ],
        'the new worker is listed with its pid');
    is($doc->{recycles}, 0, 'a crash is not a recycle');

    my $m = fcgi_request($sock, { %status_params,
        DOCUMENT_URI => '/metrics', QUERY_STRING => '' });
    my ($v) = parse_metrics($m->{body});
    is($v->{'tenantd_request_duration_seconds_count{method="GET",route="/api/tenant",code="200"}'},
        7, 'GET /api/tenant still counted 7 times after the crash');
    is($v->{'tenantd_worker_restarts_total{}'}, 1,
        'tenantd_worker_restarts_total is 1');
    is($v->{'tenantd_request_duration_seconds_count{method="POST",route="/api/session",code="400"}'},
        3, 'the three held requests ended as 400 (their bodies never came)');
}

is(stop_tenantd($t, 15), 0, 'the master stops');

# 4. The queue of a TCP listener, and an nginx in front of it that
# admits 127.0.0.2 too (TENANTRY_STATUS_ALLOW).
{
    my $tcp = start_tenantd(TENANTD_LISTEN => '127.0.0.1:' . free_port());

    queue_case($tcp->{socket}, 'TCP');

    # 127.0.0.1 plays a load balancer too: the address that counts is
    # the one it puts in X-Forwarded-For
    my $nginx = start_nginx(TENANTRY_FASTCGI => $tcp->{socket},
        TENANTRY_STATUS_ALLOW => '127.0.0.2',
        TENANTRY_TRUSTED_PROXIES => '127.0.0.1');
    my @cases = (['127.0.0.1', undef, 200], ['127.0.0.2', undef, 200],
        ['127.0.0.3', undef, 403], ['127.0.0.1', '127.0.0.2', 200],
        ['127.0.0.1', '203.0.113.9', 403],
        ['127.0.0.1', '127.0.0.2, 203.0.113.9', 403],
        ['127.0.0.3', '127.0.0.2', 403]);

    for my $case (@cases) {
        my ($addr, $xff, $status) = @$case;
        my $res = get_from($nginx, "localhost:$nginx->{port}", '/metrics',
            $addr, $xff);
        is($res->{status}, $status, "/metrics from $addr"
            . (defined $xff ? " for $xff" : '')
            . ' with TENANTRY_STATUS_ALLOW=127.0.0.2');
    }
    my $res = get_from($nginx, "$sub.localhost:$nginx->{port}", '/status',
        '127.0.0.2');
    is($res->{status}, 404, 'a tenant\'s host still has no /status');

    stop_nginx($nginx);
    is(stop_tenantd($tcp, 15), 0, 'the master stops');
}

# 5. Workers recycled after TENANTD_MAX_REQUESTS are counted as such.
{
    my $r = start_tenantd(TENANTD_WORKERS => 1, TENANTD_MAX_REQUESTS => 2);
    my $doc;

    fcgi_request($r->{socket}, \%tenant_params) for 1 .. 2;
    ok(wait_until(sub {
        $doc = status_of($r->{socket});
        return ($doc->{recycles} // 0) >= 1;
    }, 15), 'a worker that served 2 requests was recycled')
        or diag(explain($doc));
    is($doc->{restarts}, 0, 'a recycle is not a restart');
    is(stop_tenantd($r, 15), 0, 'the master stops');
}

# 6. TENANTRY_STATUS_ALLOW adds networks to the status locations.
{
    my $dir = tempdir(CLEANUP => 1);
    my $render = "$s->{top}/nginx/render";
    my %env = (TENANTRY_STATE => $dir, TENANTRY_PORT => free_port());
    my ($rc, $text) = capture([$render, "$dir/nginx.conf"], %env,
        TENANTRY_STATUS_ALLOW => '10.1.0.0/16, fd00::/8 192.0.2.7');

    is($rc, 0, 'render with TENANTRY_STATUS_ALLOW') or diag($text);
    open my $fh, '<', "$dir/nginx.conf" or die "$dir/nginx.conf: $!";
    my $conf = do { local $/; <$fh> };
    like($conf, qr{allow ::1;\s+allow 10\.1\.0\.0/16; allow fd00::/8; allow 192\.0\.2\.7;\s+deny all;},
        'the networks are allowed after the loopback addresses');
    is(() = $conf =~ m{location ~ \^/\(status\|metrics\)\$}g, 1,
        'only one server block has the status location');

    ($rc, $text) = capture([$render, "$dir/bad.conf"], %env,
        TENANTRY_STATUS_ALLOW => '10.0.0.0/8; allow all');
    isnt($rc, 0, 'render refuses anything but addresses');
    like($text, qr/TENANTRY_STATUS_ALLOW/, 'and names the setting');
}

done_testing();
