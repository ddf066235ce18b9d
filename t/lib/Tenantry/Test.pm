# Shared harness for Tenantry's integration tests: finds or starts a stack,
# speaks raw HTTP/1.1 and FastCGI to it, and runs psql and C TAP programs.
package Tenantry::Test;

use strict;
use warnings;

use Cwd qw(abs_path);
use Exporter qw(import);
use File::Basename qw(dirname);
use File::Temp qw(tempdir tempfile);
use IO::Select;
use IO::Socket::INET;
use IO::Socket::UNIX;
use Socket qw(SOCK_STREAM);
use JSON::PP;
use POSIX qw(WNOHANG);
use TAP::Parser;
use Test::More ();
use Time::HiRes qw(sleep time);

our @EXPORT = qw(
    stack top_dir build_dir
    http raw_http host_for main_host register
    is_problem is_json_response
    psql capture pg_bindir run_as_owner
    unique_sub tenantd_pids proc_children proc_environ
    wait_until run_tap_program fcgi_request
    set_cookies parse_cookie sign_in session_post session_token api
    problem_slug problem_fields is_problem_slug iso_time iso_epoch
    new_tenant add_user list_all uri_escape json_int
    free_port start_tenantd stop_tenantd show_tenantd_log
    start_nginx stop_nginx slurp write_file
    refused_ok resource_state
);

my $json = JSON::PP->new->utf8->canonical;
my $stack;
my $private;
my $sub_counter = 0;

# The repository's top directory, found from this file's location.
sub top_dir {
    return abs_path(dirname(__FILE__) . '/../../..');
}

# The build directory: TENANTRY_BUILD_DIR or top/build.
sub build_dir {
    return $ENV{TENANTRY_BUILD_DIR} || top_dir() . '/build';
}

# A free TCP port on the loopback address (free when asked; the stack
# binds it a moment later).
sub free_port {
    my $sock = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => 0,
        Proto     => 'tcp',
        Listen    => 1,
    ) or die "cannot find a free port: $!\n";
    my $port = $sock->sockport;

    close $sock;
    return $port;
}

# The stack the tests run against, started on first use when no running
# one is named by TENANTRY_TEST_STATE.  Returns a hashref.
sub stack {
    return $stack if $stack;

    my $top = top_dir();
    my ($state, $port, $domain);

    if ($ENV{TENANTRY_TEST_STATE}) {
        $state = $ENV{TENANTRY_TEST_STATE};
        $port = $ENV{TENANTRY_TEST_PORT}
            or die "TENANTRY_TEST_STATE is set but TENANTRY_TEST_PORT"
            . " is not\n";
        $domain = $ENV{TENANTRY_TEST_DOMAIN} || 'localhost';
    } else {
        ($state, $port) = start_private_stack($top);
        $domain = 'localhost';
    }

    my $token = read_first_line("$state/admin-token");

    $stack = {
        state  => $state,
        port   => $port,
        domain => $domain,
        token  => $token,
        build  => build_dir(),
        top    => $top,
        pghost => "$state/run",
        dburl  => "host=$state/run dbname=tenantry user=tenantry",
    };

    return $stack;
}

# Starts script/server --detach in a fresh temporary state directory.
# Dies with the tail of its output when the stack does not come up.
sub start_private_stack {
    my ($top) = @_;
    my $server = "$top/script/server";

    die "cannot start a stack: $server is missing or not executable\n"
        unless -x $server;

    my $tmp = tempdir('tenantry-test-XXXXXX', TMPDIR => 1);
    chmod 0755, $tmp;

    my $state = "$tmp/state";
    my $port = free_port();
    my $log = "$tmp/server.log";

    local $ENV{TENANTRY_STATE} = $state;
    local $ENV{TENANTRY_PORT} = $port;
    local $ENV{TENANTRY_PG_FAST} = 1;

    $private = { tmp => $tmp, state => $state, port => $port, top => $top,
        owner => $$ };
    my $rc = system_logged($log, $server, '--detach');

    if ($rc != 0) {
        die "cannot start a stack: script/server --detach exited $rc\n"
            . tail_of($log);
    }

    my $up = wait_until(sub {
        my $res = raw_exchange_to($port,
            "GET /healthz HTTP/1.1\r\nHost: localhost:$port\r\n"
            . "Connection: close\r\n\r\n", 2);
        return $res->{status} == 200;
    }, 30);

    die "the stack started but /healthz never answered 200 on port $port\n"
        . tail_of($log) unless $up;

    die "the stack has no admin token file $state/admin-token\n"
        unless -r "$state/admin-token";

    return ($state, $port);
}

# Stops a private stack (only in the process that started it, never in
# a forked child) and removes its directory unless something failed.
END {
    my $exit = $?;

    if ($private && $private->{owner} == $$) {
        local $ENV{TENANTRY_STATE} = $private->{state};
        local $ENV{TENANTRY_PORT} = $private->{port};
        local $ENV{TENANTRY_PG_FAST} = 1;
        my $log = "$private->{tmp}/server-stop.log";
        my $rc = system_logged($log, "$private->{top}/script/server",
            '--stop');

        if ($rc != 0) {
            print STDERR "# script/server --stop exited $rc\n"
                . tail_of($log);
        }

        if (Test::More->builder->is_passing && $rc == 0
            && !$ENV{TENANTRY_TEST_KEEP}) {
            system('rm', '-rf', $private->{tmp});
        } else {
            print STDERR "# private stack kept in $private->{tmp}\n";
        }
    }

    $? = $exit;
}

