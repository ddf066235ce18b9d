# infra/register-tenant, the combined pipeline's last step, against the
# test stack's admin API: it onboards a tenant whose owner can then sign
# in with the password it kept (in a file, or in Secrets Manager through
# an aws stand-in), takes an existing tenant as done, and fails on
# anything else.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;
use Tenantry::Deploy;

my $s = stack();
my $top = top_dir();
my $script = "$top/infra/register-tenant";
my $url = "http://$s->{domain}:$s->{port}";
my $dir = tempdir('tenantry-register-XXXXXX', TMPDIR => 1, CLEANUP => 1);

subtest 'with a token file and a password file' => sub {
    my $sub = unique_sub('reg');
    my $email = "owner\@$sub.test";
    my $password_file = "$dir/$sub.password";

    my ($rc, $out) = capture([$script, '--url', $url, '--token-file',
        "$s->{state}/admin-token", '--password-file', $password_file, $sub,
        'Registered by the pipeline', $email]);
    is($rc, 0, "$sub is registered") or diag($out);
    like($out, qr/registered tenant \Q$sub\E/, 'and says so');

    ok(-s $password_file, 'the first password is kept');
    is((stat $password_file)[2] & 0777, 0600, 'readable by its owner alone');
    my $password = read_text($password_file) =~ s/\s+\z//r;
    like($password, qr/^[0-9a-f]{32}$/, 'a random one');
    unlike($out, qr/\Q$password\E/, 'and never printed');

    my $tenant = http('GET', host_for($sub), '/api/tenant');
    is($tenant->{status}, 200, 'the tenant is served on its subdomain');
    is(($tenant->{json} // {})->{name}, 'Registered by the pipeline',
        'under its name');
    is(sign_in(host_for($sub), $email, $password)->{status}, 201,
        'its owner signs in with the kept password');

    ($rc, $out) = capture([$script, '--url', $url, '--token-file',
        "$s->{state}/admin-token", '--password-file', $password_file, $sub,
        'Registered again', $email]);
    is($rc, 0, 'registering it again is no failure') or diag($out);
    like($out, qr/exists already/, 'it exists already');
    is(read_text($password_file) =~ s/\s+\z//r, $password,
        'and the kept password stays');

    open my $fh, '>', "$dir/wrong-token" or die;
    print {$fh} "0123456789abcdef\n";
    close $fh;
    ($rc, $out) = capture([$script, '--url', $url, '--token-file',
        "$dir/wrong-token", '--password-file', "$dir/other", unique_sub('reg'),
        'Nope', 'owner@nope.test']);
    isnt($rc, 0, 'a wrong admin token fails');
    like($out, qr/HTTP 401/, 'with the status');

    ($rc, $out) = capture([$script, '--url', $url, '--token-file',
        "$s->{state}/admin-token", '--password-file', "$dir/bad",
        'Not_A_Label', 'Bad', 'owner@bad.test']);
    isnt($rc, 0, 'an invalid subdomain fails');
    like($out, qr/HTTP 422: .*subdomain/, "with the API's explanation");

    ($rc, $out) = capture([$script, '--url', 'http://127.0.0.1:1',
        '--token-file', "$s->{state}/admin-token", '--password-file',
        "$dir/none", unique_sub('reg'), 'Nobody', 'owner@none.test']);
    isnt($rc, 0, 'an API that does not answer fails');

    ($rc, $out) = capture([$script, $sub, 'Name']);
    isnt($rc, 0, 'too few arguments are refused');
};

subtest 'with the stack outputs and Secrets Manager' => sub {
    my $token = read_text("$s->{state}/admin-token") =~ s/\s+\z//r;
    my $token_arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:'
        . 'tenantry/staging/admin-token-AbCdEf';
    my $outputs = "$dir/stack.json";

    open my $fh, '>', $outputs or die;
    print {$fh} stack_outputs_json(Domain => 'example.com',
        AdminTokenSecretArn => $token_arn,
        OwnerSecretPrefix => 'tenantry/staging/owners/');
    close $fh;

    my ($fake, $path) = fake_cli();
    my $sub = unique_sub('sm');
    fake_answer($fake, 'aws.secretsmanager.get-secret-value',
        out => "$token\n");

    my ($rc, $out) = capture([$script, '--outputs', $outputs, '--url', $url,
        $sub, 'Kept in Secrets Manager', "owner\@$sub.test"],
        PATH => $path, FAKE_CLI_DIR => $fake);
    is($rc, 0, "$sub is registered with the token from Secrets Manager")
        or diag($out);

    my @calls = fake_calls($fake);
    is_deeply($calls[0]{args}, ['secretsmanager', 'get-secret-value',
        '--secret-id', $token_arn, '--query', 'SecretString', '--output',
        'text'], "the admin token is read from the stack's secret");
    is($calls[1]{args}[1], 'create-secret', 'the password is stored');
    my %args = @{ $calls[1]{args} }[2 .. 5];
    is($args{'--name'}, "tenantry/staging/owners/$sub",
        'under the prefix the stack names');

    my ($stored) = values %{ $calls[1]{files} };
    like($stored // '', qr/^[0-9a-f]{32}$/,
        'given as a file, not on the command line');
    is(sign_in(host_for($sub), "owner\@$sub.test", $stored // '')->{status},
        201, 'and it is the password the owner signs in with');
    unlike(join(' ', map { @{ $_->{args} } } @calls), qr/\Q$token\E/,
        'the token is never an argument');

    # A retry after a stored password: the stored one is used.
    ($fake, $path) = fake_cli();
    $sub = unique_sub('sm');
    fake_answer($fake, 'aws.secretsmanager.get-secret-value', n => 1,
        out => "$token\n");
    fake_answer($fake, 'aws.secretsmanager.create-secret', exit => 254,
        err => 'An error occurred (ResourceExistsException)');
    fake_answer($fake, 'aws.secretsmanager.get-secret-value', n => 2,
        out => "stored before 1234\n");

    ($rc, $out) = capture([$script, '--outputs', $outputs, '--url', $url,
        $sub, 'Retried', "owner\@$sub.test"],
        PATH => $path, FAKE_CLI_DIR => $fake);
    is($rc, 0, 'a retry with a stored password registers') or diag($out);
    is(sign_in(host_for($sub), "owner\@$sub.test", 'stored before 1234')
        ->{status}, 201, 'with the password stored before');
};

done_testing();
