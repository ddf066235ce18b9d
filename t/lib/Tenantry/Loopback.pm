# Small HTTP servers on 127.0.0.1 that stand in for services on the
# internet (DNS providers, GitHub, Vault) in the tests, and a runner for
# the C programs that talk to them.
package Tenantry::Loopback;

use strict;
use warnings;

use Exporter qw(import);
use File::Temp qw(tempfile);
use IO::Select;
use JSON::PP;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

use Tenantry::Test qw(slurp);

our @EXPORT = qw(loopback_server run_tool);

my $json = JSON::PP->new->utf8->canonical;
my %running;
my $owner = $$;

# Starts a server whose child process answers every request with
# $handler->($req, $state): $req is {method, path, query, headers (lower
# case names), body}; $state a hashref the handler keeps between
# requests.  The handler returns (status, [header pairs], body), or
# 'hang' to answer nothing until the client gives up (at most 60 s).
# Returns an object with url(), requests() and stop().
sub loopback_server {
    my ($handler, %opt) = @_;

    require HTTP::Daemon;
    require HTTP::Response;

    my $daemon = HTTP::Daemon->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, ReuseAddr => 1, Listen => 16)
        or die "cannot listen on 127.0.0.1: $!\n";
    my (undef, $log) = tempfile('loopback-XXXXXX', TMPDIR => 1,
        UNLINK => 1);
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        serve($daemon, $handler, $log, $opt{state} || {});
        POSIX::_exit(0);
    }

    my $self = bless {
        pid  => $pid,
        port => $daemon->sockport,
        log  => $log,
    }, __PACKAGE__;

    close $daemon;
    $running{$pid} = 1;
    return $self;
}

# The child: one connection after the other, one request after the other.
sub serve {
    my ($daemon, $handler, $log, $state) = @_;

    $SIG{TERM} = sub { POSIX::_exit(0) };
    $SIG{PIPE} = 'IGNORE';

    while (my $conn = $daemon->accept) {
        $conn->timeout(20);
        while (my $r = $conn->get_request) {
            my $req = request_of($r);
            my @answer = eval { $handler->($req, $state) };

            @answer = (500, [], "the fake's handler died: $@") if $@;
            record($log, $req, $answer[0]);

            if ($answer[0] eq 'hang') {
                hang($conn);
                last;
            }

            my ($status, $headers, $body) = @answer;
            $conn->send_response(HTTP::Response->new($status, undef,
                $headers || [], $body // ''));
        }
        $conn->close;
    }
}

sub request_of {
    my ($r) = @_;
    my %headers;

    for my $name ($r->headers->header_field_names) {
        $headers{ lc $name } = join ', ', $r->headers->header($name);
    }

    return {
        method  => $r->method,
        path    => $r->uri->path,
        query   => $r->uri->query // '',
        headers => \%headers,
        body    => $r->content // '',
    };
}

# Keeps the connection open, answering nothing, until the peer closes it.
sub hang {
    my ($conn) = @_;
    my $sel = IO::Select->new($conn);
    my $deadline = time + 60;

    while (time < $deadline) {
        next unless $sel->can_read($deadline - time);
        my $n = sysread $conn, my $buf, 4096;
        last unless $n;
    }
}

sub record {
    my ($log, $req, $status) = @_;

    open my $fh, '>>', $log or return;
    print {$fh} $json->encode({ %$req, status => "$status" }), "\n";
    close $fh;
}

sub url {
    my ($self) = @_;
    return "http://127.0.0.1:$self->{port}";
}

# Every request served so far, oldest first, each with the status it got.
sub requests {
    my ($self) = @_;
    my @requests;

    open my $fh, '<', $self->{log} or return ();
    while (my $line = <$fh>) {
        push @requests, $json->decode($line);
    }
    return @requests;
}

# The requests served since the count was n.
sub requests_since {
    my ($self, $n) = @_;
    my @all = $self->requests;
    return @all[ $n .. $#all ];
}

sub stop {
    my ($self) = @_;

    return unless delete $running{ $self->{pid} };
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
}

END {
    if ($$ == $owner) {
        for my $pid (keys %running) {
            kill 'TERM', $pid;
            waitpid $pid, 0;
        }
    }
}

# Runs a program with only the given TENANTRY_* settings (the others,
# and those given as undef, are left out of its environment), stdin from
# /dev/null.  Returns the exit
# code, stdout and stderr.
sub run_tool {
    my ($cmd, %env) = @_;
    my (undef, $out) = tempfile(UNLINK => 1);
    my (undef, $err) = tempfile(UNLINK => 1);
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        delete @ENV{ grep { /^TENANTRY_/ } keys %ENV };
        for my $name (grep { defined $env{$_} } keys %env) {
            $ENV{$name} = $env{$name};
        }
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $out or POSIX::_exit(126);
        open STDERR, '>', $err or POSIX::_exit(126);
        exec @$cmd or POSIX::_exit(127);
    }

    waitpid $pid, 0;
    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;

    return ($rc, slurp($out), slurp($err));
}

1;
