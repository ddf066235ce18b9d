# infra/setup-secrets: the first-time secrets of an environment, stored
# through the AWS CLI (a recording stand-in here), values never shown.
use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir capture);
use Tenantry::Deploy;

my $script = top_dir() . '/infra/setup-secrets';
my $dir = tempdir(CLEANUP => 1);
my %secrets = (
    TENANTRY_GITHUB_TOKEN         => 'ghp_setupSecretsTestToken42',
    TENANTRY_DNS_CLOUDFLARE_TOKEN => 'cf-setup-secrets-token-77',
);
open my $fh, '>', "$dir/pdns-key" or die;
print {$fh} "pdns-key-from-a-file-99\n";
close $fh;
my %env = (%secrets, TENANTRY_DNS_POWERDNS_KEY_FILE => "$dir/pdns-key");
my @values = (values %secrets, 'pdns-key-from-a-file-99');

my ($fake, $path) = fake_cli();
my ($rc, $out) = capture([$script, '--dry-run', 'staging'], %env,
    PATH => $path, FAKE_CLI_DIR => $fake);
is($rc, 0, 'a dry run succeeds') or diag($out);
is($out, join("\n",
    'would store tenantry/staging/dns-powerdns-key (23 characters)',
    'would store tenantry/staging/dns-cloudflare-token (25 characters)',
    'would store tenantry/staging/github-token (27 characters)'),
    'it names each secret it would store, in order');
my @none = fake_calls($fake);
is(scalar @none, 0, 'and calls nothing');

# github-token exists already; the others are new
fake_answer($fake, 'aws.secretsmanager.describe-secret', n => 1, exit => 254);
fake_answer($fake, 'aws.secretsmanager.describe-secret', n => 2, exit => 254);
fake_answer($fake, 'aws.secretsmanager.describe-secret', n => 3, exit => 0);
($rc, $out) = capture([$script, 'staging'], %env, PATH => $path,
    FAKE_CLI_DIR => $fake);
is($rc, 0, 'a real run succeeds') or diag($out);
is($out, join("\n", 'created tenantry/staging/dns-powerdns-key',
    'created tenantry/staging/dns-cloudflare-token',
    'updated tenantry/staging/github-token'), 'and says what it did');

my @writes = grep { $_->{args}[1] =~ /^(?:create-secret|put-secret-value)$/ }
    fake_calls($fake);
is(join(',', map { $_->{args}[1] } @writes),
    'create-secret,create-secret,put-secret-value',
    'new secrets are created, the existing one updated');
my %stored = map { ($_->{args}[3] => (values %{ $_->{files} })[0]) } @writes;
is_deeply(\%stored, {
    'tenantry/staging/dns-powerdns-key'      => 'pdns-key-from-a-file-99',
    'tenantry/staging/dns-cloudflare-token'  => $secrets{TENANTRY_DNS_CLOUDFLARE_TOKEN},
    'tenantry/staging/github-token'          => $secrets{TENANTRY_GITHUB_TOKEN},
}, 'each value reaches AWS through a file, exactly');
my $args = join ' ', map { @{ $_->{args} } } fake_calls($fake);
ok(!grep({ index($args, $_) >= 0 } @values),
    'no value is ever on a command line');
ok(!grep({ index($out, $_) >= 0 } @values), 'nor in the output');

($rc, $out) = capture([$script, 'staging'], TENANTRY_GITHUB_TOKEN => 'x',
    TENANTRY_GITHUB_TOKEN_FILE => "$dir/pdns-key", PATH => $path,
    FAKE_CLI_DIR => $fake);
isnt($rc, 0, 'a setting given twice is refused');
like($out, qr/both TENANTRY_GITHUB_TOKEN and TENANTRY_GITHUB_TOKEN_FILE/,
    'naming it');

($rc, $out) = capture([$script, 'Staging!'], %env, PATH => $path,
    FAKE_CLI_DIR => $fake);
isnt($rc, 0, 'an odd environment name is refused');

($rc, $out) = capture([$script, '--dry-run', 'staging'], PATH => $path,
    FAKE_CLI_DIR => $fake);
isnt($rc, 0, 'nothing to store is an error');

done_testing();