# Runs a command with stdout and stderr appended to a file; returns
# its exit code (or 128 + signal).
sub system_logged {
    my ($log, @cmd) = @_;
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', $log or POSIX::_exit(126);
        open STDERR, '>&', \*STDOUT;
        exec @cmd or POSIX::_exit(127);
    }

    waitpid($pid, 0);
    return $? & 127 ? 128 + ($? & 127) : $? >> 8;
}

sub tail_of {
    my ($file) = @_;
    open my $fh, '<', $file or return "# (no output in $file)\n";
    my @lines = <$fh>;
    splice @lines, 0, -40 if @lines > 40;
    return join '', map { "#   $_" } @lines;
}

sub read_first_line {
    my ($file) = @_;
    open my $fh, '<', $file or die "cannot read $file: $!\n";
    my $line = <$fh> // '';
    $line =~ s/\s+\z//;
    return $line;
}

# "$sub.$domain:$port", the Host header of a tenant's subdomain.
sub host_for {
    my ($sub) = @_;
    my $s = stack();
    return "$sub.$s->{domain}:$s->{port}";
}

# "$domain:$port", the Host header of the main site.
sub main_host {
    my $s = stack();
    return "$s->{domain}:$s->{port}";
}

# One HTTP/1.1 request to the stack's nginx.  Options: headers
# (arrayref of name, value pairs), body (bytes), json (perl data),
# bearer (token), timeout (seconds, a failure bound only), local_addr
# (the loopback address to connect from).
# Returns {status, headers, body, json}; status 0 and an error on a
# timeout or a broken connection.
sub http {
    my ($method, $host, $path, %opt) = @_;
    my @headers = @{ $opt{headers} || [] };
    my $body = $opt{body};
    my %given;

    for (my $i = 0; $i < @headers; $i += 2) {
        $given{ lc $headers[$i] } = 1;
    }

    if (exists $opt{json}) {
        $body = $json->encode($opt{json});
        push @headers, 'Content-Type', 'application/json'
            unless $given{'content-type'};
    }

    if (defined $opt{bearer}) {
        push @headers, 'Authorization', "Bearer $opt{bearer}";
    }

    if (defined $body || $method =~ /^(?:POST|PUT|PATCH)$/) {
        $body //= '';
        push @headers, 'Content-Length', length $body
            unless $given{'content-length'};
    }

    my $req = "$method $path HTTP/1.1\r\n";
    $req .= "Host: $host\r\n" if defined $host;

    while (my ($name, $value) = splice @headers, 0, 2) {
        $req .= "$name: $value\r\n";
    }

    $req .= "Connection: close\r\n\r\n";
    $req .= $body if defined $body;

    return raw_http($req, timeout => $opt{timeout},
        local_addr => $opt{local_addr});
}

# Sends bytes verbatim to the stack's nginx and parses the answer as
# http() does.  With complete, it stops reading once the answer's
# Content-Length is in (nginx lingers after refusing a body it was not
# sent).
sub raw_http {
    my ($bytes, %opt) = @_;
    return raw_exchange_to(stack()->{port}, $bytes, $opt{timeout},
        $opt{local_addr}, $opt{complete});
}

sub raw_exchange_to {
    my ($port, $bytes, $timeout, $local_addr, $complete) = @_;
    my $started = time;
    my $deadline = $started + ($timeout || 10);
    my $sock = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Proto    => 'tcp',
        Timeout  => $timeout || 10,
        $local_addr ? (LocalAddr => $local_addr) : (),
    );

    return { status => 0, error => "connect: $!", headers => {},
        body => '' } unless $sock;

    local $SIG{PIPE} = 'IGNORE';
    $sock->autoflush(1);
    syswrite_all($sock, $bytes);

    my ($raw, $error) = read_to_eof($sock, $deadline, $complete);
    close $sock;

    my $res = parse_response($raw);
    $res->{error} = $error if $error;
    $res->{elapsed} = time - $started;
    return $res;
}

sub syswrite_all {
    my ($sock, $bytes) = @_;
    my $off = 0;

    while ($off < length $bytes) {
        my $n = syswrite($sock, $bytes, length($bytes) - $off, $off);
        return unless $n;
        $off += $n;
    }
}

sub read_to_eof {
    my ($sock, $deadline, $complete) = @_;
    my $sel = IO::Select->new($sock);
    my $raw = '';

    while (1) {
        my $left = $deadline - time;
        return ($raw, 'timeout') if $left <= 0;
        next unless $sel->can_read($left);

        my $n = sysread($sock, $raw, 65536, length $raw);
        return ($raw, "read: $!") unless defined $n;
        return ($raw, undef) if $n == 0;
        return ($raw, undef) if $complete && answer_complete($raw);
    }
}

# True when raw holds a whole answer framed by its Content-Length.
sub answer_complete {
    my ($raw) = @_;
    my $end = index $raw, "\r\n\r\n";

    return 0 if $end < 0;
    my ($length) = substr($raw, 0, $end) =~ /\r\ncontent-length:\s*(\d+)/i;
    return defined $length && length($raw) - $end - 4 >= $length;
}

