# Runs the C unit test programs (built by `make check`) and re-emits each
# one's TAP as a subtest.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $dir = build_dir() . '/t/unit';
my @programs = sort grep { -f && -x && m{/test-[\w-]+\z} } glob "$dir/test-*";

ok(scalar @programs, "unit test programs exist in $dir")
    or diag("the unit programs were not built: no executable $dir/test-*;"
    . " they are built by `make check` in the build directory");

for my $program (@programs) {
    my ($name) = $program =~ m{([^/]+)\z};

    run_tap_program($name, $program);
}

done_testing();
