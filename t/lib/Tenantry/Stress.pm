# Faults under load: keep-alive clients that count every answer, the
# faults (killed workers, recycling, reloads, stops, a database that goes
# away, a statement that runs too long) and the checks that every
# tenant's data survived them.  Used by script/stress and t/91-stress.t.
package Tenantry::Stress;

use strict;
use warnings;

use Exporter qw(import);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Time::HiRes qw(sleep time);

use Tenantry::Test;

our @EXPORT_OK = qw(run_scenarios);

my $json = JSON::PP->new->utf8->canonical;

# Settings of the short form (script/test) and of the long one.
my %FORMS = (
    short => { seconds => 4, kills => 3, reloads => 3, hups => 1,
        clients => 3, pg_down => 3 },
    long => { seconds => 30, kills => 15, reloads => 10, hups => 3,
        clients => 6, pg_down => 15 },
);

# One check of a scenario: {name, ok, detail}.
sub check {
    my ($name, $ok, $detail) = @_;
    return { name => $name, ok => $ok ? 1 : 0, detail => $detail // '' };
}

# --- the load ------------------------------------------------------------

# Classifies one answer: ok (a 2xx with the right data), failed (502,
# 503 or 504 as problem+json, or no answer at all) or wrong (anything
# else, above all a 2xx with another tenant's or the wrong data).
sub classify {
    my ($req, $res) = @_;
    my $status = $res->{status};
    my $type = $res->{headers}{'content-type'} // '';
    my $doc = eval { $json->decode($res->{content}) };

    if ($status == 599) {
        return ('failed', (split /\n/, $res->{content} // '')[0]);
    }

    if ($status =~ /^50[234]$/) {
        return ('failed', "$status problem")
            if $type =~ m{^application/problem\+json}
            && ref $doc eq 'HASH' && ($doc->{status} // 0) == $status;
        return ('wrong', "$status without problem+json: $type");
    }

    return ('wrong', "status $status: " . substr($res->{content}, 0, 200))
        unless $status == $req->{want};
    return ('wrong', "not JSON: $type") unless ref $doc eq 'HASH';

    if ($req->{kind} eq 'tenant') {
        return ('ok', '') if ($doc->{subdomain} // '') eq $req->{sub};
        return ('wrong', "tenant $doc->{subdomain} for $req->{sub}");
    }

    if ($req->{kind} eq 'list') {
        my @other = grep { ($_->{project_id} // '') ne $req->{project} }
            @{ ref $doc->{tasks} eq 'ARRAY' ? $doc->{tasks} : [undef] };
        return ('ok', '') unless @other;
        return ('wrong', "a task of another project in $req->{sub}");
    }

    return ('ok', '') if ($doc->{title} // '') eq $req->{title}
        && ($doc->{project_id} // '') eq $req->{project};
    return ('wrong', "created task is not the one sent: $res->{content}");
}

# A request of a kind (tenant, list or post) to a tenant: what to send
# and what a right answer holds.
sub request_for {
    my ($tenant, $kind, $title) = @_;
    my %req = (kind => $kind, sub => $tenant->{sub}, host => $tenant->{host},
        project => $tenant->{project}, token => $tenant->{token},
        method => 'GET', want => 200);

    if ($kind eq 'post') {
        $req{method} = 'POST';
        $req{path} = "/api/projects/$tenant->{project}/tasks";
        $req{title} = $title;
        $req{want} = 201;
    } elsif ($kind eq 'list') {
        $req{path} = "/api/projects/$tenant->{project}/tasks?limit=5";
    } else {
        $req{path} = '/api/tenant';
    }
    return \%req;
}

# The request number n of a client: mostly reads of the tenant and of a
# task list, every fourth a task created with a title of its own.
sub next_request {
    my ($plan, $client, $n) = @_;
    my $tenant = $plan->{tenants}[($client + $n) % @{ $plan->{tenants} }];
    my $kind = $n % 4 == 3 ? 'post' : $n % 4 == 1 ? 'list' : 'tenant';

    return request_for($tenant, $kind, "$plan->{tag} c$client n$n");
}

# Sends one request on the tenant's keep-alive connection.  A request
# whose kept-alive connection turned out closed or reset before any answer
# (nginx closes idle ones on reload, and may do so just as a request goes
# out) is sent once more on a new one, as HTTP clients do; the task checks
# would catch a double.
sub send_request {
    my ($agents, $req) = @_;
    my $agent = $agents->{ $req->{host} } //= HTTP::Tiny->new(
        keep_alive => 1, timeout => 10, agent => 'tenantry-stress');
    my %args = (peer => '127.0.0.1',
        headers => { Authorization => "Bearer $req->{token}" });
    my ($res, $resent) = (undef, 0);

    if ($req->{method} eq 'POST') {
        $args{headers}{'Content-Type'} = 'application/json';
        $args{content} = $json->encode({ title => $req->{title} });
    }

    for my $try (0 .. 1) {
        my $reused = $agent->connected;

        $res = $agent->request($req->{method},
            "http://$req->{host}$req->{path}", \%args);
        last unless $res->{status} == 599 && $reused
            && $res->{content} =~ /^(?:Socket closed|Unexpected end
                |Could\ not\ (?:read\ from|write\ to)\ socket:
                \ 'Connection\ reset\ by\ peer')/x;
        $resent = 1;
    }
    return ($res, $resent);
}

# One client: requests until the stop file appears, one line per answer.
sub client {
    my ($plan, $client, $file) = @_;
    my (%agents, $n);

    open my $out, '>', $file or die "$file: $!\n";
    $out->autoflush(1);
    for ($n = 0; !-e $plan->{stop} && time < $plan->{deadline}; $n++) {
        my $req = next_request($plan, $client, $n);
        my $started = time;
        my ($res, $resent) = send_request(\%agents, $req);
        my $ms = (time - $started) * 1000;
        my ($class, $detail) = classify($req, $res);

        $detail =~ s/[\t\n]/ /g;
        printf {$out} "%s\t%d\t%s\t%.1f\t%s\t%d\t%s\t%.3f\n", $req->{kind},
            $res->{status}, $class, $ms, $req->{title} // '', $resent,
            $detail, time;
    }
    close $out;
}

# Starts the clients in the background; returns the load to stop.
sub start_load {
    my ($plan, $clients) = @_;
    my $dir = tempdir(CLEANUP => 1);
    my %load = (dir => $dir, pids => [], started => time);

    $plan->{stop} = "$dir/stop";
    $plan->{deadline} = time + 600;
    $plan->{tag} = sprintf 'stress %x', int(rand 2**31);

    for my $client (1 .. $clients) {
        my $pid = fork() // die "fork: $!\n";

        if ($pid == 0) {
            eval { client($plan, $client, "$dir/client-$client") };
            POSIX::_exit($@ ? 1 : 0);
        }
        push @{ $load{pids} }, $pid;
    }

    # the load runs once every client has had answers
    wait_until(sub {
        !grep { !-s "$dir/client-$_" } 1 .. $clients }, 30);
    return \%load;
}

# Stops the clients and sums up what they saw: requests, ok, failed,
# wrong, statuses, max_ms, resent, the titles of the POSTs answered 2xx
# (created) and of those without an answer (unknown), the first wrong
# answers, and the answers as [time, class, ms, status] in order.
sub stop_load {
    my ($load, $plan) = @_;
    my %sum = (requests => 0, ok => 0, failed => 0, wrong => 0,
        statuses => {}, max_ms => 0, resent => 0, created => [],
        unknown => [], wrong_examples => [], timeline => [],
        seconds => time - $load->{started});

    open my $fh, '>', $plan->{stop} or die "$plan->{stop}: $!\n";
    close $fh;
    waitpid $_, 0 for @{ $load->{pids} };

    for my $file (glob "$load->{dir}/client-*") {
        open my $in, '<', $file or next;
        while (my $line = <$in>) {
            chomp $line;
            my ($kind, $status, $class, $ms, $title, $resent, $detail, $at)
                = split /\t/, $line, -1;

            $sum{requests}++;
            $sum{$class}++;
            $sum{statuses}{$status}++;
            $sum{resent} += $resent;
            $sum{max_ms} = $ms if $ms > $sum{max_ms};
            push @{ $sum{timeline} }, [$at, $class, $ms, $status];
            push @{ $sum{wrong_examples} }, "$kind $status: $detail"
                if $class eq 'wrong' && @{ $sum{wrong_examples} } < 5;
            next unless $kind eq 'post';
            push @{ $sum{ $class eq 'failed' ? 'unknown' : 'created' } },
                $title if $class ne 'wrong' || $status =~ /^2/;
        }
    }
    @{ $sum{timeline} } = sort { $a->[0] <=> $b->[0] } @{ $sum{timeline} };
    $sum{rps} = $sum{seconds} > 0 ? $sum{requests} / $sum{seconds} : 0;
    return \%sum;
}

# The figures of a load worth keeping in a report.
sub figures {
    my ($sum) = @_;
    return (
        (map { $_ => $sum->{$_} } qw(requests ok failed wrong statuses
            resent wrong_examples)),
        max_ms => sprintf('%.1f', $sum->{max_ms}),
        rps => sprintf('%.0f', $sum->{rps}),
        created => scalar @{ $sum->{created} },
        unknown => scalar @{ $sum->{unknown} },
    );
}

# The checks every load shares: answers came, none was wrong.
sub load_checks {
    my ($sum) = @_;
    return (
        check('requests were answered', $sum->{ok} > 0,
            "$sum->{ok} of $sum->{requests} succeeded"),
        check('no answer was wrong', $sum->{wrong} == 0,
            join('; ', @{ $sum->{wrong_examples} })),
    );
}

# --- the stack -----------------------------------------------------------

# Runs SQL as the superuser; dies when it fails.  Returns the rows as
# arrays of fields.
sub sql {
    my ($text) = @_;
    my ($rc, $out) = psql($text, user => 'postgres');

    die "psql failed: $out\n" if $rc != 0;
    return map { [split /\|/, $_, -1] } grep { length } split /\n/, $out;
}

# Creates the tenants the load works on, each with an owner signed in
# and one project.
sub make_tenants {
    my ($count) = @_;
    my @tenants;

    for my $i (1 .. $count) {
        my $sub = unique_sub("stress$i");
        my $host = host_for($sub);
        my $password = "stress password $i";
        my $res = register($sub, email => "owner\@$sub.test",
            password => $password);

        die "register $sub: $res->{status} $res->{body}\n"
            unless $res->{status} == 201;
        $res = sign_in($host, "owner\@$sub.test", $password);
        die "sign in to $sub: $res->{status} $res->{body}\n"
            unless $res->{status} == 201;

        my $token = session_token($res);
        $res = api({ bearer => $token }, 'POST', $host, '/api/projects',
            json => { name => 'Load' });
        die "project in $sub: $res->{status} $res->{body}\n"
            unless $res->{status} == 201;

        my ($schema) = sql("SELECT schema_name FROM public.tenants"
            . " WHERE subdomain = '$sub'");
        push @tenants, { sub => $sub, host => $host, token => $token,
            project => $res->{json}{id}, schema => $schema->[0] };
    }
    return @tenants;
}

# Every table of the control plane and of every tenant schema: count and
# md5 over its rows in order, as {schema.table => "count md5"}.
sub checksums {
    my %sums;
    my @rows = sql(<<'SQL');
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(r::text, '
    || '%L ORDER BY r::text), %L)) FROM %I.%I r',
    n.nspname || '.' || c.relname, E'\n', '', n.nspname, c.relname)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ('r', 'p')
   AND n.nspname NOT LIKE 'pg\_%' AND n.nspname <> 'information_schema'
 ORDER BY 1
\gexec
SQL

    $sums{ $_->[0] } = "$_->[1] $_->[2]" for @rows;
    return \%sums;
}

# The tables the load itself writes: the tasks of its tenants, and their
# sign-in tokens (whose use is recorded).
sub load_tables {
    my ($plan) = @_;
    return map { ("$_->{schema}.tasks", "$_->{schema}.auth_tokens") }
        @{ $plan->{tenants} };
}

# Checks the data after a fault: no table changed but the tasks a load
# created (tables of the load's tenants compared with the last check,
# all others with the first), and each column's positions are 0..n-1.
sub table_checks {
    my ($plan, $sum) = @_;
    my $now = checksums();
    my %load = map { $_ => 1 } load_tables($plan);
    my @changed = grep {
        my $was = $load{$_} ? $plan->{previous}{$_} : $plan->{baseline}{$_};
        !($load{$_} && $sum->{requests}) && ($was // '') ne ($now->{$_} // '')
    } sort keys %{ { %{ $plan->{baseline} }, %$now } };
    my @gaps = map {
        my $t = $_;
        map {"$t->{schema} @$_"} sql(
            "SELECT project_id, status FROM $t->{schema}.tasks"
            . " GROUP BY 1, 2 HAVING min(position) <> 0"
            . " OR max(position) <> count(*) - 1"
            . " OR count(DISTINCT position) <> count(*)");
    } @{ $plan->{tenants} };

    $plan->{previous} = $now;
    return (
        check('no table changed but the tasks the load created', !@changed,
            join(' ', @changed)),
        check('positions in every column are 0..n-1', !@gaps,
            join(', ', @gaps)),
    );
}

# Checks the tasks a load created: each answered 201 exists once, none
# exists without a POST that may have made it (one without an answer
# may have committed), and their number lies between the two.
sub task_checks {
    my ($plan, $sum) = @_;
    my %created = map { $_ => 1 } @{ $sum->{created} };
    my %unknown = map { $_ => 1 } @{ $sum->{unknown} };
    my (%seen, @doubled, @stray, @missing);
    my $count = 0;

    for my $t (@{ $plan->{tenants} }) {
        for my $row (sql("SELECT title, count(*) FROM $t->{schema}.tasks"
            . " WHERE title LIKE '$plan->{tag} %' GROUP BY title")) {
            $seen{ $row->[0] } += $row->[1];
            $count += $row->[1];
        }
    }
    @doubled = grep { $seen{$_} > 1 } sort keys %seen;
    @stray = grep { !$created{$_} && !$unknown{$_} } sort keys %seen;
    @missing = grep { !$seen{$_} } @{ $sum->{created} };

    return (
        check('every task answered 201 exists', !@missing,
            scalar(@missing) . ' missing, e.g. ' . ($missing[0] // '')),
        check('no task exists twice', !@doubled, join(', ', @doubled)),
        check('no task exists without a POST that may have made it',
            !@stray, join(', ', @stray)),
        check('tasks: answered 201 <= count <= 201 + unanswered',
            $count >= keys(%created)
            && $count <= keys(%created) + keys(%unknown),
            "$count tasks, " . keys(%created) . ' answered 201, '
            . keys(%unknown) . ' unanswered'),
    );
}

# The stack's tenantd workers.
sub workers {
    my (undef, @workers) = tenantd_pids();
    return @workers;
}

# Starts a new master for the stack, as the old one ran (user,
# environment, log, pid file) with some settings changed, and waits for
# its workers.  Dies when it does not come up.
sub start_master {
    my ($plan, %settings) = @_;
    my $s = stack();
    my %env = (%{ $plan->{master_env} }, %settings);
    my ($uid, $gid) = @{ $plan->{master_ids} };
    my $pidfile = "$s->{state}/run/tenantd.pid";
    my @as;

    @as = ('setpriv', "--reuid=$uid", "--regid=$gid", '--init-groups', '--')
        if $> == 0 && $uid != 0;

    # twice forked: the master is nobody's child here and leads a session
    # of its own, as script/server leaves it
    my $pid = fork() // die "fork: $!\n";
    if ($pid == 0) {
        my $master = fork() // POSIX::_exit(1);
        if ($master == 0) {
            POSIX::setsid();
            %ENV = %env;
            open STDIN, '<', '/dev/null';
            open STDOUT, '>>', "$s->{state}/log/tenantd.log";
            open STDERR, '>&', \*STDOUT;
            exec @as, "$s->{build}/app/tenantd" or POSIX::_exit(127);
        }
        open my $fh, '>', $pidfile or POSIX::_exit(1);
        print {$fh} "$master\n";
        close $fh;
        POSIX::_exit(0);
    }
    waitpid $pid, 0;

    my $want = $env{TENANTD_WORKERS} || $plan->{workers};
    wait_until(sub {
        workers() == $want
            && http('GET', $plan->{tenants}[0]{host}, '/api/tenant',
                timeout => 5)->{status} == 200 }, 30)
        or die "the new tenantd did not come up\n";
}

# Sends SIGTERM to the stack's master and waits for it to be gone.
# Returns true when it went within the bound.
sub stop_master {
    my ($bound) = @_;
    my ($master) = tenantd_pids();

    kill 'TERM', $master;
    return wait_until(sub { !kill 0, $master }, $bound);
}

# --- the scenarios -------------------------------------------------------

# One worker killed in the middle of a request: every worker holds one
# request that waits for a lock, so the one killed had a request in
# flight.  That request alone fails, with 502 problem+json.
sub kill_busy_worker {
    my ($plan) = @_;
    my $tenant = $plan->{tenants}[0];
    my $n = $plan->{workers};
    # held for less than the statement timeout, and let go once the kill
    # is done, so a loaded machine cannot run out the lock first
    my $locker = lock_table("$tenant->{schema}.tasks", 4);
    my @bg = map {
        request_in_background($plan, request_for($tenant, 'list'))
    } 1 .. $n;
    my $busy = wait_until(sub { lock_waiters() >= $n }, 10);
    my ($victim) = workers();

    kill 'KILL', $victim;
    wait_until(sub { !grep { $_ == $victim } workers() }, 5);
    sql("SELECT pg_terminate_backend(pid) FROM pg_locks"
        . " WHERE relation = '$tenant->{schema}.tasks'::regclass"
        . " AND mode = 'AccessExclusiveLock' AND granted");
    my @answers = map { answer_of($_) } @bg;
    my @ok = grep { $_->{class} eq 'ok' } @answers;
    my @failed = grep { $_->{class} eq 'failed' } @answers;

    waitpid $locker, 0;
    wait_until(sub {
        my @w = workers();
        @w == $n && !grep { $_ == $victim } @w }, 15);

    return (
        check("each of the $n workers had a request in flight", $busy),
        check('the killed worker\'s request alone failed, with 502',
            (@ok == $n - 1 && @failed == 1 && $failed[0]{status} == 502),
            join('; ', map {"$_->{status} $_->{class} $_->{detail}"}
                @answers)),
    );
}

# Workers killed with SIGKILL one at a time under load.
sub scenario_kill {
    my ($plan, $form) = @_;
    my @busy = kill_busy_worker($plan);
    my $load = start_load($plan, $form->{clients});
    my $gap = $form->{seconds} / $form->{kills};
    my (%killed, %seen, $respawned);

    for (1 .. $form->{kills}) {
        my @now = workers();
        my $victim = $now[ int rand @now ];

        $seen{$_} = 1 for @now;
        kill 'KILL', $victim;
        $killed{$victim} = 1;
        $respawned = wait_until(sub {
            my @w = workers();
            @w == $plan->{workers} && !grep { $killed{$_} } @w }, 15);
        last unless $respawned;
        sleep $gap;
    }

    my $sum = stop_load($load, $plan);
    my $kills = keys %killed;
    my @fresh = grep { !$seen{$_} } workers();

    return ($sum, { kills => $kills },
        @busy,
        load_checks($sum),
        check("the master replaced each killed worker ($kills)",
            $respawned && @fresh > 0,
            'workers now: ' . join(' ', workers())),
        check("failed requests ($sum->{failed}) <= kills ($kills)",
            $sum->{failed} <= $kills,
            join(' ', map {"$_:$sum->{statuses}{$_}"}
                sort keys %{ $sum->{statuses} })),
    );
}

# nginx reloaded with the stack's configuration, several times.
sub scenario_reload {
    my ($plan, $form) = @_;
    my $s = stack();
    my @nginx = ('/usr/sbin/nginx', '-p', "$s->{state}/nginx/", '-c',
        "$s->{state}/nginx/nginx.conf", '-e',
        "$s->{state}/log/nginx-error.log");
    my $load = start_load($plan, $form->{clients});
    my $ok = 1;
    my $out = '';

    for (1 .. $form->{reloads}) {
        my ($rc, $text) = capture([run_as_owner("$s->{state}/nginx"),
            @nginx, '-s', 'reload']);

        ($ok, $out) = (0, $text) if $rc != 0;
        sleep $form->{seconds} / $form->{reloads};
    }

    my $sum = stop_load($load, $plan);
    return ($sum, { reloads => $form->{reloads} },
        load_checks($sum),
        check('nginx -s reload succeeded each time', $ok, $out),
        check('no request failed across the reloads', $sum->{failed} == 0,
            join(' ', map {"$_:$sum->{statuses}{$_}"}
                sort keys %{ $sum->{statuses} })),
    );
}

# SIGHUP: the workers replaced one by one.
sub scenario_hup {
    my ($plan, $form) = @_;
    my ($master) = tenantd_pids();
    my $load = start_load($plan, $form->{clients});
    my $replaced = 1;

    for (1 .. $form->{hups}) {
        my %old = map { $_ => 1 } workers();

        kill 'HUP', $master;
        $replaced &&= wait_until(sub {
            my @w = workers();
            @w == $plan->{workers} && !grep { $old{$_} } @w }, 30);
        sleep $form->{seconds} / $form->{hups} / 2;
    }

    my $sum = stop_load($load, $plan);
    return ($sum, { hups => $form->{hups} },
        load_checks($sum),
        check('every worker was replaced after each SIGHUP', $replaced,
            'workers now: ' . join(' ', workers())),
        check('no request failed across the rolling restarts',
            $sum->{failed} == 0,
            join(' ', map {"$_:$sum->{statuses}{$_}"}
                sort keys %{ $sum->{statuses} })),
    );
}

# Holds an exclusive lock on a table for the given seconds in a session
# of its own; returns once the lock is held, with the pid of the
# session's psql.
sub lock_table {
    my ($table, $seconds) = @_;
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        psql("BEGIN; LOCK TABLE $table IN ACCESS EXCLUSIVE MODE;"
            . " SELECT pg_sleep($seconds); COMMIT;", user => 'postgres');
        POSIX::_exit(0);
    }
    wait_until(sub {
        my ($row) = sql("SELECT count(*) FROM pg_locks"
            . " WHERE relation = '$table'::regclass"
            . " AND mode = 'AccessExclusiveLock' AND granted");
        $row->[0] > 0 }, 10) or die "no lock on $table\n";
    return $pid;
}

# Sessions waiting for a lock.
sub lock_waiters {
    my ($row) = sql("SELECT count(*) FROM pg_stat_activity"
        . " WHERE wait_event_type = 'Lock'");
    return $row->[0];
}

# Starts one request in a child; returns the child and the file its
# answer goes to ("status elapsed ok|wrong detail").
sub request_in_background {
    my ($plan, $req) = @_;
    my $file = tempdir(CLEANUP => 1) . '/answer';
    my $pid = fork() // die "fork: $!\n";

    if ($pid == 0) {
        my $started = time;
        my ($res) = send_request({}, $req);
        my ($class, $detail) = classify($req, $res);

        open my $fh, '>', $file or POSIX::_exit(1);
        printf {$fh} "%d %.3f %s %s\n", $res->{status}, time - $started,
            $class, $detail;
        close $fh;
        POSIX::_exit(0);
    }
    return { pid => $pid, file => $file };
}

sub answer_of {
    my ($bg) = @_;
    waitpid $bg->{pid}, 0;
    open my $fh, '<', $bg->{file} or return { status => 0, class => '' };
    my ($status, $secs, $class, $detail) = split / /, <$fh> // '', 4;
    return { status => $status, secs => $secs, class => $class,
        detail => $detail // '' };
}

# SIGTERM while requests are in flight (held up by a lock): they finish
# with 2xx, then the master exits.  A new master takes over.
sub scenario_term {
    my ($plan, $form) = @_;
    my $tenant = $plan->{tenants}[0];
    my $slow = $plan->{workers} > 1 ? 2 : 1;
    # held for less than the statement timeout, and let go once the kill
    # is done, so a loaded machine cannot run out the lock first
    my $locker = lock_table("$tenant->{schema}.tasks", 4);
    my @bg = map {
        request_in_background($plan, request_for($tenant, 'list'))
    } 1 .. $slow;
    my $waiting = wait_until(sub { lock_waiters() >= $slow }, 10);
    my $stopped = stop_master(30);
    my @answers = map { answer_of($_) } @bg;
    my @bad = grep { $_->{status} != 200 || $_->{class} ne 'ok' } @answers;

    waitpid $locker, 0;
    start_master($plan, TENANTD_WORKERS => 1,
        TENANTD_STATEMENT_TIMEOUT => 1000);

    return ({}, { in_flight => $slow,
            seconds => join(' ', map { $_->{secs} } @answers) },
        check("$slow requests were in flight when SIGTERM came", $waiting),
        check('the master exited after SIGTERM', $stopped),
        check('the requests in flight were answered 200 with their data',
            !@bad, join('; ', map {"$_->{status} $_->{detail}"} @bad)),
    );
}

# A statement held up by a lock on a table past statement_timeout: 503
# or 504 problem+json, and the same (only) worker answers the next
# requests.
sub held_up {
    my ($plan, $table, $kind, $what) = @_;
    my $tenant = $plan->{tenants}[0];
    my $req = request_for($tenant, $kind);
    my @before = workers();

    # the worker's tenant cache has to have expired
    sleep 1;
    my $locker = lock_table($table, 2);
    my $started = time;
    my ($res) = send_request({}, $req);
    my $secs = time - $started;
    my $doc = eval { $json->decode($res->{content}) } // {};

    waitpid $locker, 0;
    my @next = map {
        my ($r) = send_request({}, $req);
        (classify($req, $r))[0];
    } 1 .. 5;
    my @after = workers();

    return ({ "${what}_status" => $res->{status},
            "${what}_seconds" => sprintf('%.2f', $secs) },
        check("$what held up: 503 or 504 problem+json",
            ($res->{status} =~ /^50[34]$/
                && ($res->{headers}{'content-type'} // '')
                =~ m{^application/problem\+json}
                && ($doc->{status} // 0) == $res->{status}),
            "$res->{status} after $secs s: $res->{content}"),
        check("$what held up: the problem says the database timed out",
            ($doc->{type} // '') =~ /timeout/, $doc->{type} // ''),
        check("$what held up: the same worker answers the next 5 requests",
            ("@before" eq "@after" && @before == 1
                && !grep { $_ ne 'ok' } @next),
            "workers @before -> @after; answers @next"),
    );
}

# Statements held up past their timeout, in a tenant's schema and on the
# control plane (the tenant's lookup).
sub scenario_timeout {
    my ($plan, $form) = @_;
    my ($tasks, @checks) = held_up($plan,
        "$plan->{tenants}[0]{schema}.tasks", 'list', 'tasks');
    my ($tenants, @more) = held_up($plan, 'public.tenants', 'tenant',
        'tenants');

    return ({}, { %$tasks, %$tenants }, @checks, @more);
}

# Workers recycled every 50 requests under load.
sub scenario_recycle {
    my ($plan, $form) = @_;
    my %seen;
    my $load;

    stop_master(30) or die "the master did not stop\n";
    start_master($plan, TENANTD_MAX_REQUESTS => 50);
    $seen{$_} = 1 for workers();
    $load = start_load($plan, $form->{clients});
    # for the time given, and until each worker has been replaced once
    my ($until, $bound) = (time + $form->{seconds}, time + 120);
    while (time < $bound
        && (time < $until || keys(%seen) < 2 * $plan->{workers})) {
        $seen{$_} = 1 for workers();
        sleep 0.1;
    }

    my $sum = stop_load($load, $plan);
    my $recycled = keys(%seen) - $plan->{workers};

    stop_master(30) or die "the master did not stop\n";
    start_master($plan);

    return ($sum, { recycled => $recycled },
        load_checks($sum),
        check('workers were recycled', $recycled > 0,
            "$recycled workers replaced"),
        check('no request failed while workers were recycled',
            $sum->{failed} == 0,
            join(' ', map {"$_:$sum->{statuses}{$_}"}
                sort keys %{ $sum->{statuses} })),
    );
}

# Runs pg_ctl on the stack's cluster.  Returns (exit code, output).
sub pg_ctl {
    my (@args) = @_;
    my $s = stack();
    my $pgdata = "$s->{state}/pg";
    my $bin = pg_bindir() ? pg_bindir() . '/pg_ctl' : 'pg_ctl';

    return capture([run_as_owner($pgdata), $bin, '-D', $pgdata, @args]);
}

# PostgreSQL stopped under load: prompt 503s while it is away, success
# again without restarting tenantd once it is back.
sub scenario_pg_down {
    my ($plan, $form) = @_;
    my $s = stack();
    my ($master) = tenantd_pids();
    my $load = start_load($plan, $form->{clients});
    my ($stop_rc, $stop_out, $start_rc, $start_out);
    my ($down_at, $starting_at, $up_at);

    sleep 1;
    ($stop_rc, $stop_out) = pg_ctl('stop', '-m', 'fast', '-w');
    $down_at = time;
    sleep $form->{pg_down};
    $starting_at = time;
    ($start_rc, $start_out) = pg_ctl('start', '-w', '-l',
        "$s->{state}/log/postgres.log");
    $up_at = time;

    # back: every client's last few answers succeed
    my $back = wait_until(sub {
        my @lines = map { `tail -n 3 $_` } glob "$load->{dir}/client-*";
        @lines && !grep { (split /\t/)[2] ne 'ok' } @lines }, 10);
    sleep 1;
    my $sum = stop_load($load, $plan);

    # a tenant known to a worker is trusted for a moment (the tenant
    # cache), and /api/tenant needs nothing else
    my $cached = ($plan->{master_env}{TENANTD_TENANT_CACHE_MS} // 500) / 1000;
    my @down = grep {
        $_->[0] > $down_at + $cached + 0.2 && $_->[0] < $starting_at
    } @{ $sum->{timeline} };
    my @after = grep { $_->[0] > $up_at } @{ $sum->{timeline} };
    my ($first_ok) = grep { $_->[1] eq 'ok' } @after;
    my $last_failed = (grep { $_->[1] ne 'ok' } @after)[-1];
    my $max_down = 0;

    for (@down) {
        $max_down = $_->[2] if $_->[2] > $max_down;
    }

    my ($after_master) = tenantd_pids();
    my %extra = (
        down_requests => scalar @down,
        down_failed => scalar(grep { $_->[1] eq 'failed' } @down),
        max_ms_while_down => sprintf('%.1f', $max_down),
        first_success_s => $first_ok
            ? sprintf('%.2f', $first_ok->[0] - $up_at) : undef,
        recovered_s => sprintf('%.2f',
            $last_failed ? $last_failed->[0] - $up_at : 0),
    );

    return ($sum, \%extra,
        check('pg_ctl stop and start', $stop_rc == 0 && $start_rc == 0,
            "$stop_out $start_out"),
        check('no answer was wrong', $sum->{wrong} == 0,
            join('; ', @{ $sum->{wrong_examples} })),
        check('requests while the database was away: 503 problem+json',
            (@down && !grep { $_->[1] ne 'failed' || $_->[3] != 503 }
                @down),
            join(' ', map {"$_->[3]:$_->[1]"} grep {defined} @down[0 .. 9])),
        check('no request hung while the database was away (5 s)',
            $max_down < 5000, "max $max_down ms"),
        check('requests succeed again within 10 s', $back && $first_ok,
            "first success after $extra{first_success_s} s"),
        check('tenantd was not restarted', ($after_master // 0) == $master,
            "master $master -> " . ($after_master // 'none')),
    );
}

# Runs every scenario; returns [{name, figures, checks}] in order.  The
# stack's own tenantd (its settings) is running again at the end.
sub run_scenarios {
    my (%opt) = @_;
    my $form = { %{ $FORMS{ $opt{short} ? 'short' : 'long' } } };
    my ($master) = tenantd_pids();
    my @report;

    $form->{seconds} = $opt{duration} if $opt{duration};
    die "no tenantd master in the stack's pid file\n" unless $master;

    my $plan = {
        master_env => proc_environ($master),
        master_ids => [(stat "/proc/$master")[4, 5]],
        workers => scalar workers(),
        tenants => [make_tenants(3)],
    };
    $plan->{baseline} = $plan->{previous} = checksums();

    my @scenarios = (
        ['SIGKILL workers under load', \&scenario_kill],
        ['nginx reload under load', \&scenario_reload],
        ['SIGHUP rolling restart under load', \&scenario_hup],
        ['SIGTERM with requests in flight', \&scenario_term],
        ['statement timeout', \&scenario_timeout],
        ['recycling every 50 requests under load', \&scenario_recycle],
        ['PostgreSQL stopped under load', \&scenario_pg_down],
    );

    for my $scenario (@scenarios) {
        my ($name, $code) = @$scenario;
        my $started = time;
        my ($sum, $extra, @checks) = $code->($plan, $form);

        $sum->{created} //= [];
        $sum->{unknown} //= [];
        push @checks, task_checks($plan, $sum) if $sum->{requests};
        push @checks, table_checks($plan, $sum);
        push @report, { name => $name, checks => \@checks,
            figures => { ($sum->{requests} ? figures($sum) : ()),
                %$extra, took_s => sprintf('%.1f', time - $started) } };
        $opt{progress}->($report[-1]) if $opt{progress};
    }

    return \@report;
}

1;