# Parses a whole HTTP response (status line, headers, body with
# chunked or length framing).
sub parse_response {
    my ($raw) = @_;
    my $res = { status => 0, headers => {}, body => '', raw => $raw,
        json => undef, set_cookies => [] };
    my $end = index $raw, "\r\n\r\n";

    if ($end < 0) {
        $res->{error} = 'no complete response head';
        return $res;
    }

    my ($status_line, @lines) = split /\r\n/, substr($raw, 0, $end);
    my $body = substr $raw, $end + 4;

    if ($status_line =~ m{^HTTP/1\.[01] (\d{3})}) {
        $res->{status} = $1 + 0;
    } else {
        $res->{error} = "bad status line: $status_line";
    }

    for my $line (@lines) {
        my ($name, $value) = $line =~ /^([^:]+):\s*(.*?)\s*$/ or next;
        $name = lc $name;
        push @{ $res->{set_cookies} }, $value if $name eq 'set-cookie';
        $res->{headers}{$name} = exists $res->{headers}{$name}
            ? "$res->{headers}{$name}, $value" : $value;
    }

    my $te = $res->{headers}{'transfer-encoding'} // '';
    my $length = $res->{headers}{'content-length'};

    if ($te =~ /chunked/i) {
        $body = dechunk($body);
    } elsif (defined $length && $length =~ /^\d+$/) {
        $body = substr $body, 0, $length;
    }

    $res->{body} = $body;
    decode_json_body($res);
    return $res;
}

sub dechunk {
    my ($data) = @_;
    my $out = '';

    while ($data =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $size = hex $1;
        last if $size == 0;
        $out .= substr $data, 0, $size, '';
        $data =~ s/^\r\n//;
    }

    return $out;
}

sub decode_json_body {
    my ($res) = @_;
    my $type = $res->{headers}{'content-type'} // '';

    return unless $type =~ m{^application/(?:problem\+)?json\b}i;

    $res->{json} = eval { $json->decode($res->{body}) };
    $res->{json_error} = $@ if $@;
}

