# Memory per request: a worker runs under valgrind's memcheck for a few
# requests and then for many (reads, a write, a 404 and a 422, over
# FastCGI), exits through its request limit, and has lost nothing and
# holds no more heap after many requests than after a few.
#
# Valgrind cannot run the sanitizer build, so a plain build is made in
# build-memcheck/ (once; then only what changed).

use strict;
use warnings;
use Test::More;
use JSON::PP;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $valgrind = `command -v valgrind 2>/dev/null`;
chomp $valgrind;
plan skip_all => 'valgrind is not installed (Debian package valgrind)'
    unless $valgrind;
plan skip_all => 'FCGI::Client is not installed'
    . ' (Debian package libfcgi-client-perl)'
    unless eval { require FCGI::Client; 1 };

my $top = top_dir();
my $build = "$top/build-memcheck";
my ($FEW, $MANY) = (100, 1000);

# A plain build of tenantd for valgrind.
{
    my ($rc, $out) = (0, '');

    mkdir $build;
    ($rc, $out) = capture(['sh', '-c', "cd '$build' && '$top/configure'"
        . " CFLAGS='-g -O1' >configure.log 2>&1"])
        unless -f "$build/Makefile";
    ($rc, $out) = capture(['make', '-C', $build, '-j2', 'app/tenantd'])
        if $rc == 0;
    ok($rc == 0 && -x "$build/app/tenantd", 'a plain build of tenantd')
        or BAIL_OUT("cannot build tenantd without sanitizers: $out");
}

my $tenant = new_tenant('mem');
my $json = JSON::PP->new->canonical;
my $project = api({ bearer => $tenant->{token} }, 'POST', $tenant->{host},
    '/api/projects', json => { name => 'Memory' })->{json}{id};
ok($project, 'a project to write tasks to');

# The requests of one round, with the status each must have.
sub round {
    my ($n) = @_;
    my %base = (TENANTRY_SITE => 'tenant', TENANT => $tenant->{sub},
        REQUEST_ID => sprintf('%032x', $n),
        HTTP_AUTHORIZATION => "Bearer $tenant->{token}");
    my $task = $json->encode({ title => "memory $n" });
    my $bad = $json->encode({ title => '' });

    return (
        [200, { %base, REQUEST_METHOD => 'GET',
            DOCUMENT_URI => '/api/tenant' }],
        [200, { %base, REQUEST_METHOD => 'GET',
            DOCUMENT_URI => "/api/projects/$project/tasks",
            QUERY_STRING => 'limit=5' }],
        [201, { %base, REQUEST_METHOD => 'POST',
            DOCUMENT_URI => "/api/projects/$project/tasks",
            CONTENT_TYPE => 'application/json',
            CONTENT_LENGTH => length $task }, $task],
        [404, { %base, REQUEST_METHOD => 'GET',
            DOCUMENT_URI => '/api/tasks/999999999' }],
        [422, { %base, REQUEST_METHOD => 'POST',
            DOCUMENT_URI => "/api/projects/$project/tasks",
            CONTENT_TYPE => 'application/json',
            CONTENT_LENGTH => length $bad }, $bad],
    );
}

# The figures of a memcheck log: in use at exit, definitely and
# indirectly lost (bytes) and the error count.
sub memcheck_figures {
    my ($file) = @_;
    open my $fh, '<', $file or return {};
    local $/;
    my $log = <$fh>;
    my %f = (log => $log);

    ($f{in_use}) = $log =~ /in use at exit: ([\d,]+) bytes/;
    ($f{definite}) = $log =~ /definitely lost: ([\d,]+) bytes/;
    ($f{indirect}) = $log =~ /indirectly lost: ([\d,]+) bytes/;
    ($f{errors}) = $log =~ /ERROR SUMMARY: ([\d,]+) errors/;
    for (values %f) {
        s/,//g if defined && !/\n/;
    }
    $f{definite} //= 0;
    $f{indirect} //= 0;
    return \%f;
}

# Runs one worker under memcheck for n requests (its request limit) and
# returns the figures of its log.
sub worker_figures {
    my ($n) = @_;
    my $vgdir = File::Temp::tempdir(CLEANUP => 1);

    # the log files are written as the stack's user
    chmod 0777, $vgdir;
    my $t = start_tenantd(TENANTD_WORKERS => 1, TENANTD_MAX_REQUESTS => $n,
        -command => [$valgrind, '--tool=memcheck', '--leak-check=full',
            '--show-leak-kinds=definite,indirect',
            "--log-file=$vgdir/memcheck.%p", "$build/app/tenantd"]);
    my ($worker) = proc_children($t->{pid});
    my @wrong;

    for my $i (1 .. $n / 5) {
        for my $r (round($i)) {
            my ($want, $params, $body) = @$r;
            my $res = fcgi_request($t->{socket}, $params, body => $body,
                timeout => 60);

            push @wrong, "$params->{REQUEST_METHOD} $params->{DOCUMENT_URI}"
                . " $res->{status} (want $want)" if $res->{status} != $want;
        }
    }
    is(scalar @wrong, 0, "$n requests under memcheck answered as expected")
        or diag(join "\n", @wrong[0 .. ($#wrong > 4 ? 4 : $#wrong)]);

    ok(wait_until(sub {
        (memcheck_figures("$vgdir/memcheck.$worker")->{errors} // '') ne ''
    }, 60), "the worker left after its $n requests and memcheck reported")
        or show_tenantd_log($t);
    ok(defined stop_tenantd($t, 60), 'the master stops');
    return memcheck_figures("$vgdir/memcheck.$worker");
}

my $few = worker_figures($FEW);
my $many = worker_figures($MANY);

for my $run ([$FEW, $few], [$MANY, $many]) {
    my ($n, $f) = @$run;

    is($f->{errors}, 0, "$n requests: no memcheck errors")
        or diag($f->{log});
    is($f->{definite} + $f->{indirect}, 0, "$n requests: nothing lost")
        or diag($f->{log});
}

my $growth = ($many->{in_use} // 0) - ($few->{in_use} // 0);
note("heap in use at exit: $few->{in_use} bytes after $FEW requests,"
    . " $many->{in_use} after $MANY");
ok(defined $few->{in_use} && defined $many->{in_use}
    && $growth < 4096,
    "heap in use grows by less than 4 KiB from $FEW to $MANY requests"
    . " ($growth bytes)");

done_testing();
