# POST /admin/trigger-pipeline: a second tenantd, set up for pipelines,
# dispatches GitHub workflows to a loopback stand-in of GitHub's API that
# checks path, headers and body; its answers map to the admin API's.
use strict;
use warnings;

use File::Temp qw(tempdir);
use JSON::PP;
use Test::More;
use Time::HiRes qw(time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Loopback;
use Tenantry::Test;

plan skip_all => 'HTTP::Daemon is not installed (libhttp-daemon-perl)'
    unless eval { require HTTP::Daemon; 1 };
plan skip_all => 'FCGI::Client is not installed (libfcgi-client-perl)'
    unless eval { require FCGI::Client; 1 };

my $s = stack();
my $json = JSON::PP->new->canonical;
my $repo = 'acme-org/tenantry-deploy';
my $onboard_repo = 'acme-org/tenantry-onboard';
my $token = 'ghp_pipelineUnitToken5a7c9e';
my $wrong = 'ghp_revokedUnitToken0000';
my %workflow_inputs = map { $_ => 1 } qw(tenant version);

sub github {
    my ($status, $doc) = @_;
    return ($status, [ 'Content-Type' => 'application/json' ],
        defined $doc ? $json->encode($doc) : '');
}

# What is wrong with the request's headers, or ''.
sub header_problems {
    my ($h) = @_;
    my %want = (
        accept                 => 'application/vnd.github+json',
        'x-github-api-version' => '2022-11-28',
        'user-agent'           => 'tenantry',
        'content-type'         => 'application/json',
    );

    return join '; ', map { "$_ must be $want{$_}" }
        grep { ($h->{$_} // '') ne $want{$_} } sort keys %want;
}

# GitHub's side of a dispatch of an existing workflow.
sub dispatch {
    my ($req) = @_;
    my $body = eval { $json->decode($req->{body}) };

    return github(400, { message => 'Problems parsing JSON' })
        unless ref $body eq 'HASH';
    return github(422, { message => 'ref must be a string' })
        unless defined $body->{ref} && !ref $body->{ref};
    return github(422, { message => 'inputs must be an object of strings' })
        if grep { ref } values %{ $body->{inputs} || {} }
        or exists $body->{inputs} && ref $body->{inputs} ne 'HASH';

    my @unexpected = grep { !$workflow_inputs{$_} }
        sort keys %{ $body->{inputs} || {} };
    return github(422, { message => 'Unexpected inputs provided: '
        . $json->encode(\@unexpected) }) if @unexpected;

    return 'hang' if $body->{ref} eq 'slow';
    return github(500, { message => 'Server Error' })
        if $body->{ref} eq 'broken';
    return github(422, { message => "No ref found for: $body->{ref}" })
        if $body->{ref} eq 'no-such-branch';
    return github(204);
}

my $fake = loopback_server(sub {
    my ($req) = @_;
    my ($repository, $workflow) = $req->{path}
        =~ m{^/repos/([^/]+/[^/]+)/actions/workflows/([^/]+)/dispatches\z}
        or return github(404, { message => 'Not Found' });

    return github(404, { message => 'Not Found' })
        unless $req->{method} eq 'POST';
    return github(401, { message => 'Bad credentials' })
        unless ($req->{headers}{authorization} // '') eq "Bearer $token";

    my $problems = header_problems($req->{headers});
    return github(400, { message => $problems }) if $problems;

    return github(404, { message => 'Not Found' })
        unless ($repository eq $repo || $repository eq $onboard_repo)
        && $workflow =~ /^(?:ui|api|db|deploy)\.yml\z/;
    return github(404, { message => 'Not Found' })
        if $workflow eq 'deploy.yml' && $repository eq $repo;
    return github(403, { message => 'Resource not accessible by personal access token' })
        if $workflow eq 'db.yml';

    return dispatch($req);
});

my $t = start_tenantd(
    TENANTRY_GITHUB_REPOSITORY => $repo,
    TENANTRY_GITHUB_TOKEN      => $token,
    TENANTRY_GITHUB_API_URL    => $fake->url . '/',
);

my $request_counter = 0;
my @responses;

# One admin request over FastCGI to a tenantd.
sub trigger {
    my ($tenantd, $body, %opt) = @_;
    my $text = ref $body ? $json->encode($body) : $body;
    my %params = (
        TENANTRY_SITE      => 'main',
        REQUEST_METHOD     => 'POST',
        DOCUMENT_URI       => '/admin/trigger-pipeline',
        REQUEST_ID         => sprintf('%032x', ++$request_counter),
        CONTENT_TYPE       => 'application/json',
        CONTENT_LENGTH     => length $text,
        HTTP_AUTHORIZATION => 'Bearer ' . ($opt{admin} // $s->{token}),
    );
    my $res = fcgi_request($tenantd->{socket}, \%params, body => $text,
        timeout => 40);

    push @responses, $res;
    return $res;
}

sub fake_count {
    my @all = $fake->requests;
    return scalar @all;
}

# 1. A dispatch GitHub accepts answers 202, with everything GitHub wants.

my $n = fake_count();
my $res = trigger($t, { pipeline => 'ui', ref => 'main',
    inputs => { tenant => 'acme', version => '1.2.3' } });
my $doc = is_json_response($res, 202, 'dispatch ui');
is_deeply($doc, { pipeline => 'ui', ref => 'main', status => 'dispatched' },
    'the answer names pipeline, ref and status');

my ($req) = $fake->requests_since($n);
is($req->{method}, 'POST', 'GitHub got a POST');
is($req->{path}, "/repos/$repo/actions/workflows/ui.yml/dispatches",
    'to the workflow\'s dispatches resource');
is($req->{headers}{accept}, 'application/vnd.github+json', 'Accept');
is($req->{headers}{authorization}, "Bearer $token", 'Authorization');
is($req->{headers}{'x-github-api-version'}, '2022-11-28',
    'X-GitHub-Api-Version');
is($req->{headers}{'user-agent'}, 'tenantry', 'User-Agent');
is_deeply($json->decode($req->{body}), { ref => 'main',
    inputs => { tenant => 'acme', version => '1.2.3' } },
    'the body is ref and inputs');
is($req->{status}, 204, 'GitHub answered 204');

$n = fake_count();
is_json_response(trigger($t, { pipeline => 'api' }), 202,
    'dispatch api without ref and inputs');
($req) = $fake->requests_since($n);
is_deeply($json->decode($req->{body}), { ref => 'main', inputs => {} },
    'ref defaults to main, inputs to none');

is_json_response(trigger($t, { pipeline => 'api',
    ref => 'refs/tags/v1.4.0' }), 202, 'dispatch api on a tag');

# 2. GitHub's refusals.

$res = trigger($t, { pipeline => 'deploy' });
is_problem_slug($res, 404, 'pipeline-not-found',
    'a workflow GitHub does not have');
like($res->{json}{detail}, qr/unknown pipeline or repository/,
    'says the pipeline or repository is unknown');

$res = trigger($t, { pipeline => 'db' });
is_problem_slug($res, 502, 'pipeline-auth-failed',
    'GitHub refuses the token for this workflow (403)');
like($res->{json}{detail}, qr/\(HTTP 403\): Resource not accessible/,
    'with GitHub\'s status and message');

$res = trigger($t, { pipeline => 'ui', ref => 'no-such-branch' });
is_problem_slug($res, 422, 'pipeline-rejected', 'a ref GitHub lacks');
like($res->{json}{detail}, qr/No ref found for: no-such-branch/,
    'carries GitHub\'s message');

$res = trigger($t, { pipeline => 'ui', inputs => { bogus => 'x' } });
is_problem_slug($res, 422, 'pipeline-rejected', 'an input the workflow lacks');
like($res->{json}{detail}, qr/Unexpected inputs provided: \["bogus"\]/,
    'carries GitHub\'s message');

$res = trigger($t, { pipeline => 'ui', ref => 'broken' });
is_problem_slug($res, 502, 'pipeline-failed', 'GitHub fails (500)');

my $started = time;
$res = trigger($t, { pipeline => 'ui', ref => 'slow' });
my $took = time - $started;
is_problem_slug($res, 504, 'pipeline-timeout', 'GitHub does not answer');
ok($took >= 14 && $took < 30, sprintf('the wait was bounded (%.1f s)', $took));

# 3. Bad requests never reach GitHub.

$n = fake_count();
my @invalid = (
    [ { ref => 'main' }, 'pipeline', 'no pipeline' ],
    [ { pipeline => 'web' }, 'pipeline', 'an unknown pipeline' ],
    [ { pipeline => 'ui', ref => 'a b' }, 'ref', 'a ref with a space' ],
    [ { pipeline => 'ui', ref => '../x' }, 'ref', 'a ref with ..' ],
    [ { pipeline => 'ui', inputs => [ 'x' ] }, 'inputs',
        'inputs that are no object' ],
    [ { pipeline => 'ui', inputs => { tenant => 5 } }, 'inputs.tenant',
        'an input that is no string' ],
);
for my $case (@invalid) {
    my ($body, $field, $name) = @$case;

    $res = trigger($t, $body);
    is_problem_slug($res, 422, 'validation-failed', $name);
    is_deeply([ problem_fields($res) ], [$field], "$name: names $field");
}
is_problem(trigger($t, '{"pipeline": '), 400, 'a body that is no JSON');
is_problem(trigger($t, { pipeline => 'ui' }, admin => 'not-the-token'),
    401, 'no admin token');
is(fake_count(), $n, 'none of these reached GitHub');

# 4. A token GitHub refuses, read from a file.

my $dir = tempdir(CLEANUP => 1);
open my $fh, '>', "$dir/github-token" or die "$dir/github-token: $!";
print {$fh} "$wrong\n";
close $fh;
chown((stat $t->{dir})[4, 5], $dir, "$dir/github-token");

my $t2 = start_tenantd(
    TENANTRY_GITHUB_REPOSITORY => $repo,
    TENANTRY_GITHUB_TOKEN_FILE => "$dir/github-token",
    TENANTRY_GITHUB_API_URL    => $fake->url,
);
$res = trigger($t2, { pipeline => 'ui' });
is_problem_slug($res, 502, 'pipeline-auth-failed', 'a token GitHub refuses');
like($res->{json}{detail}, qr/\(HTTP 401\): Bad credentials/,
    'with GitHub\'s status and message');

# 4b. Onboarding starts the deploy pipeline with the new subdomain.

my $t3 = start_tenantd(
    TENANTRY_GITHUB_REPOSITORY   => $onboard_repo,
    TENANTRY_GITHUB_TOKEN        => $token,
    TENANTRY_GITHUB_API_URL      => $fake->url,
    TENANTRY_PIPELINE_ON_ONBOARD => 1,
);
my $sub = unique_sub('pipe');
my $register = $json->encode({ subdomain => $sub, name => 'Piped',
    owner => { email => "o\@$sub.test", password => 'pipe password' } });
$n = fake_count();
$res = fcgi_request($t3->{socket}, { TENANTRY_SITE => 'main',
    REQUEST_METHOD => 'POST', DOCUMENT_URI => '/admin/register-user',
    REQUEST_ID => 'c' x 32, CONTENT_TYPE => 'application/json',
    CONTENT_LENGTH => length $register,
    HTTP_AUTHORIZATION => "Bearer $s->{token}" }, body => $register);
is($res->{status}, 201, 'onboarding with the pipeline setting succeeds')
    or diag($res->{body});
($req) = $fake->requests_since($n);
is($req->{path} // '',
    "/repos/$onboard_repo/actions/workflows/deploy.yml/dispatches",
    'onboarding dispatched the deploy workflow');
is_deeply(eval { $json->decode($req->{body} // '') },
    { ref => 'main', inputs => { tenant => $sub } },
    'on main, with the new subdomain as the tenant input');
push @responses, $res;

# 5. GitHub out of reach.

$fake->stop;
$res = trigger($t, { pipeline => 'ui' });
is_problem_slug($res, 502, 'pipeline-unreachable', 'nobody at the API URL');

# 6. The stack's own tenantd has no pipelines configured.

SKIP: {
    my ($master) = tenantd_pids();
    my $env = $master ? proc_environ($master) : {};

    skip 'the stack\'s tenantd has GitHub settings', 9
        if $env->{TENANTRY_GITHUB_REPOSITORY};

    $res = http('POST', main_host(), '/admin/trigger-pipeline',
        json => { pipeline => 'ui' }, bearer => $s->{token});
    is_problem_slug($res, 503, 'pipelines-not-configured',
        'through nginx, without settings');
    push @responses, $res;
}

# 7. No token in any answer or log line.

my $logs = join '', map { local (@ARGV, $/) = $_->{log}; <> // '' } $t, $t2,
    $t3;
my $answers = join '', map { $_->{body} // '' } @responses;
for my $secret ($token, $wrong) {
    unlike($logs, qr/\Q$secret\E/, 'the tenantd logs show no GitHub token');
    unlike($answers, qr/\Q$secret\E/, 'no answer shows a GitHub token');
}
like($logs, qr/pipeline ui dispatched in \Q$repo\E on main/,
    'the log records a dispatch');

for my $tenantd ($t, $t2) {
    is(stop_tenantd($tenantd, 10), 0, "tenantd $tenantd->{pid} stops");
}

done_testing();
