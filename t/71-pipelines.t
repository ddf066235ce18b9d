# The GitHub Actions workflows wire the repository's own commands together
# as documented: each component's workflow runs on pushes that touch its
# folder and nothing else, by hand and from deploy.yml; deploy.yml migrates
# the database before it deploys the API and lets the UI go on its own;
# AWS is reached through OIDC; concurrency cannot deadlock; every `run:`
# step is one command of this repository.  infra/deploy-settings, the
# first command of every pipeline, is run here too.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir capture);
use Tenantry::Deploy;

my $top = top_dir();

# Each component's workflow and the folders that are the component.
my %folders = (ui => ['nginx'], api => ['app'], db => ['db']);
my %target = (ui => 'web', api => 'api', db => 'migrate');

my %wf = map { $_ => workflow($_) } workflow_names();

# Every step of every job of a workflow, with the job's name.
sub steps_of {
    my ($w) = @_;
    my @steps;

    for my $job (sort keys %{ $w->{jobs} || {} }) {
        push @steps, map { [$job, $_] } @{ $w->{jobs}{$job}{steps} || [] };
    }

    return @steps;
}

# The steps of one job that use an action whose name starts with PREFIX.
sub uses_steps {
    my ($job, $prefix) = @_;
    return grep { ($_->{uses} // '') =~ /^\Q$prefix\E@/ }
        @{ $job->{steps} || [] };
}

# The jobs a job needs, directly or through others.
sub needs_closure {
    my ($jobs, $name, $seen) = @_;
    my $needs = $jobs->{$name}{needs} // [];

    $seen //= {};
    for my $need (ref $needs ? @$needs : ($needs)) {
        next if $seen->{$need}++;
        needs_closure($jobs, $need, $seen);
    }

    return $seen;
}

ok(exists $wf{$_}, ".github/workflows/$_.yml exists")
    for qw(ci ui api db deploy);

subtest 'every run step is one command of this repository' => sub {
    for my $name (sort keys %wf) {
        for my $pair (steps_of($wf{$name})) {
            my ($job, $step) = @$pair;
            next unless defined $step->{run};

            my $run = $step->{run};
            my ($command) = $run =~ /^\s*(\S+)/;

            like($command, qr{^(?:script|docker|infra)/[\w.-]+$},
                "$name/$job: '$command' is a repository script");
            ok(-f "$top/$command" && -x _, "$name/$job: $command exists"
                . ' and is executable');
            unlike($run, qr/&&|\|\||;|\|(?!\|)|`|\$\(/,
                "$name/$job: $command runs alone, no shell around it");
            unlike($run, qr/\$\{\{/,
                "$name/$job: $command gets expressions through env, not"
                . ' spliced into the script');
        }
    }
};

subtest 'actions are pinned and AWS keys are never used' => sub {
    for my $name (sort keys %wf) {
        my $text = read_text(repo_path(".github/workflows/$name.yml"));

        unlike($text, qr/aws-access-key-id|aws-secret-access-key|AWS_ACCESS_KEY|AWS_SECRET/i,
            "$name: no long-lived AWS key");

        for my $pair (steps_of($wf{$name})) {
            my ($job, $step) = @$pair;
            next unless defined $step->{uses};
            like($step->{uses}, qr/^(?:\.\/|[\w.-]+\/[\w.-]+@(?:v\d+|[0-9a-f]{40})$)/,
                "$name/$job: $step->{uses} is pinned to a version");
        }

        is_deeply($wf{$name}{permissions}, { contents => 'read' },
            "$name: the workflow's token may only read the repository");
    }
};

for my $component (sort keys %folders) {
    subtest "$component.yml" => sub {
        my $w = $wf{$component} or return fail("no $component.yml");
        my $on = $w->{on};
        my $jobs = $w->{jobs};

        is_deeply($on->{push}{paths}, [ map { "$_/**" } @{ $folders{$component} } ],
            "pushes run it when they touch @{ $folders{$component} }/ and only then");
        is_deeply($on->{push}{branches}, ['main'], 'pushes to main only');
        ok(!exists $on->{push}{'paths-ignore'}, 'no paths-ignore');

        my $manual = $on->{workflow_dispatch}{inputs}{environment};
        is($manual->{type}, 'choice', 'started by hand with an environment');
        is_deeply($manual->{options}, [qw(staging production)],
            'staging or production');

        my $call = $on->{workflow_call};
        is($call->{inputs}{environment}{type}, 'string',
            'callable with a string environment');
        ok($call->{inputs}{environment}{required},
            'which the caller must give');
        is($call->{inputs}{test}{type}, 'boolean',
            'and a boolean to skip the tests');
        ok(exists $call->{secrets}{AWS_ROLE_ARN},
            'the role to assume is a declared secret');

        like($jobs->{settings}{steps}[-1]{run} // '',
            qr/^infra\/deploy-settings "\$DEPLOY_ENVIRONMENT" $component\b/,
            'settings: infra/deploy-settings checks the environment');

        my $test = $jobs->{test};
        is($test->{container}{image}, 'debian:bookworm',
            'the tests run on Debian 12');
        is($test->{steps}[-1]{run}, 'script/test', 'test: script/test');
        like($test->{if} // '', qr/toJSON\(inputs\.test\) != 'false'/,
            'a caller that ran the tests can skip them');

        my $deploy = $jobs->{deploy} or return fail('no deploy job');
        my %needs = map { $_ => 1 } @{ $deploy->{needs} };
        ok($needs{settings} && $needs{test}, 'deploy needs settings and test');
        like($deploy->{if} // '', qr/!failure\(\)/,
            'deploy runs only when nothing before it failed');
        is($deploy->{permissions}{'id-token'}, 'write',
            'deploy may ask for an OIDC token');
        like($deploy->{environment}{name} // '',
            qr/needs\.settings\.outputs\.environment/,
            'deploy runs in the chosen (protectable) environment');
        like($deploy->{concurrency}{group} // '',
            qr/^tenantry-\$\{\{ needs\.settings\.outputs\.environment \}\}-/,
            'deploy has a concurrency group per environment');
        unlike($deploy->{concurrency}{group} // '', qr/^tenantry-deploy-/,
            "whose name is not deploy.yml's");
        ok(!$deploy->{concurrency}{'cancel-in-progress'},
            'a running deployment is never cancelled');
        ok(!exists $w->{concurrency},
            'no workflow-level concurrency (a caller would share it)');

        my ($creds) = uses_steps($deploy, 'aws-actions/configure-aws-credentials');
        ok($creds, 'AWS credentials come from configure-aws-credentials');
        is($creds->{with}{'role-to-assume'}, '${{ secrets.AWS_ROLE_ARN }}',
            'by assuming the deploy role');
        ok(uses_steps($deploy, 'aws-actions/amazon-ecr-login'),
            'it logs in to ECR');

        my @runs = map { $_->{run} // () } @{ $deploy->{steps} };
        ok((grep { /^infra\/fetch-deploy-state / } @runs),
            'it reads the stack and the service');
        ok((grep { /^docker\/build-image $target{$component} "\$REPOSITORY:\$GITHUB_SHA"/ } @runs),
            "it builds and pushes the $target{$component} image, tagged"
            . ' with the commit');
        ok((grep { /^infra\/render-task-definition / } @runs),
            'it renders the task definition with infra/render-task-definition');

        my ($render) = uses_steps($deploy,
            'aws-actions/amazon-ecs-render-task-definition');
        is($render->{with}{'container-name'}, $target{$component},
            "amazon-ecs-render-task-definition sets the $target{$component}"
            . ' image');
        is($render->{with}{image}, '${{ steps.image.outputs.image }}',
            'to the image just built');

        my ($ecs) = grep { !$_->{if} } uses_steps($deploy,
            'aws-actions/amazon-ecs-deploy-task-definition');
        is($ecs->{with}{'task-definition'},
            '${{ steps.render.outputs.task-definition }}',
            'amazon-ecs-deploy-task-definition takes the rendered file');

        if ($component eq 'db') {
            ok(!exists $ecs->{with}{service},
                'the migrate task definition is registered, not a service');
            ok((grep { /^infra\/run-task "\$RUNNER_TEMP\/deploy" "\$TASK_DEFINITION" migrate$/ } @runs),
                'tenantctl migrate runs as a one-off task; its exit code'
                . ' decides');
            like($runs[-1], qr/^infra\/run-task /,
                'the migration is the last step');

            my @bootstrap = grep { ($_->{if} // '') =~ /inputs\.bootstrap/ }
                @{ $deploy->{steps} };
            is(scalar @bootstrap, 3, 'the first deployment may bootstrap'
                . ' the database (render, register, run)');
            like($bootstrap[-1]{run} // '',
                qr/^infra\/run-task "\$RUNNER_TEMP\/deploy" "\$TASK_DEFINITION" bootstrap$/,
                'as a one-off task of infra/bootstrap-database');
            is($on->{workflow_dispatch}{inputs}{bootstrap}{type}, 'boolean',
                'asked for by hand');
            ok(!$on->{workflow_dispatch}{inputs}{bootstrap}{default},
                'never by default');
        } else {
            ok($ecs->{with}{'wait-for-service-stability'},
                'and waits for the service to be stable');
            like($ecs->{with}{service} // '', qr/ServiceName/,
                'of the app service');
            like($ecs->{with}{cluster} // '', qr/ClusterName/,
                'in the cluster');
            like($deploy->{concurrency}{group}, qr/-app-service$/,
                'the UI and the API queue on the one app service');
        }

        if ($component eq 'ui') {
            my $bundle = $jobs->{bundle};
            is($bundle->{steps}[1]{run},
                'docker/ui-bundle "$RUNNER_TEMP/tenantry-ui.tar.gz"',
                'bundle: docker/ui-bundle packs the UI');
            ok((uses_steps($bundle, 'actions/upload-artifact')),
                'and keeps it as an artifact');
            ok($needs{bundle}, 'deploy needs the bundle');
        }
    };
}

subtest 'deploy.yml' => sub {
    my $w = $wf{deploy} or return fail('no deploy.yml');
    my $jobs = $w->{jobs};
    my $inputs = $w->{on}{workflow_dispatch}{inputs};

    is($inputs->{components}{default}, 'all', 'components: all by default');
    is_deeply($inputs->{environment}{options}, [qw(staging production)],
        'environment: staging or production');
    is($inputs->{tenant}{default}, '', 'tenant: optional');
    ok(exists $inputs->{'tenant-owner-email'}, "the tenant owner's email");

    like($w->{concurrency}{group}, qr/^tenantry-deploy-\$\{\{ inputs\.environment \}\}$/,
        'one combined deployment per environment at a time');
    ok(!$w->{concurrency}{'cancel-in-progress'}, 'never cancelled midway');

    like($jobs->{plan}{steps}[-1]{run} // '',
        qr/^infra\/deploy-settings "\$DEPLOY_ENVIRONMENT" "\$DEPLOY_COMPONENTS"/,
        'plan: infra/deploy-settings reads the inputs');
    is($jobs->{test}{steps}[-1]{run}, 'script/test', 'test: script/test once');

    for my $component (qw(db api ui)) {
        my $job = $jobs->{$component} or next;
        my $called = $wf{$component};
        my $declared = $called->{on}{workflow_call};

        is($job->{uses}, "./.github/workflows/$component.yml",
            "$component calls $component.yml");
        like($job->{if} // '', qr/needs\.plan\.outputs\.$component == 'true'/,
            "$component runs when chosen");
        ok(defined $job->{with}{test} && !$job->{with}{test},
            "$component skips the tests run once here");
        ok(needs_closure($jobs, $component)->{test},
            "$component comes after the tests");
        is($job->{permissions}{'id-token'}, 'write',
            "$component may ask for an OIDC token");

        for my $input (sort keys %{ $job->{with} || {} }) {
            ok(exists $declared->{inputs}{$input},
                "$component: input $input is declared by $component.yml");
        }
        for my $input (sort keys %{ $declared->{inputs} || {} }) {
            next unless $declared->{inputs}{$input}{required};
            ok(exists $job->{with}{$input},
                "$component: required input $input is given");
        }
        for my $secret (sort keys %{ $job->{secrets} || {} }) {
            ok(exists $declared->{secrets}{$secret},
                "$component: secret $secret is declared by $component.yml");
        }

        for my $inner (sort keys %{ $called->{jobs} }) {
            my $group = $called->{jobs}{$inner}{concurrency}{group} // next;
            unlike($group, qr/^tenantry-deploy-/,
                "$component.yml/$inner waits on a group of its own, not"
                . " deploy.yml's");
        }
    }

    ok(needs_closure($jobs, 'api')->{db},
        'the API is deployed after the database migrations');
    like($jobs->{api}{if} // '', qr/!failure\(\)/,
        'and not at all when they failed');
    like($jobs->{api}{if} // '', qr/!cancelled\(\)/,
        'but also when the database was not chosen (skipped)');
    my $ui_needs = needs_closure($jobs, 'ui');
    ok(!$ui_needs->{db} && !$ui_needs->{api},
        'the UI waits for neither the database nor the API');

    my $register = $jobs->{register};
    ok(needs_closure($jobs, 'register')->{api},
        'a tenant is onboarded after the API is deployed');
    like($register->{if} // '', qr/inputs\.tenant != ''/,
        'only when one was asked for');
    like($register->{environment}{name} // '', qr/needs\.plan\.outputs\.environment/,
        'in the chosen environment');
    ok((grep { ($_->{run} // '') =~ /^infra\/register-tenant / }
        @{ $register->{steps} }), 'through infra/register-tenant');
};

subtest 'ci.yml' => sub {
    my $w = $wf{ci} or return fail('no ci.yml');

    ok(exists $w->{on}{pull_request}, 'runs on pull requests');
    is($w->{jobs}{test}{steps}[-1]{run}, 'script/test', 'runs script/test');
    is($w->{jobs}{test}{container}{image}, 'debian:bookworm',
        'on Debian 12');
};

subtest 'infra/deploy-settings' => sub {
    my $settings = "$top/infra/deploy-settings";
    my ($rc, $out) = capture([$settings, 'production', 'db, ui']);

    is($rc, 0, 'production with db and ui is accepted');
    is($out, "environment=production\nstack=tenantry-production\nui=true\n"
        . "api=false\ndb=true", 'and printed for $GITHUB_OUTPUT');

    ($rc, $out) = capture([$settings, 'staging']);
    like($out, qr/^ui=true\napi=true\ndb=true$/m, 'all by default');

    ($rc, $out) = capture([$settings, 'staging', '']);
    like($out, qr/^ui=true\napi=true\ndb=true$/m, 'all when empty');

    for my $bad (['prod'], ['staging', 'web'], ['staging', 'api;db'], []) {
        ($rc, $out) = capture([$settings, @$bad]);
        isnt($rc, 0, "refused: @$bad") or diag($out);
    }
};

done_testing();
