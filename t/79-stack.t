# infra/stack.yml, checked the way a CloudFormation linter would for what
# this project relies on (no such linter installs here: the maintained
# cfn-lint is a Python package, the npm one knows a resource list from
# 2019): every Ref, GetAtt, Sub variable, condition and DependsOn names
# something that exists; no secret is written into the template; the
# pieces the deployment needs are there (wildcard certificate, host rule
# and DNS, Fargate service with autoscaling, RDS PostgreSQL 15, the
# secrets, a GitHub role trusted for this repository only); and the deploy
# role may do every AWS call the pipelines make.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir);
use Tenantry::Deploy;

my $top = top_dir();
my $text = read_text(repo_path('infra/stack.yml'));
my $t = load_yaml('infra/stack.yml');
my $resources = $t->{Resources} || {};
my $parameters = $t->{Parameters} || {};
my %pseudo = map { $_ => 1 } qw(AWS::AccountId AWS::NoValue AWS::Partition
    AWS::Region AWS::StackId AWS::StackName AWS::URLSuffix
    AWS::NotificationARNs);

# Calls CODE on every hash in a data structure, with its path.
sub walk {
    my ($node, $code, $path) = @_;
    $path //= '';

    if (ref $node eq 'HASH') {
        $code->($node, $path);
        walk($node->{$_}, $code, "$path/$_") for sort keys %$node;
    } elsif (ref $node eq 'ARRAY') {
        walk($node->[$_], $code, "$path/$_") for 0 .. $#$node;
    }
}

# The resources of one type, by logical name.
sub of_type {
    my ($type) = @_;
    return map { $_ => $resources->{$_} }
        grep { $resources->{$_}{Type} eq $type } sort keys %$resources;
}

sub props {
    my ($name) = @_;
    return $resources->{$name}{Properties} || {};
}

