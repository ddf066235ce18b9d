# The ECS task definitions as the pipelines render them with
# infra/render-task-definition: valid JSON, the web and api containers in
# one task talking over loopback TCP, the images given substituted (and the
# image deployed now kept for the container not being deployed), every
# secret a valueFrom ARN and none in plain environment, health checks and
# CloudWatch logs; the migrate task runs the image's own command.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use JSON::PP;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir capture);
use Tenantry::Deploy;

my $top = top_dir();
my $render = "$top/infra/render-task-definition";
my $dir = tempdir('tenantry-taskdef-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $arn = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:tenantry/staging';
my %outputs = (
    EnvironmentName           => 'staging',
    Region                    => 'eu-west-1',
    Domain                    => 'example.com',
    VpcCidr                   => '10.40.0.0/16',
    ExecutionRoleArn          => 'arn:aws:iam::123456789012:role/exec',
    BootstrapExecutionRoleArn => 'arn:aws:iam::123456789012:role/boot',
    TaskRoleArn               => 'arn:aws:iam::123456789012:role/task',
    LogGroupName              => '/tenantry/staging',
    DatabaseUrlSecretArn      => "$arn/database-url-AbCdEf",
    AdminTokenSecretArn       => "$arn/admin-token-AbCdEf",
    DatabaseMasterSecretArn   => "$arn/database-master-AbCdEf",
    DatabaseAppSecretArn      => "$arn/database-app-AbCdEf",
    DatabaseHost              => 'tenantry-staging.abc.eu-west-1.rds.amazonaws.com',
    DatabasePort              => '5432',
);
my $registry = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/tenantry-staging';

open my $fh, '>', "$dir/stack.json" or die;
print {$fh} stack_outputs_json(%outputs);
close $fh;

# Renders a template; returns (exit code, decoded JSON or undef, output).
sub render {
    my (@args) = @_;
    my ($rc, $out) = capture([$render, '--outputs', "$dir/stack.json", @args]);
    my $doc = $rc == 0 ? eval { decode_json($out) } : undef;
    return ($rc, $doc, $out);
}

sub container {
    my ($doc, $name) = @_;
    my ($c) = grep { $_->{name} eq $name } @{ $doc->{containerDefinitions} };
    return $c;
}

sub env_of {
    my ($c) = @_;
    return { map { $_->{name} => $_->{value} } @{ $c->{environment} || [] } };
}

# The checks every rendered task definition must pass.
sub common_checks {
    my ($doc, $what) = @_;
    my $text = encode_json($doc);

    unlike($text, qr/@[A-Za-z0-9?]+@/, "$what: no placeholder is left");
    is($doc->{networkMode}, 'awsvpc', "$what: awsvpc networking");
    is_deeply($doc->{requiresCompatibilities}, ['FARGATE'], "$what: Fargate");
    is($doc->{executionRoleArn} =~ /^arn:aws:iam::/ ? 1 : 0, 1,
        "$what: an execution role");

    for my $c (@{ $doc->{containerDefinitions} }) {
        my $log = $c->{logConfiguration} || {};
        is($log->{logDriver}, 'awslogs', "$what/$c->{name}: logs to CloudWatch");
        is($log->{options}{'awslogs-group'}, '/tenantry/staging',
            "$what/$c->{name}: in the stack's log group");
        is($log->{options}{'awslogs-stream-prefix'}, $c->{name},
            "$what/$c->{name}: streams named after the container"
            . ' (infra/run-task finds them so)');

        for my $secret (@{ $c->{secrets} || [] }) {
            like($secret->{valueFrom}, qr/^arn:aws:secretsmanager:/,
                "$what/$c->{name}: $secret->{name} is a Secrets Manager ARN");
        }

        for my $var (@{ $c->{environment} || [] }) {
            unlike($var->{name}, qr/TOKEN|PASSWORD|SECRET|DATABASE_URL/,
                "$what/$c->{name}: $var->{name} is no secret");
        }
    }
}

for my $template (glob "$top/infra/task-definitions/*.json") {
    my $text = read_text($template);
    ok(eval { decode_json($text); 1 }, "$template is valid JSON") or diag($@);
}

subtest 'the app task: web and api' => sub {
    my ($rc, $doc, $out) = render("$top/infra/task-definitions/app.json",
        "WebImage=$registry/web:0123abc", "ApiImage=$registry/api:0123abc");
    is($rc, 0, 'app.json renders') or return diag($out);
    ok($doc, 'into valid JSON') or return diag($out);

    common_checks($doc, 'app');
    is($doc->{family}, 'tenantry-staging-app', 'family of the environment');
    is_deeply([map { $_->{name} } @{ $doc->{containerDefinitions} }],
        [qw(web api)], 'two containers, web and api');

    my $web = container($doc, 'web');
    my $api = container($doc, 'api');
    is($web->{image}, "$registry/web:0123abc", 'the web image is substituted');
    is($api->{image}, "$registry/api:0123abc", 'the api image is substituted');
    ok($web->{essential} && $api->{essential}, 'both are essential');

    is_deeply($web->{portMappings}, [{ name => 'http', containerPort => 8080,
        protocol => 'tcp' }], 'only nginx has a port, 8080');
    ok(!$api->{portMappings}, 'tenantd publishes none');

    my ($listen) = env_of($api)->{TENANTD_LISTEN} =~ /^(127\.0\.0\.1:\d+)$/;
    ok($listen, 'tenantd listens on loopback TCP');
    is(env_of($web)->{TENANTRY_FASTCGI}, $listen,
        'where nginx in the same task finds it');
    is(env_of($web)->{TENANTRY_DOMAIN}, 'example.com', 'web: the domain');
    is(env_of($api)->{TENANTRY_DOMAIN}, 'example.com', 'api: the domain');

    is_deeply({ map { $_->{name} => $_->{valueFrom} } @{ $api->{secrets} } },
        { TENANTRY_DATABASE_URL => $outputs{DatabaseUrlSecretArn},
          TENANTRY_ADMIN_TOKEN  => $outputs{AdminTokenSecretArn} },
        "api: the database URL and the admin token from the stack's secrets");
    ok(!$web->{secrets}, 'web: no secrets at all');

    for my $c ($web, $api) {
        my $check = $c->{healthCheck}{command} || [];
        is($check->[0], 'CMD', "$c->{name}: a health check");
        my $script = $check->[1] // '';
        like(read_text(repo_path('Dockerfile')),
            qr{^COPY docker/healthcheck-$c->{name} \Q$script\E$}m,
            "$c->{name}: which the image has ($script)");
    }

    is_deeply($web->{dependsOn}, [{ containerName => 'api',
        condition => 'HEALTHY' }], 'nginx starts once tenantd is healthy');
    ok($api->{stopTimeout} > env_of($api)->{TENANTD_SHUTDOWN_TIMEOUT},
        "ECS waits longer than tenantd's own shutdown bound");
    ok($api->{readonlyRootFilesystem}, 'tenantd writes nothing to its image');
};

subtest 'a deployment of one container keeps the other' => sub {
    my $current = "$dir/current.json";
    open my $out_fh, '>', $current or die;
    print {$out_fh} encode_json({ taskDefinition => {
        family => 'tenantry-staging-app',
        containerDefinitions => [
            { name => 'web', image => "$registry/web:old1" },
            { name => 'api', image => "$registry/api:old2" },
        ] } });
    close $out_fh;

    my ($rc, $doc, $out) = render('--current', $current,
        "$top/infra/task-definitions/app.json", "ApiImage=$registry/api:new3");
    is($rc, 0, 'renders with --current') or return diag($out);
    is(container($doc, 'web')->{image}, "$registry/web:old1",
        'web keeps the image it runs now');
    is(container($doc, 'api')->{image}, "$registry/api:new3",
        'api gets the new one');
};

subtest 'what the renderer refuses' => sub {
    my ($rc, $doc, $out) = render("$top/infra/task-definitions/app.json",
        "WebImage=$registry/web:1");
    isnt($rc, 0, 'a missing image is refused');
    like($out, qr/no value for: ApiImage/, 'by name');

    ($rc, $out) = capture([$render,
        "$top/infra/task-definitions/app.json", 'WebImage=x', 'ApiImage=y']);
    isnt($rc, 0, 'missing stack outputs are refused');
    like($out, qr/AdminTokenSecretArn/, 'by name');

    my $bad = "$dir/bad.json";
    open my $b, '>', $bad or die;
    print {$b} encode_json({ family => 'x', containerDefinitions => [{
        name => 'api', image => 'r/api:1',
        environment => [{ name => 'TENANTRY_ADMIN_TOKEN',
            value => 'plain' }] }] });
    close $b;
    ($rc, $doc, $out) = render($bad);
    isnt($rc, 0, 'a secret in plain environment is refused');
    like($out, qr/TENANTRY_ADMIN_TOKEN is a secret/, 'and named');

    open $b, '>', $bad or die;
    print {$b} encode_json({ family => 'x', containerDefinitions => [{
        name => 'api', image => 'r/api:1',
        secrets => [{ name => 'TENANTRY_DATABASE_URL',
            valueFrom => 'host=db password=x' }] }] });
    close $b;
    ($rc, $doc, $out) = render($bad);
    isnt($rc, 0, 'a secret that is not an ARN is refused');

    ($rc, $doc, $out) = render("$top/infra/task-definitions/app.json",
        'not a pair');
    isnt($rc, 0, 'an argument that is not Name=VALUE is refused');
};

subtest 'the migrate task' => sub {
    my ($rc, $doc, $out) = render("$top/infra/task-definitions/migrate.json",
        "MigrateImage=$registry/migrate:0123abc");
    is($rc, 0, 'migrate.json renders') or return diag($out);

    common_checks($doc, 'migrate');
    is($doc->{family}, 'tenantry-staging-migrate', 'family of the environment');
    my @containers = @{ $doc->{containerDefinitions} };
    is(scalar @containers, 1, 'one container');
    my $c = $containers[0];
    is($c->{name}, 'migrate', 'named migrate (infra/run-task checks it)');
    is($c->{image}, "$registry/migrate:0123abc", 'the image is substituted');
    ok(!exists $c->{command} && !exists $c->{entryPoint},
        "it runs the image's own command, tenantctl migrate");
    is_deeply([map { $_->{name} } @{ $c->{secrets} }],
        ['TENANTRY_DATABASE_URL'], 'with the database URL alone');
};

subtest 'the bootstrap task' => sub {
    my ($rc, $doc, $out) = render("$top/infra/task-definitions/bootstrap.json",
        "MigrateImage=$registry/migrate:0123abc");
    is($rc, 0, 'bootstrap.json renders') or return diag($out);

    common_checks($doc, 'bootstrap');
    my $c = $doc->{containerDefinitions}[0];
    like(read_text(repo_path('Dockerfile')),
        qr{^COPY infra/bootstrap-database \Q$c->{entryPoint}[0]\E$}m,
        'it runs infra/bootstrap-database from the migrate image');
    is($doc->{executionRoleArn}, $outputs{BootstrapExecutionRoleArn},
        'with the execution role that may read the master password');
    is_deeply([sort map { $_->{name} } @{ $c->{secrets} }],
        [qw(PGPASSWORD PGUSER TENANTRY_APP_PASSWORD)],
        'the passwords come from Secrets Manager');
};

subtest 'every placeholder is an output of infra/stack.yml' => sub {
    my $stack = load_yaml('infra/stack.yml');
    my %names;

    for my $template (glob "$top/infra/task-definitions/*.json") {
        $names{$_} = 1 for read_text($template) =~ /@([A-Za-z0-9]+)@/g;
    }

    for my $name (sort keys %names) {
        next if $name =~ /Image$/;
        ok(exists $stack->{Outputs}{$name}, "$name is a stack output");
    }

    for my $name (sort keys %outputs) {
        ok(exists $stack->{Outputs}{$name}, "the test's $name is one too");
    }
};

done_testing();