# Checks that a response is a problem+json error with the given status
# and the documented members.  Returns true when all checks passed.
sub is_problem {
    my ($res, $status, $name) = @_;
    my $tb = Test::More->builder;
    my $p = ref $res->{json} eq 'HASH' ? $res->{json} : {};
    my $ok = 1;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    $ok &= $tb->is_num($res->{status}, $status, "$name: status $status");
    $ok &= $tb->like($res->{headers}{'content-type'} // '',
        qr{^application/problem\+json\b}i,
        "$name: content type is problem+json");
    $ok &= $tb->ok(ref $res->{json} eq 'HASH',
        "$name: body is a JSON object");
    $ok &= $tb->ok(defined $p->{type} && !ref $p->{type}
        && length $p->{type}, "$name: problem has a type");
    $ok &= $tb->ok(defined $p->{title} && length $p->{title},
        "$name: problem has a title");
    $ok &= $tb->is_num($p->{status} // -1, $status,
        "$name: problem status is $status");
    $ok &= $tb->ok(defined $p->{detail} && length $p->{detail},
        "$name: problem has a detail");
    $ok &= $tb->ok(defined $p->{request_id} && length $p->{request_id},
        "$name: problem has a request id");

    unless ($ok) {
        $tb->diag("$name: got status $res->{status}"
            . ($res->{error} ? " ($res->{error})" : '')
            . ", body: " . substr($res->{body} // '', 0, 500));
    }

    return $ok;
}

# Checks that a response has the status and an application/json body
# that decodes to an object.  Returns the object (or {}).
sub is_json_response {
    my ($res, $status, $name) = @_;
    my $tb = Test::More->builder;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $ok = $tb->is_num($res->{status}, $status, "$name: status $status");
    $ok &= $tb->like($res->{headers}{'content-type'} // '',
        qr{^application/json\b}i, "$name: content type is JSON");
    $ok &= $tb->ok(ref $res->{json} eq 'HASH',
        "$name: body is a JSON object");

    unless ($ok) {
        $tb->diag("$name: got status $res->{status}"
            . ($res->{error} ? " ($res->{error})" : '')
            . ", body: " . substr($res->{body} // '', 0, 500));
    }

    return ref $res->{json} eq 'HASH' ? $res->{json} : {};
}

# Onboards a tenant through the admin API.  Options: name, email,
# password, body (a whole replacement body).  Returns the response.
sub register {
    my ($sub, %opt) = @_;
    my $body = $opt{body} || {
        subdomain => $sub,
        name      => $opt{name} // "Tenant $sub",
        owner     => {
            email    => $opt{email} // "owner\@$sub.test",
            password => $opt{password} // 'correct horse battery',
            name     => 'Owner',
        },
    };

    return http('POST', main_host(), '/admin/register-user',
        json => $body, bearer => stack()->{token});
}

# A fresh valid subdomain: the prefix, this process, and a counter, so
# test files sharing a stack never collide.
sub unique_sub {
    my ($prefix) = @_;
    my $sub = sprintf '%s%dx%x%d', lc($prefix // 't'), $$,
        int(time) & 0xffffff, ++$sub_counter;

    return substr $sub, 0, 63;
}

# The directory of PostgreSQL's programs (psql, pg_ctl).
sub pg_bindir {
    for my $dir (glob '/usr/lib/postgresql/*/bin') {
        return $dir if -x "$dir/pg_ctl";
    }

    my $dir = `pg_config --bindir 2>/dev/null`;
    chomp $dir;
    return $dir if $dir && -x "$dir/pg_ctl";

    return '';
}

# Runs SQL with psql against the stack's database as the given user
# (tenantry or postgres), stopping at the first error.  Returns the
# exit code and the combined output.
sub psql {
    my ($sql, %opt) = @_;
    my $s = stack();
    my $user = $opt{user} || 'tenantry';
    my $bin = pg_bindir();
    my $psql = $bin && -x "$bin/psql" ? "$bin/psql" : 'psql';
    my ($fh, $file) = tempfile(UNLINK => 1);

    print {$fh} $sql;
    close $fh;

    my @cmd = ($psql, '-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1',
        '-h', $s->{pghost}, '-d', $opt{dbname} || 'tenantry',
        '-U', $user, '-f', $file);

    return capture(\@cmd);
}

# Runs a command with stdin from /dev/null; returns the exit code and
# stdout and stderr together.
sub capture {
    my ($cmd, %env) = @_;
    my $pid = open(my $out, '-|') // die "fork: $!\n";

    if ($pid == 0) {
        @ENV{ keys %env } = values %env;
        open STDIN, '<', '/dev/null';
        open STDERR, '>&', \*STDOUT;
        exec @$cmd or POSIX::_exit(127);
    }

    local $/;
    my $text = <$out> // '';
    close $out;

    my $rc = $? & 127 ? 128 + ($? & 127) : $? >> 8;
    $text =~ s/\s+\z//;
    return ($rc, $text);
}

# The command prefix that runs a program as the owner of a path: empty
# unless we are root and the path belongs to another user.
sub run_as_owner {
    my ($path) = @_;
    my $uid = (stat $path)[4];

    return () if $> != 0 || !defined $uid || $uid == 0;

    my $user = getpwuid $uid;
    return ('setpriv', "--reuid=$uid", '--regid=' . (stat $path)[5],
        '--init-groups') unless defined $user;

    return ('setpriv', "--reuid=$user", "--regid=" . (stat $path)[5],
        '--init-groups');
}

# The live (not zombie) children of a process, from /proc.
sub proc_children {
    my ($parent) = @_;
    my @children;

    for my $stat (glob '/proc/[0-9]*/stat') {
        open my $fh, '<', $stat or next;
        my $line = <$fh> // next;
        my ($pid) = $line =~ /^(\d+)/;
        my ($state, $ppid) = $line =~ /\)\s+(\S)\s+(\d+)/ or next;

        push @children, $pid if $ppid == $parent && $state ne 'Z';
    }

    my @sorted = sort { $a <=> $b } @children;
    return @sorted;
}

# A process's environment as a hash (needs the right to read it).
sub proc_environ {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/environ" or return {};
    local $/;
    my $raw = <$fh> // '';

    return { map { /^([^=]*)=(.*)\z/s ? ($1, $2) : () } split /\0/, $raw };
}

# The stack's tenantd: (master pid, worker pids...).  The master pid is
# undef when the pid file is missing.
sub tenantd_pids {
    my $file = stack()->{state} . '/run/tenantd.pid';
    open my $fh, '<', $file or return (undef);
    my ($master) = (<$fh> // '') =~ /(\d+)/;

    return (undef) unless $master;
    return ($master, proc_children($master));
}

# Polls the code every interval until it returns true; returns that
# value, or false when the timeout (a failure bound) passes first.
sub wait_until {
    my ($code, $timeout, $interval) = @_;
    my $deadline = time + ($timeout // 10);

    while (1) {
        my $value = $code->();
        return $value if $value;
        return 0 if time >= $deadline;
        sleep($interval // 0.1);
    }
}

# Runs a program that prints TAP and re-emits its results as a subtest
# named after it.  The subtest fails when the program crashes, exits
# non-zero, hangs past the timeout or runs a number of tests other than
# its plan (and, with skip_all_fails, when it skips everything).
# Options: env (hashref), timeout (seconds), skip_all_fails.
sub run_tap_program {
    my ($name, $cmd, %opt) = @_;
    my @cmd = ref $cmd ? @$cmd : ($cmd);
    my $timeout = $opt{timeout} || 300;
    my ($out_fh, $out_file) = tempfile(UNLINK => 1);
    my ($err_fh, $err_file) = tempfile(UNLINK => 1);
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        @ENV{ keys %{ $opt{env} || {} } } = values %{ $opt{env} || {} };
        open STDIN, '<', '/dev/null';
        open STDOUT, '>&', $out_fh;
        open STDERR, '>&', $err_fh;
        exec @cmd or POSIX::_exit(127);
    }

    my $wait;
    my $done = wait_until(sub {
        return 0 unless waitpid($pid, WNOHANG) == $pid;
        $wait = $?;
        return 1;
    }, $timeout, 0.05);

    unless ($done) {
        kill 'KILL', $pid;
        waitpid $pid, 0;
    }

    my $tap = slurp($out_file);
    my $stderr = slurp($err_file);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    return Test::More::subtest($name, sub {
        reemit_tap($tap, $opt{skip_all_fails});

        my $tb = Test::More->builder;
        $tb->ok($done, "$name finished within ${timeout}s")
            or $tb->diag("$name was killed after ${timeout}s");
        $tb->is_num($wait & 127, 0, "$name was not killed by a signal")
            if $done;
        $tb->is_num($wait >> 8, 0, "$name exited 0") if $done;

        if ($stderr ne '' && !$tb->is_passing) {
            $tb->diag("$name stderr:\n$stderr");
        }

        $tb->done_testing;
    });
}

sub slurp {
    my ($file) = @_;
    open my $fh, '<', $file or return '';
    local $/;
    return <$fh> // '';
}

# Writes text to path (mode 0644), replacing it.
sub write_file {
    my ($path, $text) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print {$fh} $text;
    close $fh or die "$path: $!";
    chmod 0644, $path;
}

# Turns each TAP line into a pass or fail of the current test, then
# checks the plan against the count.
sub reemit_tap {
    my ($tap, $skip_all_fails) = @_;
    my $tb = Test::More->builder;
    my $parser = TAP::Parser->new({ tap => $tap });
    my $skip_all;

    while (my $result = $parser->next) {
        if ($result->is_plan && $result->directive eq 'SKIP') {
            $skip_all = $result->explanation || 'skipped';
            next;
        }

        if ($result->is_comment) {
            $tb->note($result->comment);
            next;
        }

        next unless $result->is_test;

        my $desc = $result->description // '';
        $desc =~ s/^-\s*//;
        $desc = 'test ' . $result->number . ($desc ne '' ? ": $desc" : '');

        if ($result->has_skip) {
            $tb->skip($result->explanation);
        } elsif ($result->has_todo) {
            $tb->todo_start($result->explanation);
            $tb->ok($result->is_actual_ok, $desc);
            $tb->todo_end;
        } else {
            $tb->ok($result->is_actual_ok, $desc);
        }
    }

    if (defined $skip_all && $skip_all_fails) {
        $tb->ok(0, 'the program runs its tests')
            or $tb->diag("it skipped them all: $skip_all");
    } elsif (defined $skip_all) {
        $tb->note("the program skipped all its tests: $skip_all");
    }

    $tb->ok(defined $parser->tests_planned, 'the program printed a plan')
        or $tb->diag("output was:\n$tap");

    if (defined $parser->tests_planned) {
        $tb->is_num($parser->tests_run, $parser->tests_planned,
            'the program ran as many tests as it planned');
    }

    $tb->is_eq(join('; ', $parser->parse_errors), '',
        'the TAP parses without errors');
}

# Sends one request over FastCGI to a tenantd socket (unix path or
# host:port).  Returns {status, headers, body, json} like http(), status
# 0 with an error when the request failed.
sub fcgi_request {
    my ($address, $params, %opt) = @_;
    my $timeout = $opt{timeout} || 10;
    my $sock;

    require FCGI::Client;

    if ($address =~ m{^/}) {
        $sock = IO::Socket::UNIX->new(Type => SOCK_STREAM,
            Peer => $address);
    } else {
        $sock = IO::Socket::INET->new(PeerAddr => $address,
            Timeout => $timeout);
    }

    return { status => 0, error => "connect $address: $!", headers => {},
        body => '' } unless $sock;

    my $conn = FCGI::Client::Connection->new(sock => $sock,
        timeout => $timeout);
    my ($stdout, $stderr) = eval { $conn->request($params, $opt{body}) };

    return { status => 0, error => "fastcgi: " . ($@ =~ /^(.*)/)[0],
        headers => {}, body => '' } if $@;

    return parse_cgi_response($stdout // '');
}

sub parse_cgi_response {
    my ($out) = @_;
    my $res = { status => 0, headers => {}, body => '', raw => $out,
        json => undef };
    my ($head, $body) = split /\r?\n\r?\n/, $out, 2;

    for my $line (split /\r?\n/, $head // '') {
        my ($name, $value) = $line =~ /^([^:]+):\s*(.*?)\s*$/ or next;
        $res->{headers}{ lc $name } = $value;
    }

    my $status = $res->{headers}{status} // '';
    $res->{status} = $status =~ /^(\d{3})/ ? $1 + 0
        : defined $body ? 200 : 0;
    $res->{body} = $body // '';
    decode_json_body($res);
    return $res;
}

# The Set-Cookie lines of a response, each one whole (a joined header
# would be ambiguous: Expires dates contain commas).
sub set_cookies {
    my ($res) = @_;
    return @{ $res->{set_cookies} || [] };
}

# Splits one Set-Cookie line into {name, value, attrs}; attribute names
# are lower-cased and map to their value, or to 1 when they have none.
sub parse_cookie {
    my ($line) = @_;
    my ($pair, @attrs) = split /\s*;\s*/, $line // '';
    my ($name, $value) = ($pair // '') =~ /^([^=]*)=(.*)\z/s;
    my %attrs;

    for my $attr (@attrs) {
        my ($key, $val) = $attr =~ /^([^=]*?)\s*(?:=\s*(.*))?\z/s;
        $attrs{ lc $key } = defined $val ? $val : 1;
    }

    return { name => $name // '', value => $value // '', attrs => \%attrs };
}

# POST /api/session on a tenant's host with http()'s options.  The
# sign-in rate limit is shared by every test on this machine, so a 429
# is retried every second for up to retry_for seconds (a failure bound,
# default 90).  Returns the last response.
sub session_post {
    my ($host, %opt) = @_;
    my $deadline = time + (delete $opt{retry_for} // 90);
    my $res;

    while (1) {
        $res = http('POST', $host, '/api/session', %opt);
        return $res if $res->{status} != 429 || time >= $deadline;
        sleep 1;
    }
}

# Signs in with an email and a password (see session_post).
sub sign_in {
    my ($host, $email, $password, %opt) = @_;

    return session_post($host, %opt,
        json => { email => $email, password => $password });
}

# The tn_session value a response sets, or undef.
sub session_token {
    my ($res) = @_;

    for my $line (set_cookies($res)) {
        my $cookie = parse_cookie($line);
        return $cookie->{value} if $cookie->{name} eq 'tn_session';
    }

    return undef;
}

# One API request as a signed-in user.  auth is {cookie => token} (sent
# as tn_session with the host's own Origin on writes) or {bearer =>
# token} or undef; the other options are http()'s.
sub api {
    my ($auth, $method, $host, $path, %opt) = @_;
    my @headers = @{ delete $opt{headers} || [] };

    $auth ||= {};

    if (defined $auth->{cookie}) {
        push @headers, Cookie => "tn_session=$auth->{cookie}";
        push @headers, Origin => "http://$host"
            unless $method =~ /^(?:GET|HEAD)$/;
    }

    $opt{bearer} = $auth->{bearer} if defined $auth->{bearer};
    return http($method, $host, $path, %opt, headers => \@headers);
}

# The last path segment of a problem's type, e.g. "not-found".
sub problem_slug {
    my ($res) = @_;
    my $type = ref $res->{json} eq 'HASH' ? $res->{json}{type} // '' : '';

    return $type =~ m{/([^/]+)\z} ? $1 : $type;
}

# The field names a 422 problem lists in its errors.
# Checks a 4xx problem whose errors (422) or detail (400) name the
# fields; the status is one of $statuses.
sub refused_ok {
    my ($res, $statuses, $fields, $name) = @_;
    my %listed = map { $_ => 1 } problem_fields($res);
    my $status = grep({ $_ == $res->{status} } @$statuses)
        ? $res->{status} : $statuses->[-1];

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is_problem($res, $status, $name);
    for my $field (@$fields) {
        Test::More::ok($listed{$field}
            || ($res->{status} == 400 && ($res->{json}{detail} // '')
                =~ /\b\Q$field\E\b/),
            "$name: the problem names $field")
            or Test::More::diag(Test::More::explain($res->{json}));
    }
}

# One resource and its ETag, as one string, to see that nothing changed.
sub resource_state {
    my ($auth, $host, $path) = @_;
    my $res = api($auth, 'GET', $host, $path);

    return "status $res->{status}: " . ($res->{headers}{etag} // 'no etag')
        . ' ' . $res->{body};
}

sub problem_fields {
    my ($res) = @_;
    my $errors = ref $res->{json} eq 'HASH' ? $res->{json}{errors} : undef;

    return () unless ref $errors eq 'ARRAY';
    return map { ref eq 'HASH' && defined $_->{field} ? $_->{field} : () }
        @$errors;
}

# is_problem() plus the type's slug.  Returns true when all passed.
sub is_problem_slug {
    my ($res, $status, $slug, $name) = @_;
    my $tb = Test::More->builder;

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $ok = is_problem($res, $status, $name);
    $ok &= $tb->is_eq(problem_slug($res), $slug, "$name: slug $slug");
    return $ok;
}

# An epoch time as the API writes timestamps: 2026-12-04T15:34:38.236Z.
sub iso_time {
    my ($epoch) = @_;
    my $ms = int($epoch * 1000 + 0.5);
    my @t = gmtime int($ms / 1000);

    return sprintf '%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', $t[5] + 1900,
        $t[4] + 1, @t[3, 2, 1, 0], $ms % 1000;
}

# The epoch time of an API timestamp, or undef when it is not one.
sub iso_epoch {
    my ($text) = @_;

    return undef unless defined $text && !ref $text && $text
        =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z\z/;

    my ($y, $mo, $d, $h, $mi, $s, $ms) = ($1, $2, $3, $4, $5, $6, $7);
    my $epoch = eval {
        require Time::Local;
        Time::Local::timegm($s, $mi, $h, $d, $mo - 1, $y);
    };

    return defined $epoch ? $epoch + $ms / 1000 : undef;
}

# Onboards a tenant with a known owner and signs the owner in, as two
# test assertions.  Returns {sub, host, email, password, token, user}:
# token is the owner's session token, user the signed-in user.
sub new_tenant {
    my ($prefix) = @_;
    my $tb = Test::More->builder;
    my $sub = unique_sub($prefix);
    my $host = host_for($sub);
    my $email = "owner\@$sub.test";
    my $password = "secret of $sub";

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $res = register($sub, email => $email, password => $password);
    $tb->is_num($res->{status}, 201, "register $sub")
        or $tb->diag("body: " . substr($res->{body} // '', 0, 500));

    my $in = sign_in($host, $email, $password);
    $tb->is_num($in->{status}, 201, "the owner of $sub signs in")
        or $tb->diag("body: " . substr($in->{body} // '', 0, 500));

    return {
        sub      => $sub,
        host     => $host,
        email    => $email,
        password => $password,
        token    => session_token($in),
        user     => ref $in->{json} eq 'HASH' ? $in->{json}{user} : undef,
    };
}

# Has a tenant's owner create a user with POST /api/users (fields:
# email, name, password, role), as one test assertion; with sign_in,
# the user signs in too.  Returns {id, email, password, token, user}.
sub add_user {
    my ($tenant, %opt) = @_;
    my $tb = Test::More->builder;
    my $name = $opt{name} // 'User';
    my $email = $opt{email}
        // lc($name =~ s/\W+/./gr) . ".$$." . int(rand 1e9) . '@user.test';
    my $password = $opt{password} // 'user password 1';
    my %body = (email => $email, name => $name, password => $password);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    $body{role} = $opt{role} if defined $opt{role};

    my $res = api({ bearer => $tenant->{token} }, 'POST', $tenant->{host},
        '/api/users', json => \%body);
    $tb->is_num($res->{status}, 201, "the owner adds $email")
        or $tb->diag("body: " . substr($res->{body} // '', 0, 500));

    my $user = ref $res->{json} eq 'HASH' ? $res->{json} : {};
    my %added = (id => $user->{id}, email => $email, password => $password,
        user => $user);

    if ($opt{sign_in}) {
        my $in = sign_in($tenant->{host}, $email, $password);
        $tb->is_num($in->{status}, 201, "$email signs in")
            or $tb->diag("body: " . substr($in->{body} // '', 0, 500));
        $added{token} = session_token($in);
    }

    return \%added;
}

# Follows next_cursor from the first page of a list to its end, at most
# max_pages pages (default 200).  Returns {items, pages, error}; error
# names the first page that was not a 200 list.
sub list_all {
    my ($auth, $host, $path, $key, %opt) = @_;
    my $max = $opt{max_pages} // 200;
    my (@items, @pages);
    my $cursor;

    while (@pages < $max) {
        my @query;
        push @query, "limit=$opt{limit}" if defined $opt{limit};
        push @query, 'cursor=' . uri_escape($cursor) if defined $cursor;

        my $sep = $path =~ /\?/ ? '&' : '?';
        my $url = @query ? $path . $sep . join('&', @query) : $path;
        my $res = api($auth, 'GET', $host, $url);
        my $page = $res->{json};

        push @pages, $res;

        if ($res->{status} != 200 || ref $page ne 'HASH'
            || ref $page->{$key} ne 'ARRAY') {
            return { items => \@items, pages => \@pages,
                error => "GET $url: status $res->{status}, body "
                    . substr($res->{body} // '', 0, 300) };
        }

        push @items, @{ $page->{$key} };
        $cursor = $page->{next_cursor};

        return { items => \@items, pages => \@pages } unless defined $cursor;

        if (ref $cursor || $cursor eq '') {
            return { items => \@items, pages => \@pages,
                error => "GET $url: next_cursor is not a non-empty string" };
        }
    }

    return { items => \@items, pages => \@pages,
        error => "still a next_cursor after $max pages" };
}

# Percent-encodes everything but unreserved characters.
sub uri_escape {
    my ($text) = @_;
    my $bytes = $text;

    utf8::encode($bytes) if utf8::is_utf8($bytes);
    $bytes =~ s/([^A-Za-z0-9._~-])/sprintf '%%%02X', ord $1/ge;
    return $bytes;
}

# True when a decoded JSON value was an integer number, not a string
# that looks like one.
sub json_int {
    my ($value) = @_;

    return 0 if !defined $value || ref $value;
    require B;

    my $flags = B::svref_2object(\$value)->FLAGS;
    return ($flags & B::SVf_IOK()) && !($flags & B::SVf_POK()) ? 1 : 0;
}

# Second tenantd masters started by start_tenantd, killed at exit by the
# process that started them.
my %tenantd_started;
my $tenantd_owner = $$;

# Starts a tenantd with its own socket and the given settings (on top of
# the stack's database, domain, admin token and migrations), as the same
# user as the stack's tenantd.  Two assertions: the socket opens, the
# workers run.  Returns {pid, socket, log, dir}; socket is the unix path,
# or HOST:PORT when TENANTD_LISTEN names one.  A setting -command (an
# arrayref) runs that instead of the build's tenantd, e.g. under a tool.
sub start_tenantd {
    my (%settings) = @_;
    my $s = stack();
    my @command = @{ delete $settings{-command}
        || ["$s->{build}/app/tenantd"] };
    my $dir = tempdir(CLEANUP => 1);
    my @as = as_stack_user($dir);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    my $t = {
        dir    => $dir,
        socket => "$dir/tenantd.sock",
        log    => "$dir/tenantd.log",
    };
    my %env = (
        TENANTRY_DATABASE_URL    => $s->{dburl},
        TENANTRY_DOMAIN          => $s->{domain},
        TENANTRY_ADMIN_TOKEN     => $s->{token},
        TENANTRY_DB_DIR          => "$s->{top}/db",
        TENANTD_LISTEN           => "unix:$t->{socket}",
        TENANTD_WORKERS          => 2,
        TENANTD_SHUTDOWN_TIMEOUT => 5,
        %settings,
    );
    my $workers = $env{TENANTD_WORKERS};

    # a TCP listener (TENANTD_LISTEN=HOST:PORT) is its own address
    $t->{socket} = $env{TENANTD_LISTEN}
        unless $env{TENANTD_LISTEN} =~ /^unix:/;

    $t->{pid} = fork() // die "fork: $!";

    if ($t->{pid} == 0) {
        delete @ENV{ grep { /^(?:TENANTRY|TENANTD)_/ } keys %ENV };
        @ENV{ keys %env } = values %env;
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', $t->{log};
        open STDERR, '>&', \*STDOUT;
        exec @as, @command or POSIX::_exit(127);
    }

    $tenantd_started{ $t->{pid} } = 1;

    Test::More::ok(wait_until(sub {
        $t->{socket} =~ m{^/} ? -S $t->{socket}
            : IO::Socket::INET->new(PeerAddr => $t->{socket}) }, 15),
        "tenantd $t->{pid} opened its socket") or show_tenantd_log($t);
    Test::More::ok(wait_until(sub {
        proc_children($t->{pid}) == $workers }, 10),
        "tenantd $t->{pid} has $workers workers") or show_tenantd_log($t);

    return $t;
}

# The command prefix that runs a program as the user of the stack's
# tenantd (nothing when that is us), after handing it the given
# directories.
sub as_stack_user {
    my (@dirs) = @_;
    my ($master) = tenantd_pids();
    my ($uid, $gid) = $master ? (stat "/proc/$master")[4, 5] : (0, 0);

    return () unless $> == 0 && $uid != 0;
    chown $uid, $gid, @dirs;
    return ('setpriv', "--reuid=$uid", "--regid=$gid",
        (getpwuid $uid) ? '--init-groups' : '--clear-groups', '--');
}

my %nginx_started;

# Renders nginx's configuration with the given settings (on top of the
# stack's domain and tenantd socket, in a new state directory, on a free
# port) and runs nginx on it as the stack's tenantd user.  Two
# assertions: it renders, it listens.  Returns {pid, port, dir, conf}.
sub start_nginx {
    my (%settings) = @_;
    my $s = stack();
    my $dir = tempdir(CLEANUP => 1);
    my $n = { dir => $dir, port => free_port(),
        conf => "$dir/nginx/nginx.conf" };
    my $nginx = (grep { -x } '/usr/sbin/nginx', '/usr/bin/nginx')[0]
        || 'nginx';

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    mkdir "$dir/$_" for qw(log run nginx);
    my @as = as_stack_user($dir, map { "$dir/$_" } qw(log run nginx));
    my ($rc, $text) = capture([ "$s->{top}/nginx/render", $n->{conf} ],
        TENANTRY_STATE   => $dir,
        TENANTRY_PORT    => $n->{port},
        TENANTRY_DOMAIN  => $s->{domain},
        TENANTRY_FASTCGI => "unix:$s->{state}/run/tenantd.sock",
        %settings);
    Test::More::is($rc, 0, 'nginx/render renders a second configuration')
        or Test::More::diag($text);

    $n->{pid} = fork() // die "fork: $!";
    if ($n->{pid} == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$dir/log/nginx.out";
        open STDERR, '>&', \*STDOUT;
        exec @as, $nginx, '-p', "$dir/nginx/", '-c', $n->{conf},
            '-e', "$dir/log/nginx-error.log", '-g', 'daemon off;'
            or POSIX::_exit(127);
    }
    $nginx_started{ $n->{pid} } = 1;

    Test::More::ok(wait_until(sub {
        IO::Socket::INET->new(PeerAddr => "127.0.0.1:$n->{port}") }, 15),
        "a second nginx listens on $n->{port}")
        or Test::More::diag(slurp("$dir/log/nginx.out"),
            slurp("$dir/log/nginx-error.log"));
    return $n;
}

# Stops an nginx start_nginx started, gracefully; returns when it is gone.
sub stop_nginx {
    my ($n) = @_;

    kill 'QUIT', $n->{pid};
    waitpid $n->{pid}, 0;
    delete $nginx_started{ $n->{pid} };
}

# Shows the last lines of a tenantd's log as diagnostics.
sub show_tenantd_log {
    my ($t) = @_;
    open my $fh, '<', $t->{log} or return;
    my @lines = <$fh>;
    Test::More::diag("tenantd log:\n",
        @lines[ ($#lines > 30 ? $#lines - 30 : 0) .. $#lines ]);
}

# Sends SIGTERM and waits for the master within a bound; returns its
# wait status, or undef when it is still running.
sub stop_tenantd {
    my ($t, $bound) = @_;
    my $status;

    kill 'TERM', $t->{pid};

    my $exited = wait_until(sub {
        return 0 unless waitpid($t->{pid}, WNOHANG) == $t->{pid};
        $status = $?;
        return 1;
    }, $bound);

    delete $tenantd_started{ $t->{pid} } if $exited;
    return $exited ? $status : undef;
}

# Kills what start_tenantd and start_nginx left running (before the stack
# stops).
END {
    my $exit = $?;

    if ($$ == $tenantd_owner) {
        for my $pid (keys %nginx_started, keys %tenantd_started) {
            kill 'KILL', $pid;
            waitpid $pid, 0;
        }
    }

    $? = $exit;
}

1;
