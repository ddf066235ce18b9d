# Vault: tn_vault_load (through t/unit/vault-tool) reads a KV v2 secret
# from a loopback stand-in and puts the secret settings it holds into the
# environment, without ever printing a value.
use strict;
use warnings;

use Digest::SHA qw(sha256_hex);
use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Loopback;
use Tenantry::Test;

plan skip_all => 'HTTP::Daemon is not installed (libhttp-daemon-perl)'
    unless eval { require HTTP::Daemon; 1 };

my $tool = build_dir() . '/t/unit/vault-tool';
plan skip_all => "$tool is not built (make check-build)" unless -x $tool;

my $json = JSON::PP->new->canonical;
my $token = 'hvs.vault-unit-token-4c2e';
my $wrong = 'hvs.vault-wrong-token-0000';
my %secret = (
    TENANTRY_GITHUB_TOKEN         => 'ghp-from-vault-9d8e7f',
    TENANTRY_DNS_CLOUDFLARE_TOKEN => 'cf-from-vault-1a2b3c',
    TENANTRY_ADMIN_TOKEN          => 'admin-from-vault-5e6f',
    TENANTRY_DATABASE_URL         => 'host=/nowhere password=db-from-vault-77',
    UNRELATED_SETTING             => 'unrelated-from-vault-88',
);
my %other = (TENANTRY_GITHUB_TOKEN => 'ghp-from-other-path-31');
my %broken = (TENANTRY_GITHUB_TOKEN => { nested => 'not-a-string' });

sub kv2 {
    my ($data) = @_;
    return (200, [ 'Content-Type' => 'application/json' ], $json->encode({
        request_id => '5a1f0c4e', lease_id => '', renewable => JSON::PP::false,
        lease_duration => 0, data => { data => $data, metadata => {
            created_time => '2026-01-01T00:00:00Z', version => 3 } },
        wrap_info => undef, warnings => undef, auth => undef }));
}

sub vault_error {
    my ($status, @errors) = @_;
    return ($status, [ 'Content-Type' => 'application/json' ],
        $json->encode({ errors => \@errors }));
}

my $fake = loopback_server(sub {
    my ($req) = @_;

    return vault_error(405, 'only GET here') unless $req->{method} eq 'GET';
    return vault_error(403, 'permission denied')
        unless ($req->{headers}{'x-vault-token'} // '') eq $token;
    return kv2(\%secret) if $req->{path} eq '/v1/secret/data/tenantry';
    return kv2(\%other) if $req->{path} eq '/v1/kv/data/apps/tenantry';
    return kv2(\%broken) if $req->{path} eq '/v1/secret/data/broken';
    return vault_error(404);
});

my @names = sort keys %secret;
my %base = (
    TENANTRY_VAULT_ADDR  => $fake->url . '/',
    TENANTRY_VAULT_TOKEN => $token,
);
my $output = '';

sub vault {
    my (%env) = @_;
    my ($rc, $out, $err) = run_tool([ $tool, @names ], %base, %env);

    $output .= $out . $err;
    my %seen = map { /^(\S+) (.*)$/ ? ($1, $2) : () } split /\n/, $out;
    return { rc => $rc, out => $out, err => $err, seen => \%seen };
}

sub hash_of {
    my ($value) = @_;
    return 'sha256:' . sha256_hex($value);
}

# 1. Loaded: every known secret setting arrives; others do not.

my $res = vault();
is($res->{rc}, 0, 'the secret loads') or diag($res->{err});
for my $name (grep { /^TENANTRY_/ } @names) {
    is($res->{seen}{$name}, hash_of($secret{$name}),
        "$name arrives in the environment with Vault's value");
}
is($res->{seen}{UNRELATED_SETTING}, 'unset',
    'a member that names no secret setting is ignored');
like($res->{err}, qr/vault: 4 setting\(s\) from secret\/data\/tenantry:/,
    'the log line counts what was loaded');

my ($req) = $fake->requests;
is("$req->{method} $req->{path}", 'GET /v1/secret/data/tenantry',
    'a GET of the default path under /v1');
is($req->{headers}{'x-vault-token'}, $token, 'with X-Vault-Token');

# 2. What is set already wins over Vault, directly or as a file.

my $dir = tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/github" or die "$dir/github: $!";
print {$fh} "ghp-from-a-file-42\n";
close $fh;
$res = vault(TENANTRY_ADMIN_TOKEN => 'admin-from-env-6',
    TENANTRY_GITHUB_TOKEN_FILE => "$dir/github");
is($res->{rc}, 0, 'loads with settings already set') or diag($res->{err});
is($res->{seen}{TENANTRY_ADMIN_TOKEN}, hash_of('admin-from-env-6'),
    'a setting in the environment is kept');
is($res->{seen}{TENANTRY_GITHUB_TOKEN}, hash_of('ghp-from-a-file-42'),
    'a setting given as _FILE is kept');
is($res->{seen}{TENANTRY_DNS_CLOUDFLARE_TOKEN},
    hash_of($secret{TENANTRY_DNS_CLOUDFLARE_TOKEN}),
    'the others still come from Vault');

# 3. The token from a file; another path.

open $fh, '>', "$dir/token" or die "$dir/token: $!";
print {$fh} "$token\n";
close $fh;
$res = vault(TENANTRY_VAULT_TOKEN => undef,
    TENANTRY_VAULT_TOKEN_FILE => "$dir/token",
    TENANTRY_VAULT_PATH => 'kv/data/apps/tenantry');
is($res->{rc}, 0, 'the token from a _FILE, another path')
    or diag($res->{err});
is($res->{seen}{TENANTRY_GITHUB_TOKEN},
    hash_of($other{TENANTRY_GITHUB_TOKEN}), 'the value of that path');
is($res->{seen}{TENANTRY_ADMIN_TOKEN}, 'unset',
    'and nothing that path lacks');

# 4. Failures: clear messages, nothing loaded.

$res = vault(TENANTRY_VAULT_TOKEN => $wrong);
is($res->{rc}, 1, 'a wrong token fails');
like($res->{err},
    qr{vault refused to read secret/data/tenantry \(HTTP 403\): permission denied},
    'with Vault\'s status and message');

$res = vault(TENANTRY_VAULT_PATH => 'secret/data/missing');
is($res->{rc}, 1, 'a path without a secret fails');
like($res->{err}, qr{\(HTTP 404\): no secret at this path},
    'and says there is no secret there');

$res = vault(TENANTRY_VAULT_PATH => 'secret/data/broken');
is($res->{rc}, 1, 'a secret setting that is no string fails');
like($res->{err}, qr/member TENANTRY_GITHUB_TOKEN is not a string/,
    'naming the member');

$res = vault(TENANTRY_VAULT_TOKEN => undef);
is($res->{rc}, 1, 'an address without a token fails');
like($res->{err}, qr/TENANTRY_VAULT_TOKEN/, 'naming the token setting');

my $closed = free_port();
$res = vault(TENANTRY_VAULT_ADDR => "http://127.0.0.1:$closed");
is($res->{rc}, 1, 'a Vault nobody runs fails');
like($res->{err}, qr{GET http://127\.0\.0\.1:$closed/v1/secret/data/tenantry: },
    'naming the request');

my ($rc) = run_tool([ $tool, 'TENANTRY_GITHUB_TOKEN' ]);
is($rc, 0, 'without TENANTRY_VAULT_ADDR nothing is asked and all is well');

# 5. No value and no token anywhere in the output.

for my $value ($token, $wrong, values(%other), grep { !ref } values %secret)
{
    unlike($output, qr/\Q$value\E/, 'no output shows a secret');
}

$fake->stop;
done_testing();
