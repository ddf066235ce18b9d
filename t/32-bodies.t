# Hostile request bodies on every write endpoint: broken framing, sizes,
# JSON that is invalid, ambiguous or of the wrong shape, and the wrong
# content type.  Each is a 4xx problem, and neither the tenant's schema nor
# the control plane changes.

use strict;
use warnings;
use Test::More;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SHUT_WR);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $t = new_tenant('body');
my $auth = { bearer => $t->{token} };
my $main = main_host();

my $project = api($auth, 'POST', $t->{host}, '/api/projects',
    json => { name => 'Body project' });
is($project->{status}, 201, 'a project to change');
my $task = api($auth, 'POST', $t->{host},
    "/api/projects/$project->{json}{id}/tasks", json => { title => 'Task' });
is($task->{status}, 201, 'a task to change');
my $member = add_user($t, name => 'Body Member');

my ($rc, $schema) = psql("SELECT schema_name FROM public.tenants"
    . " WHERE subdomain = '$t->{sub}'", user => 'postgres');
like($schema, qr/^\w+$/, "the tenant's schema is $schema");

# One checksum per table of the tenant's schema and the control plane
# (but its audit log, which records refused admin requests by design).
sub snapshot {
    my ($rc, $out) = psql(<<"SQL", user => 'postgres');
SELECT string_agg(schemaname || '.' || tablename || '='
    || md5(query_to_xml(format('SELECT * FROM %I.%I ORDER BY 1',
        schemaname, tablename), true, false, '')::text), ' '
    ORDER BY schemaname, tablename)
FROM pg_tables
WHERE (schemaname = 'public' AND tablename <> 'admin_audit')
    OR schemaname = '$schema'
SQL
    return $rc == 0 ? $out : "psql failed: $out";
}

my @admin = (Authorization => "Bearer $s->{token}");
my @user = (Authorization => "Bearer $t->{token}");
my @endpoints = (
    [ 'register-user', 'POST', $main, '/admin/register-user', \@admin ],
    [ 'create-schema', 'POST', $main, '/admin/create-schema', \@admin ],
    [ 'domains', 'POST', $main, "/admin/tenants/$t->{sub}/domains",
        \@admin ],
    [ 'session', 'POST', $t->{host}, '/api/session', [] ],
    [ 'tokens', 'POST', $t->{host}, '/api/tokens', \@user ],
    [ 'users', 'POST', $t->{host}, '/api/users', \@user ],
    [ 'user', 'PATCH', $t->{host}, "/api/users/$member->{id}", \@user ],
    [ 'me', 'PATCH', $t->{host}, '/api/me', \@user ],
    [ 'projects', 'POST', $t->{host}, '/api/projects', \@user ],
    [ 'project', 'PATCH', $t->{host}, "/api/projects/$project->{json}{id}",
        \@user ],
    [ 'tasks', 'POST', $t->{host},
        "/api/projects/$project->{json}{id}/tasks", \@user ],
    [ 'task', 'PATCH', $t->{host}, "/api/tasks/$task->{json}{id}", \@user ],
);

# Every field any of these endpoints reads, each with the same value.
my @fields = qw(name email password subdomain title domain owner status
    position assignee_id due_date role disabled description expires_at
    primary current_password pipeline ref);

sub every_field {
    my ($value) = @_;
    return '{' . join(',', map { qq("$_":$value) } @fields) . '}';
}

my $big = 1024 * 1024 + 1;
my $deep = '{"name":' . ('[' x 5000) . (']' x 5000) . '}';
my $just_too_deep = '{"name":' . ('{"a":' x 16) . '1' . ('}' x 16) . '}';

