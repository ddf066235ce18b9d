# tenantd's process management: the stack's master keeps its workers alive
# and reloads them without dropping requests; a second master started here
# recycles workers, stops within its shutdown bound, and answers 503 when
# its database cannot be reached.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $sub = unique_sub('proc');
is(register($sub)->{status}, 201, "register $sub");

# The number of CPUs, as nproc counts them.
sub cpus {
    my $n = `nproc 2>/dev/null`;
    return $n =~ /^(\d+)/ ? $1 : 1;
}

# The stack's workers.
sub workers {
    my (undef, @workers) = tenantd_pids();
    return @workers;
}

# True when every element of @$new is absent from @$old.
sub all_replaced {
    my ($old, $new) = @_;
    my %old = map { $_ => 1 } @$old;
    return !grep { $old{$_} } @$new;
}

# Sends n requests to the tenant's API; returns the descriptions of the
# ones that failed.
sub request_failures {
    my ($n) = @_;
    my @failed;

    for (1 .. $n) {
        my $res = http('GET', host_for($sub), '/api/tenant');
        my $got = ref $res->{json} eq 'HASH' ? $res->{json}{subdomain} : '';

        push @failed, "$res->{status} " . ($res->{error} // $got // '')
            unless $res->{status} == 200 && ($got // '') eq $sub;
    }

    return @failed;
}

# 1. The stack's master and its workers.

my ($master) = tenantd_pids();
unless (ok($master && kill(0, $master), 'the master from the pid file runs'))
{
    diag("no running tenantd master in $s->{state}/run/tenantd.pid");
    done_testing();
    exit 1;
}

my $master_env = proc_environ($master);
my $expected = $master_env->{TENANTD_WORKERS} || $ENV{TENANTD_WORKERS}
    || 2 * cpus();

ok(wait_until(sub { workers() == $expected }, 10),
    "the master has $expected workers")
    or diag('workers: ' . join(' ', workers()));

# 2. A killed worker is replaced.

{
    my @before = workers();
    my $victim = $before[0];

    ok(kill('KILL', $victim), "SIGKILL worker $victim");
    ok(wait_until(sub {
        my @now = workers();
        return @now == $expected && !grep { $_ == $victim } @now;
    }, 10), 'a new worker takes the killed one\'s place')
        or diag('workers: ' . join(' ', workers()));

    my @failed = request_failures(10);
    is(scalar @failed, 0, 'requests succeed after a worker was killed')
        or diag(join "\n", @failed);
}

# 3. SIGHUP replaces every worker while requests keep succeeding.

{
    my $dir = tempdir(CLEANUP => 1);
    my $stop = "$dir/stop";
    my @before = workers();

    pipe(my $from_child, my $to_parent) or die "pipe: $!";

    my $child = fork() // die "fork: $!";

    if ($child == 0) {
        close $from_child;
        $to_parent->autoflush(1);

        my ($n, @failed) = (0);
        my $deadline = time + 120;

        while ($n < 200 || (!-e $stop && time < $deadline)) {
            push @failed, request_failures(1);
            print {$to_parent} "started\n" if ++$n == 1;
        }

        print {$to_parent} "done $n\n", map { "$_\n" } @failed;
        POSIX::_exit(0);
    }

    close $to_parent;

    my $started = <$from_child> // '';
    is($started, "started\n", 'the request loop runs');

    ok(kill('HUP', $master), 'SIGHUP the master');
    ok(wait_until(sub {
        my @now = workers();
        return @now == $expected && all_replaced(\@before, \@now);
    }, 30), 'every worker was replaced')
        or diag("before: @before, now: " . join(' ', workers()));

    open my $fh, '>', $stop or die "$stop: $!";
    close $fh;

    my @report = <$from_child>;
    waitpid $child, 0;
    chomp @report;

    my $done = shift @report // '';
    like($done, qr/^done (\d+)$/, 'the request loop finished');
    ok(($done =~ /(\d+)/)[0] >= 200, 'the loop sent at least 200 requests');
    is(scalar @report, 0, 'no request failed during the reload')
        or diag(join "\n", @report[0 .. ($#report > 9 ? 9 : $#report)]);

    my ($after) = tenantd_pids();
    is($after, $master, 'the master is the same process after SIGHUP');
}

# 4. The FastCGI socket's mode.

SKIP: {
    my ($path) = ($master_env->{TENANTD_LISTEN} // '') =~ /^unix:(.+)$/;

    skip 'the stack\'s tenantd does not listen on a unix socket'
        . ' (or its environment cannot be read)', 2 unless $path;

    ok(-S $path, "$path is a socket");
    is(sprintf('%04o', (stat $path)[2] & 07777), '0660',
        "$path has mode 0660");
}

# 5. A second master, spoken to directly over FastCGI.

# What nginx's wildcard block passes, with a request id in nginx's form.
my $request_id = '0123456789abcdef0123456789abcdef';
my %params = (
    TENANTRY_SITE  => 'tenant',
    TENANT         => $sub,
    REQUEST_METHOD => 'GET',
    DOCUMENT_URI   => '/api/tenant',
    REQUEST_ID     => $request_id,
);

subtest 'a second master recycles workers and stops slowly' => sub {
    plan skip_all => 'FCGI::Client is not installed'
        . ' (Debian package libfcgi-client-perl)'
        unless eval { require FCGI::Client; 1 };

    my $t = start_tenantd(TENANTD_MAX_REQUESTS => 5);
    my $res = fcgi_request($t->{socket}, \%params);
    my $tenant = is_json_response($res, 200, 'FastCGI /api/tenant');

    is($tenant->{subdomain}, $sub, 'FastCGI /api/tenant names the tenant');

    my @before = proc_children($t->{pid});
    my @failed;

    for (1 .. 12) {
        my $r = fcgi_request($t->{socket}, \%params);

        push @failed, "$r->{status} " . ($r->{error} // $r->{body})
            unless $r->{status} == 200;
    }

    is(scalar @failed, 0, '12 requests, none failed')
        or diag(join "\n", @failed);
    ok(wait_until(sub {
        my @now = proc_children($t->{pid});
        my %old = map { $_ => 1 } @before;
        return @now == 2 && grep { !$old{$_} } @now;
    }, 10), 'workers were recycled after 5 requests each')
        or diag("before: @before, now: "
        . join(' ', proc_children($t->{pid})));

    # A client that opens a request and never finishes it keeps one
    # worker busy, so the stop has to wait for the shutdown bound.
    my $stuck = IO::Socket::UNIX->new(Peer => $t->{socket});
    ok($stuck, 'a client that never finishes its request connects');
    syswrite $stuck, pack('CCnnCC', 1, 1, 1, 8, 0, 0) . pack('nCx5', 1, 0)
        if $stuck;

    my $status = stop_tenantd($t, 5 + 5);

    ok(defined $status, 'SIGTERM: the master exits within the shutdown'
        . ' bound') or show_tenantd_log($t);
    is($status, 0, 'SIGTERM: the master exits 0') if defined $status;
    ok(!-e $t->{socket}, 'SIGTERM: the socket is removed');
    close $stuck if $stuck;
};

subtest 'a master without its database answers 503' => sub {
    plan skip_all => 'FCGI::Client is not installed'
        . ' (Debian package libfcgi-client-perl)'
        unless eval { require FCGI::Client; 1 };

    my $nowhere = tempdir(CLEANUP => 1) . '/no-such-dir';
    my $t = start_tenantd(TENANTRY_DATABASE_URL =>
        "host=$nowhere dbname=tenantry user=tenantry");

    for my $i (1 .. 3) {
        my $res = fcgi_request($t->{socket}, \%params, timeout => 5);

        is_problem($res, 503, "no database, /api/tenant $i");
        is($res->{json}{request_id}, $request_id,
            "no database, /api/tenant $i: the request id is echoed");
    }

    my $health = is_json_response(fcgi_request($t->{socket},
        { %params, DOCUMENT_URI => '/healthz' }, timeout => 5), 200,
        'no database, /healthz');
    is($health->{status}, 'ok', 'no database, /healthz says ok');

    my $status = stop_tenantd($t, 5 + 5);

    ok(defined $status, 'SIGTERM: exits within the shutdown bound')
        or show_tenantd_log($t);
    is($status, 0, 'SIGTERM: exits 0') if defined $status;
    ok(!-e $t->{socket}, 'SIGTERM: the socket is removed');
};

done_testing();
