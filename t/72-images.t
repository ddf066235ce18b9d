# The Dockerfile's three images, checked without a Docker engine: the
# Dockerfile is read for its stages, users, health checks and commands;
# the steps it runs (docker/build-api, docker/ui-bundle) run here the same
# way; then the api and web images' commands run side by side against the
# test stack's database as they do in one ECS task (tenantd on loopback
# TCP, nginx in front, their health checks), and the migrate image's
# command line migrates the stack's database.

use strict;
use warnings;
use Test::More;
use Cwd ();
use File::Path qw(make_path);
use JSON::PP;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;
use Tenantry::Deploy;

my $top = top_dir();
my $parsed = dockerfile_stages();
my @stages = @{ $parsed->{stages} };
my %stage = map { $_->{name} => $_ } @stages;

# The instructions named CMD in a stage chain, nearest stage first.
sub chain_instructions {
    my ($target, $cmd) = @_;
    return map { my $s = $_; grep { $_->{cmd} eq $cmd } @{ $s->{instructions} } }
        stage_chain($parsed, $target);
}

# The last instruction CMD that applies to a target (its own stage's last,
# else the nearest base stage's).
sub effective {
    my ($target, $cmd) = @_;
    for my $s (stage_chain($parsed, $target)) {
        my @found = grep { $_->{cmd} eq $cmd } @{ $s->{instructions} };
        return $found[-1] if @found;
    }
    return undef;
}

# The JSON array of an exec-form instruction, or undef.
sub exec_form {
    my ($inst) = @_;
    return undef unless $inst;
    my ($json) = $inst->{args} =~ /(\[.*\])\s*$/ or return undef;
    return eval { decode_json($json) };
}

# The Debian packages an apt-get install in a stage's RUN names.
sub apt_packages {
    my ($s) = @_;
    my @packages;

    for my $inst (grep { $_->{cmd} eq 'RUN' } @{ $s->{instructions} }) {
        for my $part (split /&&/, $inst->{args}) {
            next unless $part =~ /apt-get\s+install\s+(.*)/;
            push @packages, grep { !/^-/ } split ' ', $1;
        }
    }

    return @packages;
}