# name, body, expected statuses, options: type (Content-Type, undef for
# none), frame (length, chunked, short, announce, raw headers).
my @bodies = (
    [ 'invalid JSON', '{"name":', [400] ],
    [ 'a form instead of JSON', 'name=x&email=y', [400] ],
    [ 'two documents', '{} {}', [400] ],
    [ 'a trailing comma', '{"name":"x",}', [400] ],
    [ 'single quotes', q({'name':'x'}), [400] ],
    [ 'a comment', '{"name":"x" /* c */}', [400] ],
    [ 'an array', '[]', [422] ],
    [ 'a string', '"x"', [422] ],
    [ 'null', 'null', [422] ],
    [ 'wrong types: arrays', every_field('[]'), [422] ],
    [ 'wrong types: objects', every_field('{}'), [422] ],
    [ 'wrong types: numbers', every_field('1.5'), [422] ],
    [ 'wrong types: booleans', every_field('true'), [422] ],
    [ 'huge numbers: 1e400', every_field('1e400'), [ 400, 422 ] ],
    [ 'huge numbers: 2^64', every_field('18446744073709551616'),
        [ 400, 422 ] ],
    [ 'huge numbers: -2^63-1', every_field('-9223372036854775809'),
        [ 400, 422 ] ],
    [ 'huge numbers: -0', every_field('-0'), [422] ],
    [ 'huge numbers: 1e-400', every_field('1e-400'), [ 400, 422 ] ],
    [ 'deep nesting: 5000', $deep, [400] ],
    [ 'deep nesting: 17', $just_too_deep, [400] ],
    [ 'a NUL byte', qq({"name":"a\0b","email":"a\0b"}), [400] ],
    [ 'a NUL escape in a name', '{"na\u0000me":"x"}', [400] ],
    [ 'NUL escapes in values', every_field('"a\u0000b"'), [422] ],
    [ 'invalid UTF-8', every_field(qq("a\xffb")), [400] ],
    [ 'overlong UTF-8', every_field(qq("a\xc0\xafb")), [400] ],
    [ 'a raw surrogate', every_field(qq("a\xed\xa0\x80b")), [400] ],
    [ 'a lone high surrogate escape', every_field('"a\ud800b"'), [400] ],
    [ 'a lone low surrogate escape', every_field('"a\udc00b"'), [400] ],
    [ 'a reversed surrogate pair', every_field('"\udc00\ud800"'), [400] ],
    [ 'duplicate names', '{"name":"Dup one","name":"Dup two",'
        . '"title":"Dup","title":"Dup","email":"d@d.test",'
        . '"email":"e@e.test"}', [400] ],
    [ 'duplicate names by escape', '{"name":"Dup","n\u0061me":"Dup two"}',
        [400] ],
    [ 'duplicate names nested', '{"owner":{"email":"a@b.test",'
        . '"email":"c@d.test"},"x":{"y":1,"y":2}}', [400] ],
    [ 'an empty body', '', [400] ],
    [ 'only spaces', "  \r\n ", [400] ],
    [ 'text/plain', '{"name":"Plain"}', [415], type => 'text/plain' ],
    [ 'no content type', '{"name":"None"}', [415], type => undef ],
    [ 'a form', 'name=Form', [415],
        type => 'application/x-www-form-urlencoded' ],
    [ 'multipart', "--x\r\n\r\n{}\r\n--x--\r\n", [415],
        type => 'multipart/form-data; boundary=x' ],
    [ 'application/jsonp', '{"name":"P"}', [415],
        type => 'application/jsonp' ],
    [ 'text/json', '{"name":"T"}', [415], type => 'text/json' ],
    [ 'a body over 1 MiB', '{"name":"' . ('x' x $big) . '"}', [413] ],
    [ 'a length over 1 MiB announced', '{}', [413],
        frame => 'announce' ],
    [ 'a chunked body over 1 MiB', '{"name":"' . ('x' x $big) . '"}',
        [413], frame => 'chunked' ],
    [ 'a chunked body of invalid JSON', '{"name":', [400],
        frame => 'chunked' ],
    [ 'a chunked body of wrong types', every_field('[]'), [422],
        frame => 'chunked' ],
    [ 'a broken chunk size', "zz\r\n{}\r\n0\r\n\r\n", [400],
        frame => 'raw', headers => "Transfer-Encoding: chunked\r\n" ],
    [ 'a Content-Length shorter than the body', '{"name":"Short"}', [400],
        frame => 'short' ],
    [ 'Content-Length and chunked', "2\r\n{}\r\n0\r\n\r\n", [400],
        frame => 'raw', headers => "Content-Length: 2\r\n"
        . "Transfer-Encoding: chunked\r\n" ],
    [ 'two Content-Lengths', '{}', [400], frame => 'raw',
        headers => "Content-Length: 2\r\nContent-Length: 2\r\n" ],
    [ 'a negative Content-Length', '{}', [400], frame => 'raw',
        headers => "Content-Length: -1\r\n" ],
    [ 'a Content-Length that is no number', '{}', [400], frame => 'raw',
        headers => "Content-Length: 2x\r\n" ],
);

# The raw request for one endpoint and one body.
sub request_for {
    my ($endpoint, $case) = @_;
    my ($ename, $method, $host, $path, $headers) = @$endpoint;
    my ($bname, $body, $statuses, %opt) = @$case;
    my $type = exists $opt{type} ? $opt{type} : 'application/json';
    my $frame = $opt{frame} // 'length';
    my $req = "$method $path HTTP/1.1\r\nHost: $host\r\n";
    my @h = @$headers;

    while (my ($name, $value) = splice @h, 0, 2) {
        $req .= "$name: $value\r\n";
    }
    $req .= "Content-Type: $type\r\n" if defined $type;
    $req .= "Connection: close\r\n";

    if ($frame eq 'chunked') {
        my $chunks = '';
        for (my $i = 0; $i < length $body; $i += 65536) {
            my $piece = substr $body, $i, 65536;
            $chunks .= sprintf("%x\r\n", length $piece) . "$piece\r\n";
        }
        return $req . "Transfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n";
    }
    return $req . $opt{headers} . "\r\n" . $body if $frame eq 'raw';
    return $req . 'Content-Length: ' . (2 * 1024 * 1024) . "\r\n\r\n$body"
        if $frame eq 'announce';
    return $req . 'Content-Length: ' . int(length($body) / 2) . "\r\n\r\n"
        . $body if $frame eq 'short';
    return $req . 'Content-Length: ' . length($body) . "\r\n\r\n$body";
}

