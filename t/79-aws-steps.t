# The pipeline steps that talk to AWS and Docker, run against stand-ins
# for the aws and docker programs (t/fakes/fake-cli) that record each call
# and answer as the real ones document: docker/build-image,
# infra/fetch-deploy-state, infra/run-task (the one-off migration, failing
# when the container exits non-zero) and infra/check-task-exit.

use strict;
use warnings;
use Test::More;
use JSON::PP;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir capture);
use Tenantry::Deploy;

my $top = top_dir();
my $registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
my $cluster = 'tenantry-staging';
my $task_arn = "arn:aws:ecs:eu-west-1:123456789012:task/$cluster/4f2a9c";
my $taskdef_arn = 'arn:aws:ecs:eu-west-1:123456789012:task-definition/'
    . 'tenantry-staging-migrate:12';
my $network = { awsvpcConfiguration => { subnets => [qw(subnet-a subnet-b)],
    securityGroups => ['sg-1'], assignPublicIp => 'DISABLED' } };

# The calls one program received, as lists of words.
sub calls_of {
    my ($dir, $program) = @_;
    return map { $_->{args} } grep { $_->{program} eq $program }
        fake_calls($dir);
}

# The value given to an option in one recorded call.
sub arg_value {
    my ($call, $option) = @_;
    for my $i (0 .. $#$call - 1) {
        return $call->[$i + 1] if $call->[$i] eq $option;
    }
    return undef;
}

# A describe-tasks answer for one stopped task.
sub stopped_task {
    my (%container) = @_;
    return { failures => [], tasks => [{ taskArn => $task_arn,
        lastStatus => 'STOPPED', stopCode => 'EssentialContainerExited',
        stoppedReason => 'Essential container in task exited',
        containers => [{ name => 'migrate', %container }] }] };
}

subtest 'docker/build-image' => sub {
    my $image = "$registry/tenantry-staging/api:0123abcd";
    my ($dir, $path) = fake_cli();

    fake_answer($dir, 'docker.manifest.inspect', exit => 1,
        err => 'no such manifest');
    my ($rc, $out) = capture(["$top/docker/build-image", 'api', $image],
        PATH => $path, FAKE_CLI_DIR => $dir, GITHUB_SHA => '0123abcd');
    is($rc, 0, 'a new image is built and pushed') or diag($out);
    like($out, qr/^image=\Q$image\E$/m, 'image= is printed for $GITHUB_OUTPUT');

    my @calls = calls_of($dir, 'docker');
    is_deeply([map { $_->[0] } @calls], [qw(manifest build push)],
        'docker: look, build, push');
    is_deeply($calls[1], ['build', '--pull', '--target', 'api', '--tag',
        $image, '--label', 'org.opencontainers.image.revision=0123abcd', $top],
        'the api target of the repository is built');
    is_deeply($calls[2], ['push', $image], 'and pushed under its tag');

    ($dir, $path) = fake_cli();
    ($rc, $out) = capture(["$top/docker/build-image", 'api', $image],
        PATH => $path, FAKE_CLI_DIR => $dir);
    is($rc, 0, 'an image the registry has already is fine');
    is_deeply([map { $_->[0] } calls_of($dir, 'docker')], ['manifest'],
        'and is neither built nor pushed again (tags never change)');

    ($dir, $path) = fake_cli();
    ($rc, $out) = capture(["$top/docker/build-image", 'web', $image],
        PATH => $path, FAKE_CLI_DIR => $dir, TENANTRY_PUSH => 0);
    is_deeply([map { $_->[0] } calls_of($dir, 'docker')], ['build'],
        'TENANTRY_PUSH=0 builds only');

    ($dir, $path) = fake_cli();
    fake_answer($dir, 'docker.manifest.inspect', exit => 1);
    fake_answer($dir, 'docker.build', exit => 1, err => 'build failed');
    ($rc, $out) = capture(["$top/docker/build-image", 'migrate', $image],
        PATH => $path, FAKE_CLI_DIR => $dir);
    isnt($rc, 0, 'a failed build fails the step');
    is_deeply([map { $_->[0] } calls_of($dir, 'docker')],
        [qw(manifest build)], 'and pushes nothing');

    for my $bad (['db', $image], ['api', "$registry/tenantry/api"],
        ['api', "$registry/tenantry/api:latest"], ['api']) {
        ($rc, $out) = capture(["$top/docker/build-image", @$bad],
            PATH => $path, FAKE_CLI_DIR => $dir);
        isnt($rc, 0, "refused: @$bad");
    }
};

