# What script/bench and script/bench-scale share: a throwaway stack
# (script/server in a temporary state directory, stopped at exit), wrk
# and its figures, running PostgreSQL's tools as the cluster's owner.
package Tenantry::Bench;

use strict;
use warnings;

use Exporter qw(import);
use File::Temp qw(tempdir);
use FindBin;
use IO::Socket::INET;

our @EXPORT = qw(
    pgbin start_stack run_as_owner as_owner wrk_once median percentile
    free_port slurp write_file
);

my $top = "$FindBin::Bin/..";
my $stack;

# The newest PostgreSQL's bin directory that has pgbench, or undef.
sub pgbin {
    my ($bin) = reverse sort { ($a =~ /(\d+)/)[0] <=> ($b =~ /(\d+)/)[0] }
        grep { -x "$_/pgbench" } glob '/usr/lib/postgresql/*/bin';
    return $bin;
}

# Starts the stack in a fresh temporary directory; returns {tmp, state,
# port, host (127.0.0.1:port), token}. It is stopped when the process
# ends.
sub start_stack {
    my $tmp = tempdir('tenantry-bench-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    chmod 0755, $tmp;
    my $state = "$tmp/state";
    my $port = free_port();

    $ENV{TENANTRY_STATE} = $state;
    $ENV{TENANTRY_PORT} = $port;
    $ENV{TENANTRY_PG_FAST} = 1;
    $stack = { tmp => $tmp, state => $state, port => $port,
        host => "127.0.0.1:$port", owner => $$ };

    system("$top/script/server", '--detach') == 0
        or die "script/server: the stack did not start\n";

    $stack->{token} = slurp("$state/admin-token");
    chomp $stack->{token};
    return $stack;
}

END {
    my $exit = $?;
    if ($stack && $stack->{owner} == $$ && -d $stack->{state}) {
        system("$top/script/server", '--stop');
    }
    $? = $exit;
}

# A command run as the owner of the cluster when we are root.
sub run_as_owner {
    my @cmd = @_;
    return @cmd if $> != 0;
    my $owner = getpwuid((stat "$stack->{state}/pg")[4]);
    return ('setpriv', "--reuid=$owner", "--regid=$owner", '--init-groups',
        '--', @cmd);
}

sub as_owner {
    return system(run_as_owner(@_));
}

# One wrk run against the stack: {rps, p99_ms, errors}. args are wrk's
# own (a -H Host header or a -s script); errors counts answers that were
# not 2xx or 3xx and every kind of socket error.
sub wrk_once {
    my ($c, $d, $path, @args) = @_;
    my @cmd = ('wrk', '--latency', '-t', 2, '-c', $c, '-d', "${d}s", @args,
        "http://$stack->{host}$path");

    open my $fh, '-|', @cmd or die "wrk: $!\n";
    my $out = do { local $/; <$fh> };
    close $fh;
    my ($rps) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    my ($p99, $unit) = $out =~ /^\s+99%\s+([\d.]+)(us|ms|s)\b/m;
    my ($non2xx) = $out =~ /Non-2xx or 3xx responses:\s+(\d+)/;
    my ($socket_line) = $out =~ /^\s*Socket errors:(.*)$/m;
    my $sockerr = 0;
    $sockerr += $_ for ($socket_line // '') =~ /(\d+)/g;

    die "wrk failed: $out\n" unless defined $rps;
    $p99 = $p99 / 1000 if defined $unit && $unit eq 'us';
    $p99 = $p99 * 1000 if defined $unit && $unit eq 's';
    return { rps => $rps + 0, p99_ms => defined $p99 ? $p99 + 0 : undef,
        errors => ($non2xx // 0) + $sockerr };
}

sub median {
    my @v = sort { $a <=> $b } @_;
    return undef unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# The p-th percentile (0..100), nearest rank.
sub percentile {
    my ($p, @v) = @_;
    @v = sort { $a <=> $b } @v;
    return undef unless @v;
    my $rank = int($p / 100 * @v + 0.999999);
    $rank = 1 if $rank < 1;
    return $v[$rank - 1];
}

sub free_port {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
        Listen => 1) or die "no free port: $!\n";
    my $p = $s->sockport;
    close $s;
    return $p;
}

sub slurp {
    my ($path) = @_;
    open my $fh, '<', $path or die "$path: $!\n";
    local $/;
    return <$fh>;
}

sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!\n";
    print {$fh} $text;
    close $fh;
    chmod 0644, $path;
}

1;
