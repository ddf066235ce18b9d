# Runs the browser tests in t/browser/ (node's test runner driving Debian's
# Chromium through playwright-core) against the stack and re-emits their
# results.  npm ci installs playwright-core into t/browser/node_modules
# when it is missing or older than package-lock.json.

use strict;
use warnings;
use Test::More;
use Digest::SHA qw(sha256_hex);
use File::Path qw(make_path);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $dir = "$FindBin::Bin/browser";
my $chromium = $ENV{TENANTRY_TEST_CHROMIUM} || '/usr/bin/chromium';

# The full path of a program in PATH, or undef.
sub program {
    my ($name) = @_;
    my ($path) = grep { -x } map { "$_/$name" } split /:/, $ENV{PATH} // '';
    return $path;
}

plan skip_all => "$chromium is missing (Debian package chromium)"
    unless -x $chromium;
plan skip_all => 'node and npm are missing' unless program('node')
    && program('npm');

my $s = stack();
my $artifacts = $ENV{TENANTRY_TEST_ARTIFACTS} || "$dir/artifacts";

# npm ci runs when node_modules was installed from another lock file (the
# stamp holds the checksum of the one it was installed from).
sub install_modules {
    my $lock = slurp("$dir/package-lock.json");
    my $stamp = "$dir/node_modules/.tenantry-lock-sha256";
    my $want = sha256_hex($lock);

    ok(length $lock, 't/browser/package-lock.json exists') or return 0;

    if (slurp($stamp) eq $want
        && -f "$dir/node_modules/playwright-core/package.json")
    {
        pass('node_modules is up to date');
        return 1;
    }

    my ($rc, $out) = capture(['npm', 'ci', '--prefix', $dir,
        '--no-audit', '--no-fund', '--loglevel=error']);

    ok($rc == 0, 'npm ci installed t/browser/node_modules')
        or return diag($out) && 0;

    open my $fh, '>', $stamp or return 1;
    print {$fh} $want;
    close $fh;
    return 1;
}

if (install_modules()) {
    my @files = sort glob "$dir/*.test.js";
    my $report = "$artifacts/report.txt";

    make_path($artifacts);
    unlink $report;
    ok(@files >= 1, 'there are browser tests') or diag("none in $dir");

    # Flat TAP on stdout for this file; the readable report, with each
    # failed step's error, goes to the artifacts.
    my $passed = run_tap_program('browser tests', ['node', '--test',
        "--test-reporter=$dir/lib/tap-reporter.js",
        '--test-reporter-destination=stdout',
        '--test-reporter=spec', "--test-reporter-destination=$report",
        @files],
        env => {
            TENANTRY_TEST_STATE     => $s->{state},
            TENANTRY_TEST_PORT      => $s->{port},
            TENANTRY_TEST_DOMAIN    => $s->{domain},
            TENANTRY_TEST_ARTIFACTS => $artifacts,
            TENANTRY_TEST_CHROMIUM  => $chromium,
        },
        timeout => 600, skip_all_fails => 1);

    diag("browser test report:\n" . slurp($report)) unless $passed;
    note("screenshots are in $artifacts");
}

done_testing();
