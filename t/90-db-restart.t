# PostgreSQL goes away and comes back: tenant requests get a prompt 503
# while it is down, health checks stay up, and the same tenantd serves
# again once it is back.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $pgdata = "$s->{state}/pg";
my $pg_ctl = pg_bindir() ? pg_bindir() . '/pg_ctl' : 'pg_ctl';
my $sub = unique_sub('dbr');

# Whatever happens below, leave PostgreSQL running for the tests after.
END {
    if ($s && -d $pgdata) {
        my ($rc) = pg_ctl('status');

        pg_ctl('start', '-w', '-l', "$s->{state}/log/postgres.log")
            if $rc != 0;
    }
}

# Runs pg_ctl on the stack's cluster as the cluster's owner.  Returns
# (exit code, output).
sub pg_ctl {
    my (@args) = @_;
    return capture([run_as_owner($pgdata), $pg_ctl, '-D', $pgdata, @args]);
}

# Sends n requests; returns the statuses in order.
sub statuses {
    my ($n, $path, %opt) = @_;
    return map {
        http('GET', host_for($sub), $path // '/api/tenant', %opt)->{status}
    } 1 .. $n;
}

is(register($sub)->{status}, 201, "register $sub");
is(join(',', statuses(5)), '200,200,200,200,200',
    'the tenant answers before the restart');

my ($master) = tenantd_pids();
ok($master, 'the tenantd master pid is known');

# 1. Stop PostgreSQL.

{
    my ($rc, $out) = pg_ctl('stop', '-m', 'fast', '-w');

    is($rc, 0, 'pg_ctl stop') or diag($out);
}

# 2. Tenant requests fail fast with 503; health checks stay up.

for my $i (1 .. 6) {
    my $res = http('GET', host_for($sub), '/api/tenant', timeout => 5);

    is_problem($res, 503, "database down, /api/tenant $i");
}

for my $host (main_host(), host_for($sub)) {
    my $health = is_json_response(http('GET', $host, '/healthz',
        timeout => 5), 200, "database down, /healthz on $host");

    is($health->{status}, 'ok', "database down, /healthz on $host says ok");
    is_problem(http('GET', $host, '/readyz', timeout => 5), 503,
        "database down, /readyz on $host");
}

# 3. Start PostgreSQL again; the same tenantd serves again.

{
    my ($rc, $out) = pg_ctl('start', '-w', '-l',
        "$s->{state}/log/postgres.log");

    is($rc, 0, 'pg_ctl start') or diag($out);
}

my @last;
my $back = wait_until(sub {
    @last = statuses(20, '/api/tenant', timeout => 5);
    return !grep { $_ != 200 } @last;
}, 10);

ok($back, 'within the bound, 20 requests in a row succeed')
    or diag('last statuses: ' . join(',', @last));

my $t = is_json_response(http('GET', host_for($sub), '/api/tenant'), 200,
    'after the restart, /api/tenant');
is($t->{subdomain}, $sub, 'after the restart, the tenant is named');

my $ready = is_json_response(http('GET', main_host(), '/readyz'), 200,
    'after the restart, /readyz');
is($ready->{status}, 'ready', 'after the restart, ready');

my ($after) = tenantd_pids();
is($after, $master, 'tenantd was not restarted (same master pid)');

done_testing();
