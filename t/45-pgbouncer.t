# tenantd behind PgBouncer in transaction mode, with a server pool of one:
# 50 concurrent clients alternating between two tenants with different
# data each get their own tenant's answer, every time.
use strict;
use warnings;

use File::Temp qw(tempdir);
use POSIX qw(WNOHANG);
use Test::More;

use Tenantry::Test;

my ($pgbouncer) = grep { -x } '/usr/sbin/pgbouncer', '/usr/bin/pgbouncer';
plan skip_all => 'PgBouncer is not installed (script/packages --test)'
    unless $pgbouncer;

my $s = stack();
my ($master) = tenantd_pids();
my ($uid, $gid) = (stat "/proc/$master")[4, 5];
my $dir = tempdir(CLEANUP => 1);
my $port = free_port();
my $bouncer_pid;

END {
    local $?;
    if ($bouncer_pid) {
        kill 'TERM', $bouncer_pid;
        waitpid $bouncer_pid, 0;
    }
}

# PgBouncer runs as the cluster's owner; it refuses to run as root.
write_file("$dir/users.txt", qq("tenantry" ""\n));
write_file("$dir/pgbouncer.ini", <<"INI");
[databases]
tenantry = host=$s->{pghost} dbname=tenantry user=tenantry

[pgbouncer]
listen_addr =
listen_port = $port
unix_socket_dir = $dir
auth_type = trust
auth_file = $dir/users.txt
admin_users = tenantry
pool_mode = transaction
default_pool_size = 1
max_client_conn = 200
ignore_startup_parameters = application_name
logfile = $dir/pgbouncer.log
INI
chown $uid, $gid, $dir, glob "$dir/*";

$bouncer_pid = fork() // die "fork: $!";
if ($bouncer_pid == 0) {
    open STDIN, '<', '/dev/null';
    open STDOUT, '>>', "$dir/pgbouncer.out";
    open STDERR, '>&', \*STDOUT;
    my @as = $> == 0 ? ('setpriv', "--reuid=$uid", "--regid=$gid",
        '--clear-groups', '--') : ();
    exec @as, $pgbouncer, "$dir/pgbouncer.ini" or POSIX::_exit(127);
}
ok(wait_until(sub { -S "$dir/.s.PGSQL.$port" }, 15),
    'PgBouncer listens on its socket')
    or diag(`cat $dir/pgbouncer.out $dir/pgbouncer.log 2>&1`);

my $t = start_tenantd(TENANTD_WORKERS => 4, TENANTRY_DATABASE_URL =>
    "host=$dir port=$port dbname=tenantry user=tenantry");

# two tenants with different data: B gets a second user
my %tenant;
for my $name (qw(a b)) {
    my $sub = unique_sub("bnc$name");
    is(register($sub, password => 'bouncer password')->{status}, 201,
        "tenant $name is registered");
    $tenant{$name} = $sub;
}

sub fcgi {
    my ($sub, $method, $uri, %opt) = @_;
    my %params = (TENANTRY_SITE => 'tenant', TENANT => $sub,
        REQUEST_METHOD => $method, DOCUMENT_URI => $uri,
        REQUEST_ID => 'd' x 32, %{ $opt{params} || {} });
    if (defined $opt{body}) {
        $params{CONTENT_TYPE} = 'application/json';
        $params{CONTENT_LENGTH} = length $opt{body};
    }
    return fcgi_request($t->{socket}, \%params, body => $opt{body});
}

my $login = fcgi($tenant{b}, 'POST', '/api/session', body =>
    qq({"email":"owner\@$tenant{b}.test","password":"bouncer password"}));
is($login->{status}, 201, 'the owner of B signs in through PgBouncer');
my ($token) = ($login->{headers}{'set-cookie'} // '') =~ /tn_session=([^;]+)/;
my $added = fcgi($tenant{b}, 'POST', '/api/users',
    params => { HTTP_AUTHORIZATION => "Bearer $token" },
    body => qq({"email":"second\@$tenant{b}.test","name":"Second",)
        . qq("password":"second password"}));
is($added->{status}, 201, 'and adds a second user to B');

my %want = (
    $tenant{a} => "$tenant{a} t_$tenant{a} 1",
    $tenant{b} => "$tenant{b} t_$tenant{b} 2",
);

# B's users as its owner sees them: a signed-in request, whose scoped
# transaction spans two round trips and so holds the one server
# connection between them
my $b_users = "owner\@$tenant{b}.test second\@$tenant{b}.test";

sub users_of_b {
    my $res = fcgi($tenant{b}, 'GET', '/api/users',
        params => { HTTP_AUTHORIZATION => "Bearer $token" });
    my $list = ref $res->{json} eq 'HASH' ? $res->{json}{users} : undef;
    return "$res->{status}" unless ref $list eq 'ARRAY';
    return join ' ', sort map { $_->{email} // '-' } @$list;
}
is(users_of_b(), $b_users, 'B\'s owner lists B\'s two users');

# 50 clients at once, 10 requests each, alternating between A and B,
# and a signed-in request to B after each of B's
my $clients = 50;
my $each = 10;
my @kids;
for my $client (1 .. $clients) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my ($good, $bad) = (0, 0);
        for my $i (1 .. $each) {
            my $sub = ($client + $i) % 2 ? $tenant{a} : $tenant{b};
            my $res = fcgi($sub, 'GET', '/api/tenant');
            my $j = $res->{json} || {};
            my $got = join ' ', map { $_ // '-' } $j->{subdomain},
                $j->{schema}, $j->{users};
            $res->{status} == 200 && $got eq $want{$sub} ? $good++ : $bad++;
            next unless $sub eq $tenant{b};
            users_of_b() eq $b_users ? $good++ : $bad++;
        }
        write_file("$dir/client.$client", "$good $bad\n");
        POSIX::_exit(0);
    }
    push @kids, $pid;
}
ok(wait_until(sub { !grep { waitpid($_, WNOHANG) == 0 } @kids }, 120),
    "all $clients clients finish");

my ($good, $bad) = (0, 0);
for my $client (1 .. $clients) {
    open my $fh, '<', "$dir/client.$client" or next;
    my ($g, $b) = split ' ', scalar <$fh>;
    $good += $g;
    $bad += $b;
}
is($good, $clients * $each * 3 / 2, 'every answer is its own tenant\'s');
is($bad, 0, 'no answer is another tenant\'s, or an error');

# PgBouncer really was in between, with one server connection
my @psql = ('psql', '-X', '-A', '-t', '-h', $dir, '-p', $port, '-U',
    'tenantry', 'pgbouncer');
my ($rc, $out) = capture([@psql, '-c', 'SHOW SERVERS']);
my @servers = grep { /\|tenantry\|/ } split /\n/, $out;
is(scalar @servers, 1, 'PgBouncer held one server connection for all');
($rc, $out) = capture([@psql, '-c', 'SHOW STATS']);
my ($stats) = grep { /^tenantry\|/ } split /\n/, $out;
my $xacts = (split /\|/, $stats // '')[1] // 0;
ok($xacts >= $clients * $each,
    "and carried every transaction ($xacts)");

stop_tenantd($t, 15);
done_testing();