# Sign-ins are limited per client address: each request to the session
# endpoint comes from a loopback address of its own.
my $octet = 1 + $$ % 200;
my $next_addr = 0;

sub source_for {
    my ($endpoint) = @_;
    return undef unless $endpoint->[0] eq 'session';
    $next_addr++;
    return "127.3.$octet." . (1 + $next_addr % 250);
}

my $before = snapshot();
like($before, qr/\Q$schema\E\.projects=/, 'the snapshot covers the tenant');
like($before, qr/public\.tenants=/, 'and the control plane');

my $cases = 0;
for my $endpoint (@endpoints) {
    for my $case (@bodies) {
        my $name = "$endpoint->[0]: $case->[0]";
        my $res = raw_http(request_for($endpoint, $case),
            local_addr => source_for($endpoint), timeout => 20,
            complete => 1);
        my $want = grep({ $_ == $res->{status} } @{ $case->[2] })
            ? $res->{status} : $case->[2][0];

        is_problem($res, $want, $name);
        $cases++;
    }
}
note("$cases endpoint and body cases");

is(snapshot(), $before, 'after every refused body nothing has changed');

# A Content-Length longer than the body: nginx waits for the rest, never
# a worker.  Twenty such connections stay open while other requests are
# served; closed, each ends at once and nothing has changed.

{
    my @stuck;

    for my $i (1 .. 20) {
        my $endpoint = $endpoints[ $i % @endpoints ];
        my ($ename, $method, $host, $path, $headers) = @$endpoint;
        my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
            PeerPort => $s->{port}, Proto => 'tcp', Timeout => 5,
            LocalAddr => source_for($endpoint) // '127.0.0.1');
        my @h = @$headers;
        my $req = "$method $path HTTP/1.1\r\nHost: $host\r\n"
            . "Content-Type: application/json\r\nContent-Length: 100\r\n";

        while (my ($name, $value) = splice @h, 0, 2) {
            $req .= "$name: $value\r\n";
        }
        next unless $sock;
        syswrite $sock, "$req\r\n" . '{"name":"Longer"';
        push @stuck, $sock;
    }
    is(scalar @stuck, 20, '20 requests wait for the rest of their bodies');

    my @failed;
    for (1 .. 12) {
        my $res = api($auth, 'GET', $t->{host}, '/api/projects',
            timeout => 10);
        push @failed, "$res->{status} " . ($res->{error} // '')
            unless $res->{status} == 200;
    }
    is(scalar @failed, 0, 'meanwhile 12 requests are served')
        or diag(join "\n", @failed);

    my @hung;
    for my $sock (@stuck) {
        shutdown $sock, SHUT_WR;
        my $sel = IO::Select->new($sock);
        my $raw = '';
        my $eof = 0;
        my $deadline = time + 15;

        while (time < $deadline && $sel->can_read($deadline - time)) {
            my $n = sysread $sock, $raw, 4096, length $raw;
            if (!$n) {
                $eof = 1;
                last;
            }
        }
        close $sock;
        push @hung, substr($raw, 0, 80) unless $eof;
        push @hung, "answered: $1" if $raw =~ m{^HTTP/1\.1 ([^4]\d\d)};
    }
    is(scalar @hung, 0, 'each closed short body ends at once, with a 4xx'
        . ' or no answer') or diag(join "\n", @hung);
}

is(snapshot(), $before, 'the short bodies changed nothing');

# The same framings with a good body do reach the app (the checks above
# refused the bodies, not every request).

{
    my $res = raw_http(request_for($endpoints[8],
        [ 'chunked', '{"name":"Chunked project"}', [201],
        frame => 'chunked' ]));
    my $doc = is_json_response($res, 201, 'a good chunked body is served');

    is($doc->{name}, 'Chunked project', 'and stored as sent');
    $res = raw_http(request_for($endpoints[8],
        [ 'escaped pair', '{"name":"Pair \ud83d\ude00 \u00e9"}', [201] ]));
    $doc = is_json_response($res, 201, 'a surrogate pair escape is served');
    is($doc->{name}, "Pair \x{1f600} \x{e9}", 'and stored as the characters');
    isnt(snapshot(), $before, 'the good bodies changed the tenant');
}

done_testing();
