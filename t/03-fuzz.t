# The libFuzzer targets of t/fuzz, briefly: every seed of every target
# replays without breaking the target's invariants, and each target then
# runs a fixed number of fuzzed inputs (same seed every time). script/fuzz
# builds them with clang in build-fuzz/; `make fuzz` runs them for long.
use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $runs = 3000;

my $top = top_dir();
my $build = $ENV{TENANTRY_FUZZ_BUILD_DIR} || "$top/build-fuzz";
my %env = (TENANTRY_FUZZ_BUILD_DIR => $build);
my ($clang) = grep { -x } map { "$_/clang" } split /:/, $ENV{PATH};
plan skip_all => 'clang is not installed (script/packages --test)'
    unless $clang;

my ($rc, $out) = capture(["$top/script/fuzz", 'build'], %env);
is($rc, 0, 'the fuzz targets build') or BAIL_OUT("build: $out");

my @targets = map { m{/([^/]+)\z} } sort grep { -d } glob "$top/t/fuzz/corpus/*";
my @sources = map { m{/([^/]+)\.c\z} } sort glob "$top/t/fuzz/fuzz-*.c";
is_deeply(\@targets, \@sources, 'every target has a seed corpus')
    or diag("targets: @sources; corpora: @targets");
cmp_ok(scalar @targets, '>=', 8, 'there are targets to run');

for my $target (@targets) {
    my @seeds = grep { -f } glob "$top/t/fuzz/corpus/$target/*";
    ok(@seeds >= 3, "$target has seeds");

    ($rc, $out) = capture(["$top/script/fuzz", 'replay', $target], %env);
    is($rc, 0, "$target: every seed replays") or diag($out);
    my ($replayed) = $out =~ /^\Q$target\E: replayed (\d+) seeds$/m;
    is($replayed, scalar @seeds, "$target: all " . @seeds . ' seeds ran');

    ($rc, $out) = capture(["$top/script/fuzz", 'run', '-n', $runs, $target],
        %env);
    is($rc, 0, "$target: $runs fuzzed inputs break no invariant")
        or diag($out);
    my ($executed) = $out =~ /^\Q$target\E: (\d+) executions$/m;
    cmp_ok($executed // 0, '>=', $runs, "$target: ran $runs inputs");
}

done_testing();