subtest 'the template is plain YAML' => sub {
    is($t->{AWSTemplateFormatVersion}, '2010-09-09', 'format version');
    my @unknown = grep { !/^(?:AWSTemplateFormatVersion|Description|Metadata|Parameters|Mappings|Conditions|Resources|Outputs)$/ }
        keys %$t;
    is_deeply(\@unknown, [], 'only CloudFormation sections');
    unlike($text, qr/^[^#\n]*\s!(?:Ref|Sub|GetAtt|If|Join|Select|Equals|Not|And|Or|Cidr|GetAZs|Base64|ImportValue|Split|FindInMap)\b/m,
        'no short-form tags (any YAML parser reads it)');
    unlike($text, qr/^[^#\n]*(?:\s|^)[&*][A-Za-z][\w-]*\s*$/m,
        'no anchors or aliases');
    ok(keys %$resources > 30, 'resources are there');

    for my $name (sort keys %$resources) {
        like($resources->{$name}{Type} // '', qr/^AWS::\w+::\w+$/,
            "$name has a resource type");
    }
};

subtest 'every name used exists' => sub {
    my %conditions = %{ $t->{Conditions} || {} };
    my @problems;
    my $known = sub {
        my ($name) = @_;
        return $resources->{$name} || $parameters->{$name} || $pseudo{$name};
    };

    walk($t, sub {
        my ($node, $path) = @_;

        if (exists $node->{Ref} && !ref $node->{Ref}) {
            push @problems, "$path: Ref $node->{Ref}"
                unless $known->($node->{Ref});
        }
        if (my $getatt = $node->{'Fn::GetAtt'}) {
            push @problems, "$path: GetAtt $getatt->[0]"
                unless ref $getatt eq 'ARRAY' && $resources->{ $getatt->[0] };
        }
        if (exists $node->{'Fn::Sub'}) {
            my $sub = $node->{'Fn::Sub'};
            my ($string, $vars) = ref $sub ? @$sub : ($sub, {});
            for my $var ($string =~ /\$\{(?!!)([^}]+)\}/g) {
                my ($base, $attr) = split /\./, $var, 2;
                next if $vars->{$var};
                push @problems, "$path: Sub \${$var}"
                    unless defined $attr ? $resources->{$base}
                    : $known->($base);
            }
        }
        if (my $if = $node->{'Fn::If'}) {
            push @problems, "$path: If $if->[0]" unless $conditions{ $if->[0] };
        }
        if (exists $node->{Condition} && !ref $node->{Condition}
            && $path =~ m{^/(?:Resources|Outputs)/[^/]+$|^/Conditions/}) {
            push @problems, "$path: Condition $node->{Condition}"
                unless $conditions{ $node->{Condition} };
        }
    });

    for my $name (sort keys %$resources) {
        my $depends = $resources->{$name}{DependsOn} // [];
        for my $on (ref $depends ? @$depends : ($depends)) {
            push @problems, "$name: DependsOn $on" unless $resources->{$on};
        }
    }

    is_deeply(\@problems, [], 'every Ref, GetAtt, Sub, If, Condition and'
        . ' DependsOn names a parameter, resource or condition');

    # CloudFormation refuses a template whose resources depend on each
    # other in a circle.
    my %edges;
    for my $name (sort keys %$resources) {
        my %to;
        walk($resources->{$name}, sub {
            my ($node) = @_;
            $to{ $node->{Ref} } = 1 if exists $node->{Ref} && !ref $node->{Ref};
            $to{ $node->{'Fn::GetAtt'}[0] } = 1
                if ref $node->{'Fn::GetAtt'} eq 'ARRAY';
            if (exists $node->{'Fn::Sub'}) {
                my $sub = $node->{'Fn::Sub'};
                my $string = ref $sub ? $sub->[0] : $sub;
                $to{ (split /\./, $_)[0] } = 1
                    for $string =~ /\$\{(?!!)([^}]+)\}/g;
            }
        });
        my $depends = $resources->{$name}{DependsOn} // [];
        $to{$_} = 1 for ref $depends ? @$depends : ($depends);
        $edges{$name} = [grep { $resources->{$_} } sort keys %to];
    }

    my (%state, @cycle);
    my $visit;
    $visit = sub {
        my ($name, @path) = @_;
        return if ($state{$name} // '') eq 'done' || @cycle;
        if (($state{$name} // '') eq 'open') {
            @cycle = (@path, $name);
            return;
        }
        $state{$name} = 'open';
        $visit->($_, @path, $name) for @{ $edges{$name} };
        $state{$name} = 'done';
    };
    $visit->($_) for sort keys %edges;
    is_deeply(\@cycle, [], 'no resources depend on each other in a circle');
};

subtest 'no secret in the template' => sub {
    my @literal;

    walk($resources, sub {
        my ($node, $path) = @_;
        for my $key (grep { /(?:Password|SecretString|Token)$/ } keys %$node) {
            my $value = $node->{$key};
            my $flat = ref $value eq 'HASH' ? $value->{'Fn::Sub'} // ''
                : ref $value ? '' : $value;
            next if ref $value eq 'HASH' && !exists $value->{'Fn::Sub'};
            push @literal, "$path/$key" unless $flat =~ /\{\{resolve:secretsmanager:/;
        }
    });
    is_deeply(\@literal, [], 'passwords come from Secrets Manager'
        . ' (dynamic references), never from the text');

    my %secrets = of_type('AWS::SecretsManager::Secret');
    ok($secrets{AdminTokenSecret}{Properties}{GenerateSecretString},
        'the admin token is generated by Secrets Manager');
    ok($secrets{DatabaseMasterSecret}{Properties}{GenerateSecretString},
        'and the master password');
    ok($secrets{DatabaseAppSecret}{Properties}{GenerateSecretString},
        "and the app role's password");
    like($secrets{DatabaseUrlSecret}{Properties}{SecretString}{'Fn::Sub'} // '',
        qr/^host=\$\{Database\.Endpoint\.Address\}.*user=tenantry password=\{\{resolve:secretsmanager:\$\{DatabaseAppSecret\}:SecretString:password\}\}.*sslmode=require/s,
        'TENANTRY_DATABASE_URL is a libpq string built from them, with TLS');
};

subtest 'what the deployment needs' => sub {
    my %services = of_type('AWS::ECS::Service');
    my $service = props('Service');
    is($service->{LaunchType}, 'FARGATE', 'a Fargate service');
    is($service->{DesiredCount}, 0,
        'created without tasks (autoscaling sets the count)');
    is_deeply($service->{LoadBalancers}, [{ ContainerName => 'web',
        ContainerPort => 8080, TargetGroupArn => { Ref => 'TargetGroup' } }],
        'behind the load balancer, on the web container port 8080');
    is($service->{NetworkConfiguration}{AwsvpcConfiguration}{AssignPublicIp},
        'DISABLED', 'in private subnets');
    ok($service->{DeploymentConfiguration}{DeploymentCircuitBreaker}{Rollback},
        'a failed deployment rolls back');
    is(props('InitialTaskDefinition')->{Family}{'Fn::Sub'},
        'tenantry-${EnvironmentName}-app',
        "the service's family is the one infra/task-definitions/app.json"
        . ' registers');

    is($resources->{ScalableTarget}{Condition}, 'Serving',
        'autoscaling once the first deployment is done');
    is(props('ScalableTarget')->{ScalableDimension}, 'ecs:service:DesiredCount',
        'of the task count');
    is(props('CpuScalingPolicy')->{PolicyType}, 'TargetTrackingScaling',
        'tracking CPU');

    is(props('LoadBalancer')->{Scheme}, 'internet-facing',
        'an internet-facing load balancer');
    my $https = props('HttpsListener');
    is($https->{Protocol}, 'HTTPS', 'with an HTTPS listener');
    is_deeply($https->{Certificates}, [{ CertificateArn =>
        { Ref => 'Certificate' } }], 'using the ACM certificate');
    is(props('HttpListener')->{DefaultActions}[0]{RedirectConfig}{Protocol},
        'HTTPS', 'plain HTTP is redirected');

    my $cert = props('Certificate');
    is_deeply($cert->{SubjectAlternativeNames}, [{ 'Fn::Sub' => '*.${Domain}' }],
        'the certificate covers every tenant subdomain');
    is($cert->{ValidationMethod}, 'DNS', 'validated through DNS');

    is_deeply(props('WildcardHostRule')->{Conditions}, [{
        Field => 'host-header', HostHeaderConfig => { Values => [
            { Ref => 'Domain' }, { 'Fn::Sub' => '*.${Domain}' }] } }],
        'a host rule sends the main domain and the wildcard to nginx');

    my %records = map { my $p = props($_);
        (ref $p->{Name} ? $p->{Name}{'Fn::Sub'} // $p->{Name}{Ref} : $p->{Name})
            => $p } keys %{ { of_type('AWS::Route53::RecordSet') } };
    ok($records{'*.${Domain}'}{AliasTarget}, 'a wildcard alias for tenants');
    ok($records{Domain}{AliasTarget}, 'an alias for the main domain');

    my $db = props('Database');
    is($db->{Engine}, 'postgres', 'RDS PostgreSQL');
    is($db->{EngineVersion}, '15', 'version 15');
    ok(!$db->{PubliclyAccessible} && $db->{StorageEncrypted},
        'private and encrypted');
    is(props('DatabaseParameterGroup')->{Parameters}{'rds.force_ssl'}, '1',
        'TLS only');

    my $oidc = props('GitHubOidcProvider');
    is($oidc->{Url}, 'https://token.actions.githubusercontent.com',
        "GitHub's OIDC provider");
    my $trust = props('GitHubDeployRole')->{AssumeRolePolicyDocument}{Statement};
    is(scalar @$trust, 1, 'the deploy role trusts one principal');
    is($trust->[0]{Action}, 'sts:AssumeRoleWithWebIdentity', 'through OIDC');
    is($trust->[0]{Condition}{StringEquals}{'token.actions.githubusercontent.com:aud'},
        'sts.amazonaws.com', 'for AWS');
    is_deeply($trust->[0]{Condition}{StringLike}{'token.actions.githubusercontent.com:sub'},
        { 'Fn::Sub' => 'repo:${GitHubRepository}:*' },
        'for workflows of this repository only');

    my $exec = props('ExecutionRole');
    like(join(' ', map { $_->{'Fn::Sub'} // $_ } @{ $exec->{ManagedPolicyArns} }),
        qr/AmazonECSTaskExecutionRolePolicy/, 'an execution role for ECS');
    ok(props('TaskRole'), 'and a task role');

    is_deeply($parameters->{EnvironmentName}{AllowedValues},
        [qw(staging production)],
        'the environments infra/deploy-settings knows');
};

subtest 'the deploy role may make every call of the pipelines' => sub {
    my %allowed;
    for my $policy (@{ props('GitHubDeployRole')->{Policies} }) {
        for my $statement (@{ $policy->{PolicyDocument}{Statement} }) {
            next unless $statement->{Effect} eq 'Allow';
            my $actions = $statement->{Action};
            $allowed{$_} = 1 for ref $actions ? @$actions : ($actions);
        }
    }

    # The aws CLI calls of the repository's scripts, as IAM actions
    # (infra/setup-secrets is the operator's, run with their own rights).
    my %needed;
    for my $script (grep { m{^(?:infra|docker)/} && !m{/setup-secrets\z} }
        shell_scripts()) {
        my $code = read_text(repo_path($script));
        while ($code =~ /\baws ([a-z0-9]+) (wait [a-z-]+|[a-z-]+)/g) {
            my ($service, $operation) = ($1, $2);
            $operation = 'describe-tasks' if $operation =~ /^wait tasks-/;
            my $action = join '', map { ucfirst } split /-/, $operation;
            $needed{"$service:$action"} = $script;
        }
    }
    # And those of the actions the workflows use.
    $needed{$_} = 'workflows' for qw(ecr:GetAuthorizationToken
        ecr:BatchCheckLayerAvailability ecr:InitiateLayerUpload
        ecr:UploadLayerPart ecr:CompleteLayerUpload ecr:PutImage
        ecr:BatchGetImage ecs:RegisterTaskDefinition ecs:DescribeServices
        ecs:UpdateService iam:PassRole);

    ok(keys %needed > 10, 'the calls are found');
    for my $action (sort keys %needed) {
        ok($allowed{$action}, "$action ($needed{$action}) is allowed");
    }
};

subtest 'every stack output the pipelines read exists' => sub {
    my %read;

    for my $script (grep { m{^(?:infra|docker)/} } shell_scripts()) {
        my $code = read_text(repo_path($script));
        $read{$1} = $script while $code =~ /\boutput ([A-Z][a-z]\w+)/g;
    }
    for my $name (workflow_names()) {
        my $code = read_text(repo_path(".github/workflows/$name.yml"));
        $read{$1} = "$name.yml"
            while $code =~ /steps\.state\.outputs\.([A-Za-z]\w+)/g;
    }

    ok(keys %read > 5, 'outputs are read');
    for my $output (sort keys %read) {
        ok(exists $t->{Outputs}{$output}, "$output ($read{$output})");
    }
};

done_testing();