# True when .dockerignore keeps PATH in the build context (the patterns
# in order, the last match deciding, a match on a parent counting).
my @ignore = grep { /\S/ && !/^\s*#/ }
    split /\n/, read_text(repo_path('.dockerignore'));

sub in_context {
    my ($path) = @_;
    my $keep = 1;

    for my $line (@ignore) {
        my $pattern = $line;
        my $negate = $pattern =~ s/^!//;
        (my $clean = $pattern) =~ s{/+$}{};
        my $re = join '', map {
            $_ eq '**' ? '.*' : $_ eq '*' ? '[^/]*' : $_ eq '?' ? '[^/]'
                : quotemeta $_
        } split /(\*\*|\*|\?)/, $clean;
        $re =~ s{^\.\*\\/}{(?:.*/)?};

        my @parts = split m{/}, $path;
        my $hit = grep { join('/', @parts[0 .. $_]) =~ /^$re\z/ } 0 .. $#parts;
        $keep = $negate ? 1 : 0 if $hit;
    }

    return $keep;
}

subtest 'the Dockerfile' => sub {
    ok($stage{$_}, "target $_ exists") for qw(api web migrate);

    my %seen;
    for my $s (@stages) {
        ok($s->{from} eq 'debian:bookworm-slim' || $seen{ $s->{from} },
            "stage $s->{name} starts from debian:bookworm-slim or an"
            . " earlier stage, not $s->{from}");
        $seen{ $s->{name} } = 1;
    }

    for my $target (qw(api web migrate)) {
        my $user = effective($target, 'USER');
        ok($user && $user->{args} !~ /^(?:root|0)(?::|$)/,
            "$target runs as a user of its own, not root");

        for my $inst (chain_instructions($target, 'ENV'),
            chain_instructions($target, 'ARG')) {
            unlike($inst->{args},
                qr/(?:TOKEN|PASSWORD|SECRET|DATABASE_URL)\S*=/i,
                "$target: no secret in '$inst->{cmd} $inst->{args}'");
        }
    }

    for my $target (qw(api web)) {
        my $check = effective($target, 'HEALTHCHECK');
        my $cmd = exec_form($check);
        ok($cmd && $cmd->[0] =~ m{^/usr/local/bin/tenantry-healthcheck-},
            "$target has a HEALTHCHECK running its check script");
        my ($copy) = grep { $_->{args} =~ /\Q$cmd->[0]\E\s*$/ }
            chain_instructions($target, 'COPY');
        like($copy->{args} // '', qr{^docker/healthcheck-$target },
            "which is docker/healthcheck-$target");
    }

    is_deeply(exec_form(effective('migrate', 'ENTRYPOINT')),
        ['/usr/bin/tenantctl'], 'migrate: ENTRYPOINT tenantctl');
    is_deeply(exec_form(effective('migrate', 'CMD')), ['migrate'],
        'migrate: CMD migrate');
    is_deeply(exec_form(effective('api', 'CMD')), ['/usr/sbin/tenantd'],
        'api: CMD tenantd');
    ok(!effective('api', 'ENTRYPOINT'), 'api: no ENTRYPOINT');
    like(effective('api', 'ENV')->{args}, qr/^TENANTD_LISTEN=127\.0\.0\.1:9000$/,
        'api: tenantd listens on loopback TCP, port 9000');
    is_deeply(exec_form(effective('web', 'ENTRYPOINT')),
        ['/usr/local/bin/tenantry-web-entrypoint'],
        'web: the entrypoint renders the configuration');
    like(effective('web', 'ENV')->{args}, qr/TENANTRY_FASTCGI=127\.0\.0\.1:9000/,
        'web: nginx finds tenantd on loopback TCP, port 9000');

    my @build_runs = grep { $_->{cmd} eq 'RUN' } @{ $stage{build}{instructions} };
    like($build_runs[-1]{args}, qr{^docker/build-api /src /build /staging$},
        'the build stage runs docker/build-api');
    is_deeply([sort(apt_packages($stage{build}))],
        [sort(shell_array('script/packages', 'build_packages'))],
        "and installs script/packages' build packages, no more, no less");
    my @bundle_runs = grep { $_->{cmd} eq 'RUN' } @{ $stage{bundle}{instructions} };
    like($bundle_runs[0]{args} // '', qr{^docker/ui-bundle /bundle/},
        'the bundle stage runs docker/ui-bundle');

    for my $inst (map { @{ $_->{instructions} } } @stages) {
        next unless $inst->{cmd} eq 'COPY' && $inst->{args} !~ /--from=/;
        my @words = split ' ', $inst->{args};
        pop @words;
        for my $source (@words) {
            (my $path = $source) =~ s{/+$}{};
            ok(-e "$top/$path", "COPY $source exists");
            ok(in_context($path), "COPY $source is in the build context");
        }
    }

    for my $path (qw(.git build build-test var t/browser/node_modules
        t/tools/node_modules configure Makefile.in autom4te.cache
        app/tenantd.o nginx/html/.keep)) {
        ok(!in_context($path), ".dockerignore keeps $path out");
    }
};

my $s = stack();
my $run_as = [run_as_owner("$s->{state}/run")];
my $dir = private_dir("$s->{state}/run");
my $staging = "$dir/staging";
my $dburl = $s->{dburl};

subtest 'docker/build-api, as the build stage runs it' => sub {
    my ($rc, $out) = capture(["$top/docker/build-api", $top, "$dir/build",
        $staging]);
    is($rc, 0, 'docker/build-api builds and installs') or do {
        diag(substr($out, -3000));
        return;
    };

    ok(-x "$staging/usr/sbin/tenantd", 'tenantd is installed');
    ok(-x "$staging/usr/bin/tenantctl", 'tenantctl is installed');

    for my $part (qw(public tenant)) {
        my @repo = map { m{([^/]+)\z} } sort glob "$top/db/$part/*.sql";
        my @installed = map { m{([^/]+)\z} }
            sort glob "$staging/usr/share/tenantry/db/$part/*.sql";
        is_deeply(\@installed, \@repo, "db/$part is installed whole");
    }

    # Every library the programs link to comes from a package that the
    # runtime stage installs (or from libc6, in every Debian image).
    my %runtime = map { $_ => 1 } apt_packages($stage{runtime}), 'libc6';
    for my $program ("$staging/usr/sbin/tenantd", "$staging/usr/bin/tenantctl") {
        my ($lrc, $ldd) = capture(['ldd', $program]);
        my ($drc, $dyn) = capture(['readelf', '-d', $program]);
        my @needed = $dyn =~ /\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g;

        ok(@needed > 0, "$program links to shared libraries");
        for my $soname (@needed) {
            my ($path) = $ldd =~ /^\s*\Q$soname\E => (\S+)/m;
            my ($owner, $package) = ('', undef);

            # Debian 12 keeps libraries under /usr; ldd may say /lib.
            for my $candidate (grep { defined } $path, "/usr$path",
                Cwd::realpath($path)) {
                (my $prc, $owner) = capture(['dpkg', '-S', $candidate]);
                ($package) = $owner =~ /^([^:\s]+):/ and last if $prc == 0;
            }
            ok($package && $runtime{$package},
                "$soname comes from $package, which the runtime stage"
                . ' installs') or diag($owner);
        }
    }
};

subtest 'the migrate image migrates the stack database' => sub {
    my @cmd = (@{ exec_form(effective('migrate', 'ENTRYPOINT')) },
        @{ exec_form(effective('migrate', 'CMD')) });
    my $program = "$staging$cmd[0]";

    ok(-x $program, "$cmd[0] is in the image tree") or return;

    my ($rc, $out) = capture([@$run_as, $program, @cmd[1 .. $#cmd]],
        TENANTRY_DATABASE_URL => $dburl, TENANTRY_DB_DIR => "$top/db");
    is($rc, 0, "'@cmd' exits 0 against the stack's database") or diag($out);
    like($out, qr/^public: \d+ applied$/m, 'and reports the control plane');

    ($rc, $out) = capture([@$run_as, $program, @cmd[1 .. $#cmd]],
        TENANTRY_DATABASE_URL => "host=$s->{pghost} dbname=no_such_db"
        . " user=tenantry", TENANTRY_DB_DIR => "$top/db");
    isnt($rc, 0, 'and exits non-zero when it cannot migrate');
};

subtest 'the api and web images side by side, as in one ECS task' => sub {
    my $bundle = "$dir/ui.tar.gz";
    my ($rc, $out) = capture(["$top/docker/ui-bundle", $bundle]);
    is($rc, 0, 'docker/ui-bundle packs the web tier') or return diag($out);

    my $web_root = "$dir/web";
    make_path($web_root);
    ($rc, $out) = capture(['tar', '-xzf', $bundle, '-C', $web_root]);
    is($rc, 0, 'the bundle unpacks as the web stage unpacks it')
        or return diag($out);

    my $api_port = free_loopback_port();
    my $web_port = free_loopback_port();
    my $token = join '', map { sprintf '%02x', int rand 256 } 1 .. 24;
    my %api_env = (
        TENANTD_LISTEN        => "127.0.0.1:$api_port",
        TENANTD_WORKERS       => 2,
        TENANTRY_DATABASE_URL => $dburl,
        TENANTRY_ADMIN_TOKEN  => $token,
        TENANTRY_DB_DIR       => "$top/db",
        TENANTRY_DOMAIN       => $s->{domain},
    );
    my %web_env = (
        TENANTRY_STATE       => "$dir/web-state",
        TENANTRY_RENDER      => "$web_root/nginx/render",
        TENANTRY_NGINX       => '/usr/sbin/nginx',
        TENANTRY_PORT        => $web_port,
        TENANTRY_LISTEN_ADDR => '127.0.0.1',
        TENANTRY_FASTCGI     => "127.0.0.1:$api_port",
        TENANTRY_DOMAIN      => $s->{domain},
    );

    # The service user writes the logs, as a container writes its output.
    for my $log ("$dir/api.log", "$dir/web.log") {
        open my $fh, '>', $log or die "$log: $!";
        close $fh;
        chown((stat "$s->{state}/run")[4, 5], $log);
    }

    my $api = spawn_logged([@$run_as,
        "$staging@{ exec_form(effective('api', 'CMD')) }"],
        "$dir/api.log", %api_env);
    my $api_up = wait_until(sub {
        (capture(["$top/docker/healthcheck-api"], %api_env))[0] == 0;
    }, 30, 0.2);
    ok($api_up, "tenantd answers its health check on 127.0.0.1:$api_port")
        or diag(read_text("$dir/api.log"));

    my $web = spawn_logged([@$run_as, "$top/docker/web-entrypoint"],
        "$dir/web.log", %web_env);
    my $web_up = wait_until(sub {
        (capture(["$top/docker/healthcheck-web"], %web_env))[0] == 0;
    }, 30, 0.2);
    ok($web_up, "nginx answers its health check on 127.0.0.1:$web_port")
        or diag(read_text("$dir/web.log"));

    my $host = "$s->{domain}:$web_port";
    my $ready = Tenantry::Test::raw_exchange_to($web_port,
        "GET /readyz HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n");
    is($ready->{status}, 200, 'GET /readyz through nginx reaches the database')
        or diag($ready->{body});
    is(($ready->{json} // {})->{status}, 'ready', 'and says ready');

    my $probe = Tenantry::Test::raw_exchange_to($web_port,
        "GET /healthz HTTP/1.1\r\nHost: 10.40.2.17:8080\r\n"
        . "Connection: close\r\n\r\n");
    is($probe->{status}, 200,
        "the load balancer's health check (Host: the task's address) gets 200");

    my $sub = unique_sub('image');
    my $body = encode_json({ subdomain => $sub, name => 'Image test',
        owner => { email => "owner\@$sub.test",
            password => 'correct horse battery' } });
    my $created = Tenantry::Test::raw_exchange_to($web_port,
        "POST /admin/register-user HTTP/1.1\r\nHost: $host\r\n"
        . "Authorization: Bearer $token\r\nContent-Type: application/json\r\n"
        . 'Content-Length: ' . length($body) . "\r\nConnection: close\r\n\r\n"
        . $body);
    is($created->{status}, 201, 'a tenant is onboarded with the admin token'
        . ' given in the environment') or diag($created->{body});

    my $tenant = Tenantry::Test::raw_exchange_to($web_port,
        "GET /api/tenant HTTP/1.1\r\nHost: $sub.$host\r\n"
        . "Connection: close\r\n\r\n");
    is($tenant->{status}, 200, 'and served on its subdomain');

    my $web_status = stop_child($web, 'QUIT', 20);
    is($web_status, 0, 'nginx stops cleanly on SIGQUIT (the STOPSIGNAL)')
        or diag(read_text("$dir/web.log"));
    my $api_status = stop_child($api, 'TERM', 30);
    is($api_status, 0, 'tenantd stops cleanly on SIGTERM')
        or diag(read_text("$dir/api.log"));

    isnt((capture(["$top/docker/healthcheck-api"], %api_env))[0], 0,
        'the api health check fails once tenantd is gone');
    isnt((capture(["$top/docker/healthcheck-web"], %web_env))[0], 0,
        'the web health check fails once nginx is gone');
    like(read_text("$dir/web.log"), qr{"GET /readyz HTTP/1\.1" 200},
        "nginx's access log goes to the container's output");

    # nginx reopens its output for the logs, so the output is a file the
    # service user may open (in a container it is the container's own).
    my $check_log = "$dir/check.log";
    open my $fh, '>', $check_log or die "$check_log: $!";
    close $fh;
    chown((stat "$s->{state}/run")[4, 5], $check_log);

    my $check = spawn_logged([@$run_as, "$top/docker/web-entrypoint",
        '/usr/sbin/nginx', '-t', '-e', 'stderr', '-p',
        "$dir/web-state/nginx/", '-c', "$dir/web-state/nginx/nginx.conf"],
        $check_log, %web_env);
    waitpid $check, 0;
    is($?, 0, 'the entrypoint runs a command given instead of nginx')
        or diag(read_text($check_log));
    like(read_text($check_log), qr/test is successful/,
        'here nginx -t on what it rendered');
};

done_testing();
