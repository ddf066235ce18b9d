# The C sources keep the layout of .clang-format, so layout is never a
# review topic: `make format` fixes what this finds.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

my $top = top_dir();
my ($tool) = grep { -x } map { "$_/clang-format" } split /:/, $ENV{PATH};
plan skip_all => 'clang-format is not installed' unless $tool;

my @files = sort glob "$top/app/*.[ch] $top/t/unit/*.[ch] $top/t/fuzz/*.[ch]";
ok(@files > 10, 'there are C sources to check');

for my $file (@files) {
    my ($rc, $out) = capture([$tool, '--dry-run', '-Werror',
        "--style=file", $file]);
    (my $name = $file) =~ s{^\Q$top\E/}{};
    is($rc, 0, "$name is formatted") or diag($out);
}

done_testing();