# Stand-in answers for a stack, its service and the task definition it runs.
sub deploy_state {
    my ($dir, %opt) = @_;
    my $stack = decode_json(stack_outputs_json(ClusterName => $cluster,
        ServiceName => 'tenantry-staging-app', LogGroupName => '/tenantry/staging',
        Domain => 'example.com'));

    $stack->{Stacks}[0]{StackStatus} = $opt{status} // 'UPDATE_COMPLETE';
    fake_answer($dir, 'aws.cloudformation.describe-stacks', out => $stack);
    fake_answer($dir, 'aws.ecs.describe-services', out => { services => [{
        serviceName => 'tenantry-staging-app',
        taskDefinition => 'arn:aws:ecs:eu-west-1:123456789012:'
            . 'task-definition/tenantry-staging-app:7',
        networkConfiguration => $network }] });
    fake_answer($dir, 'aws.ecs.describe-task-definition', out => {
        taskDefinition => { family => 'tenantry-staging-app',
            containerDefinitions => [{ name => 'web', image => 'w:1' },
                { name => 'api', image => 'a:1' }] } });
}

subtest 'infra/fetch-deploy-state' => sub {
    my ($dir, $path) = fake_cli();
    my $state = "$dir/state";

    deploy_state($dir);
    my ($rc, $out) = capture(["$top/infra/fetch-deploy-state",
        'tenantry-staging', $state], PATH => $path, FAKE_CLI_DIR => $dir);
    is($rc, 0, 'it reads stack, service and task definition') or diag($out);
    like($out, qr/^ClusterName=tenantry-staging$/m,
        'and prints the outputs for $GITHUB_OUTPUT');
    like($out, qr/^Domain=example\.com$/m, 'all of them');
    ok(-s "$state/$_", "$_ is kept") for qw(stack.json service.json
        task-definition.json);

    my @calls = calls_of($dir, 'aws');
    is_deeply($calls[0], [qw(cloudformation describe-stacks --stack-name
        tenantry-staging --output json)], 'the stack by name');
    is_deeply($calls[1], [qw(ecs describe-services --cluster), $cluster,
        qw(--services tenantry-staging-app --output json)],
        "the service named by the stack's outputs");
    is_deeply($calls[2], ['ecs', 'describe-task-definition',
        '--task-definition', 'arn:aws:ecs:eu-west-1:123456789012:'
        . 'task-definition/tenantry-staging-app:7', '--output', 'json'],
        'the task definition the service runs');

    ($dir, $path) = fake_cli();
    deploy_state($dir, status => 'UPDATE_ROLLBACK_FAILED');
    ($rc, $out) = capture(["$top/infra/fetch-deploy-state",
        'tenantry-staging', "$dir/state"], PATH => $path, FAKE_CLI_DIR => $dir);
    isnt($rc, 0, 'a stack that is not complete stops the deployment');
    like($out, qr/UPDATE_ROLLBACK_FAILED/, 'saying why');
};

# Runs the migration step against stand-ins; the describe-tasks answer
# after the task stopped is given.  Returns (rc, output, fake dir).
sub run_migration {
    my ($stopped, %opt) = @_;
    my ($dir, $path) = fake_cli();

    deploy_state($dir);
    my ($rc, $out) = capture(["$top/infra/fetch-deploy-state",
        'tenantry-staging', "$dir/state"], PATH => $path, FAKE_CLI_DIR => $dir);
    die "fetch-deploy-state failed: $out\n" if $rc != 0;

    fake_answer($dir, 'aws.ecs.run-task', out => $opt{run} // {
        failures => [], tasks => [{ taskArn => $task_arn,
            lastStatus => 'PROVISIONING' }] });
    # The first wait gives up (as the CLI's waiter does after ten minutes)
    # while the task still runs; the second sees it stopped.
    fake_answer($dir, 'aws.ecs.wait', n => 1, exit => 255,
        err => 'Waiter TasksStopped failed: Max attempts exceeded');
    fake_answer($dir, 'aws.ecs.describe-tasks', n => 1, out => "RUNNING\n");
    fake_answer($dir, 'aws.ecs.describe-tasks', n => 2, out => $stopped);
    fake_answer($dir, 'aws.logs.get-log-events',
        out => "public: 1 applied\tacme: 2 applied\n");

    ($rc, $out) = capture(["$top/infra/run-task", "$dir/state",
        $taskdef_arn, 'migrate'], PATH => $path, FAKE_CLI_DIR => $dir);
    return ($rc, $out, $dir);
}

subtest 'infra/run-task: the one-off migration' => sub {
    my ($rc, $out, $dir) = run_migration(stopped_task(exitCode => 0));
    is($rc, 0, 'a migration that exits 0 passes') or diag($out);
    like($out, qr/^public: 1 applied\nacme: 2 applied$/m,
        "the task's log is shown");
    like($out, qr/exited 0/, 'and its exit code');

    my @calls = calls_of($dir, 'aws');
    my ($run) = grep { $_->[1] eq 'run-task' } @calls;
    is(arg_value($run, '--cluster'), $cluster, 'run-task on the cluster');
    is(arg_value($run, '--task-definition'), $taskdef_arn,
        'of the registered revision');
    is(arg_value($run, '--launch-type'), 'FARGATE', 'on Fargate');
    is(arg_value($run, '--count'), 1, 'one task');
    is_deeply(decode_json(arg_value($run, '--network-configuration')),
        $network, "in the service's subnets and security groups");

    my @waits = grep { $_->[1] eq 'wait' } @calls;
    is(scalar @waits, 2, 'aws ecs wait tasks-stopped until it stopped');
    is_deeply($waits[0], ['ecs', 'wait', 'tasks-stopped', '--cluster',
        $cluster, '--tasks', $task_arn], 'for the task started');

    my ($logs) = grep { $_->[0] eq 'logs' } @calls;
    is(arg_value($logs, '--log-stream-name'), 'migrate/migrate/4f2a9c',
        "the log stream of the task's container");
    is(arg_value($logs, '--log-group-name'), '/tenantry/staging',
        'in its group');

    ($rc, $out) = run_migration(stopped_task(exitCode => 1));
    isnt($rc, 0, 'a migration that exits 1 fails the pipeline');
    like($out, qr/container 'migrate' of task \Q$task_arn\E exited 1/,
        'saying so');

    ($rc, $out) = run_migration(stopped_task(reason =>
        'CannotPullContainerError: pull image manifest has been retried'));
    isnt($rc, 0, 'a task whose container never ran fails it too');
    like($out, qr/has no exit code.*CannotPullContainerError/s,
        'with the reason');

    ($rc, $out) = run_migration(undef, run => { tasks => [],
        failures => [{ arn => $taskdef_arn, reason => 'RESOURCE:MEMORY' }] });
    isnt($rc, 0, 'a task ECS did not start fails it');
    like($out, qr/RESOURCE:MEMORY/, 'with the reason');
};

subtest 'infra/check-task-exit' => sub {
    my ($dir) = fake_cli();
    my $check = "$top/infra/check-task-exit";
    my $n = 0;

    # Writes a describe-tasks document and checks it.
    my $run = sub {
        my ($doc, $container) = @_;
        my $file = "$dir/tasks-" . ++$n . '.json';
        open my $fh, '>', $file or die;
        print {$fh} encode_json($doc);
        close $fh;
        return capture([$check, $file, $container // 'migrate']);
    };

    is(($run->(stopped_task(exitCode => 0)))[0], 0, 'exit 0 passes');
    isnt(($run->(stopped_task(exitCode => 2)))[0], 0, 'exit 2 fails');
    isnt(($run->(stopped_task(exitCode => 0), 'web'))[0], 0,
        'a container the task does not have fails');

    my $running = stopped_task(exitCode => 0);
    $running->{tasks}[0]{lastStatus} = 'RUNNING';
    isnt(($run->($running))[0], 0, 'a task still running fails');

    isnt(($run->({ tasks => [], failures => [{ arn => $task_arn,
        reason => 'MISSING' }] }))[0], 0, 'a task ECS cannot find fails');
    isnt(($run->({ tasks => [] }))[0], 0, 'no task at all fails');

    my ($rc, $out) = capture([$check, "$top/Dockerfile", 'migrate']);
    isnt($rc, 0, 'something that is not JSON fails');
};

done_testing();
