# Quoting and SQL metacharacters in every path, query and body parameter:
# refused with a 4xx, or stored and read back verbatim, never a 5xx; both
# tenants' data intact afterwards.  And the static bundle never serves a
# file from outside nginx/html, however the path is spelled.

use strict;
use warnings;
use Test::More;
use File::Find;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $a = new_tenant('inja');
my $b = new_tenant('injb');
my $auth = { bearer => $a->{token} };
my $admin_auth = { bearer => $s->{token} };
my $main = main_host();

my @payloads = ("'", '"', ';', '--', '/*', '\\', '%', '_', '$1',
    q(' OR '1'='1), q{x'); DROP TABLE users; --}, q("; DROP TABLE projects;),
    q(*/ SELECT pg_sleep(0) /*), q(\'), q(%' AND '%'='), q($$ || $$),
    q(1' UNION SELECT password_hash FROM users --), "E'\\x41'");
my $all = join ' ', @payloads;

my ($rc, $schema_b) = psql("SELECT schema_name FROM public.tenants"
    . " WHERE subdomain = '$b->{sub}'", user => 'postgres');

# Every table of tenant b's schema, as one checksum per table.
sub state_of_b {
    my ($rc, $out) = psql(<<"SQL", user => 'postgres');
SELECT string_agg(tablename || '=' || md5(query_to_xml(format(
    'SELECT * FROM %I.%I ORDER BY 1', schemaname, tablename), true, false,
    '')::text), ' ' ORDER BY tablename)
FROM pg_tables WHERE schemaname = '$schema_b'
SQL
    return $rc == 0 ? $out : "psql failed: $out";
}

my $b_project = api({ bearer => $b->{token} }, 'POST', $b->{host},
    '/api/projects', json => { name => 'B keeps this' });
is($b_project->{status}, 201, 'tenant b has a project');
my $b_before = state_of_b();
like($b_before, qr/projects=/, 'tenant b\'s state is taken');

my $no_5xx = 0;
my @server_errors;

# Counts a response; a 5xx is listed at the end.
sub seen {
    my ($name, $res) = @_;
    $no_5xx++;
    push @server_errors, "$name: $res->{status} $res->{body}"
        if $res->{status} >= 500 || $res->{status} == 0;
    return $res;
}

# 1. Text fields: stored and read back verbatim.

my $project = api($auth, 'POST', $a->{host}, '/api/projects',
    json => { name => 'Injection' });
my $pid = $project->{json}{id};

for my $i (0 .. $#payloads) {
    my $p = $payloads[$i];
    my $res = seen("project $i", api($auth, 'POST', $a->{host},
        '/api/projects', json => { name => "P $p", description => $p }));
    is($res->{status}, 201, "project named P $p: created");
    my $got = api($auth, 'GET', $a->{host}, "/api/projects/$res->{json}{id}");
    is($got->{json}{name}, "P $p", "project P $p: name read back verbatim");
    is($got->{json}{description}, $p,
        "project P $p: description read back verbatim");

    $res = seen("task $i", api($auth, 'POST', $a->{host},
        "/api/projects/$pid/tasks", json => { title => $p,
        description => "D $p" }));
    is($res->{status}, 201, "task titled $p: created");
    $got = api($auth, 'GET', $a->{host}, "/api/tasks/$res->{json}{id}");
    is($got->{json}{title}, $p, "task $p: title read back verbatim");
    is($got->{json}{description}, "D $p",
        "task $p: description read back verbatim");

    $res = seen("patch task $i", api($auth, 'PATCH', $a->{host},
        "/api/tasks/$res->{json}{id}", json => { title => "T $p" }));
    is($res->{json}{title}, "T $p", "task $p: patched title verbatim");

    $res = seen("token $i", api($auth, 'POST', $a->{host}, '/api/tokens',
        json => { name => $p }));
    is($res->{status}, 201, "token named $p: created");
}

{
    my $list = list_all($auth, $a->{host}, '/api/projects', 'projects');
    my %names = map { $_->{name} => 1 } @{ $list->{items} };

    is(scalar(grep { $names{"P $_"} } @payloads), scalar @payloads,
        'the project list holds every name verbatim');
    my $tokens = api($auth, 'GET', $a->{host}, '/api/tokens');
    my %tnames = map { $_->{name} => 1 } @{ $tokens->{json}{tokens} || [] };
    is(scalar(grep { $tnames{$_} } @payloads), scalar @payloads,
        'the token list holds every name verbatim');
}

# Users: names verbatim; e-mail addresses with quotes that are valid;
# a password of metacharacters signs in as it is.

my $octet = 1 + $$ % 200;
my $next_addr = 0;

sub fresh_addr {
    $next_addr++;
    return "127.4.$octet.$next_addr";
}

{
    my $email = "o'brien+%_\$1--$$\@inj.test";
    my $password = q(' OR '1'='1 --);
    my $res = seen('user', api($auth, 'POST', $a->{host}, '/api/users',
        json => { email => $email, name => $all, password => $password }));

    is($res->{status}, 201, 'a user with quotes in the address is created');
    is($res->{json}{email}, $email, 'the address is stored verbatim');
    is($res->{json}{name}, $all, 'the name is stored verbatim');

    my $in = sign_in($a->{host}, $email, $password,
        local_addr => fresh_addr());
    is($in->{status}, 201, 'the user signs in with the metacharacter password');
    $in = sign_in($a->{host}, $email, q(' OR '1'='1),
        local_addr => fresh_addr());
    is_problem($in, 401, 'a prefix of that password does not sign in');
    $in = sign_in($a->{host}, q(' OR '1'='1' --), q(' OR '1'='1),
        local_addr => fresh_addr());
    is_problem($in, 401, 'an address of metacharacters does not sign in');
    $in = sign_in($a->{host}, "%\@inj.test", $password,
        local_addr => fresh_addr());
    is_problem($in, 401, 'a LIKE pattern for an address does not sign in');

    my $uid = $res->{json}{id};
    for my $p (@payloads) {
        $res = seen('patch user', api($auth, 'PATCH', $a->{host},
            "/api/users/$uid", json => { name => "U $p" }));
        is($res->{json}{name}, "U $p", "user renamed U $p verbatim");
    }
    $res = seen('me', api($auth, 'PATCH', $a->{host}, '/api/me',
        json => { name => $all }));
    is($res->{json}{name}, $all, 'own name stored verbatim');
}

# Onboarding: a display name and owner of metacharacters, verbatim.

{
    my $sub = unique_sub('injc');
    my $res = seen('register', register($sub, name => $all,
        email => "o'neil\@$sub.test", password => $all));
    is($res->{status}, 201, 'a tenant named with metacharacters');
    my $t = http('GET', host_for($sub), '/api/tenant');
    is($t->{json}{name}, $all, 'its name is read back verbatim');
    my $in = sign_in(host_for($sub), "o'neil\@$sub.test", $all,
        local_addr => fresh_addr());
    is($in->{status}, 201, 'its owner signs in with the password verbatim');
}

# 2. Fields that only take a form: every payload is a 4xx.

my @refusing = (
    [ 'subdomain', sub { register(undef, body => { subdomain => $_[0],
        name => 'x', owner => { email => 'x@x.test',
        password => 'password 1' } }) } ],
    [ 'create-schema', sub { http('POST', $main, '/admin/create-schema',
        bearer => $s->{token}, json => { subdomain => $_[0] }) } ],
    [ 'domain', sub { http('POST', $main, "/admin/tenants/$a->{sub}/domains",
        bearer => $s->{token}, json => { domain => "x$_[0].example" }) } ],
    [ 'user email', sub { api($auth, 'POST', $a->{host}, '/api/users',
        json => { email => $_[0], name => 'x', password => 'password 1' }) } ],
    [ 'task status', sub { api($auth, 'POST', $a->{host},
        "/api/projects/$pid/tasks", json => { title => 'x',
        status => $_[0] }) } ],
    [ 'task due_date', sub { api($auth, 'POST', $a->{host},
        "/api/projects/$pid/tasks", json => { title => 'x',
        due_date => "2026-01-01$_[0]" }) } ],
    [ 'user role', sub { api($auth, 'POST', $a->{host}, '/api/users',
        json => { email => "r$$\@inj.test", name => 'x',
        password => 'password 1', role => "owner$_[0]" }) } ],
    [ 'token expires_at', sub { api($auth, 'POST', $a->{host},
        '/api/tokens', json => { name => 'x',
        expires_at => "2030-01-01$_[0]" }) } ],
);

for my $field (@refusing) {
    my ($name, $send) = @$field;
    my @wrong;

    for my $p (@payloads) {
        my $res = seen($name, $send->($p));
        push @wrong, "'$p': $res->{status}"
            unless $res->{status} >= 400 && $res->{status} < 500
            && ($res->{headers}{'content-type'} // '')
                =~ m{^application/problem\+json};
    }
    is("@wrong", '', "$name: every payload is a 4xx problem");
}

# 3. Query parameters.

my @queries = (
    [ 'projects limit', "/api/projects?limit=%s" ],
    [ 'projects cursor', "/api/projects?cursor=%s" ],
    [ 'tasks status', "/api/projects/$pid/tasks?status=%s" ],
    [ 'tasks assignee', "/api/projects/$pid/tasks?assignee=%s" ],
    [ 'tasks limit', "/api/projects/$pid/tasks?limit=%s" ],
    [ 'tasks cursor', "/api/projects/$pid/tasks?cursor=%s" ],
);

for my $q (@queries) {
    my ($name, $format) = @$q;
    my @wrong;

    for my $p (@payloads) {
        my $path = sprintf $format, uri_escape($p);
        my $res = seen($name, api($auth, 'GET', $a->{host}, $path));
        push @wrong, "'$p': $res->{status}"
            unless $res->{status} == 422 || $res->{status} == 400;
    }
    is("@wrong", '', "$name: every payload is refused");
}

{
    my @wrong;
    for my $p (@payloads) {
        for my $path ('/admin/audit?limit=%s', '/admin/audit?cursor=%s',
            "/admin/tenants/$a->{sub}?purge=%s")
        {
            my $method = $path =~ /purge/ ? 'DELETE' : 'GET';
            my $res = seen('admin query', api($admin_auth, $method, $main,
                sprintf($path, uri_escape($p))));
            push @wrong, "$method $path '$p': $res->{status}"
                unless $res->{status} == 422 || $res->{status} == 400;
        }
        my $res = seen('unknown query', api($auth, 'GET', $a->{host},
            '/api/projects?name=' . uri_escape($p)));
        push @wrong, "unknown parameter '$p': $res->{status}"
            unless $res->{status} == 200;
    }
    is("@wrong", '', 'admin queries refused, unknown parameters ignored');
}

# 4. Path parameters, raw and percent-encoded, and headers.

{
    my @paths = (
        [ 'GET', $a->{host}, '/api/projects/%s' ],
        [ 'PATCH', $a->{host}, '/api/projects/%s' ],
        [ 'DELETE', $a->{host}, '/api/projects/%s' ],
        [ 'GET', $a->{host}, '/api/projects/%s/tasks' ],
        [ 'POST', $a->{host}, '/api/projects/%s/tasks' ],
        [ 'GET', $a->{host}, '/api/tasks/%s' ],
        [ 'PATCH', $a->{host}, '/api/tasks/%s' ],
        [ 'DELETE', $a->{host}, '/api/tasks/%s' ],
        [ 'DELETE', $a->{host}, '/api/tokens/%s' ],
        [ 'PATCH', $a->{host}, '/api/users/%s' ],
        [ 'DELETE', $a->{host}, '/api/users/%s' ],
        [ 'GET', $main, '/admin/tenants/%s' ],
        [ 'DELETE', $main, '/admin/tenants/%s' ],
        [ 'POST', $main, '/admin/tenants/%s/suspend' ],
        [ 'POST', $main, '/admin/tenants/%s/retry' ],
        [ 'GET', $main, '/admin/tenants/%s/domains' ],
        [ 'DELETE', $main, "/admin/tenants/$a->{sub}/domains/%s" ],
    );
    my @wrong;

    for my $p (@payloads, "1'", '1 OR 1=1', '1;', '1--', "$a->{sub}'",
        "$a->{sub}--")
    {
        for my $path (@paths) {
            my ($method, $host, $format) = @$path;
            my $on_main = $host eq $main;
            my $res = seen('path', api($on_main ? $admin_auth : $auth,
                $method, $host, sprintf($format, uri_escape($p)),
                $method =~ /^(?:POST|PATCH)$/
                    ? (json => { name => 'x', title => 'x' }) : ()));

            push @wrong, "$method $format '$p': $res->{status}"
                unless $res->{status} >= 400 && $res->{status} < 500;
        }
    }
    is("@wrong", '', 'every payload in every path parameter is a 4xx');

    for my $p (@payloads) {
        my $res = seen('if-match', api($auth, 'PATCH', $a->{host},
            "/api/projects/$pid", json => { name => 'Injection' },
            headers => [ 'If-Match' => $p ]));
        push @wrong, "If-Match '$p': $res->{status}"
            unless $res->{status} == 412 || $res->{status} == 200;
        $res = seen('bearer', http('GET', $a->{host}, '/api/projects',
            bearer => $p));
        push @wrong, "Bearer '$p': $res->{status}"
            unless $res->{status} == 401;
        $res = seen('cookie', http('GET', $a->{host}, '/api/projects',
            headers => [ Cookie => "tn_session=$p" ]));
        push @wrong, "cookie '$p': $res->{status}"
            unless $res->{status} == 401;
        $res = seen('admin bearer', http('GET', $main, '/admin/tenants',
            bearer => $p));
        push @wrong, "admin Bearer '$p': $res->{status}"
            unless $res->{status} == 401;
    }
    is("@wrong", '', 'If-Match, tokens and cookies of metacharacters');
}

is(join("\n", @server_errors), '', "no 5xx in $no_5xx requests");

# 5. Both tenants intact.

{
    my $t = is_json_response(http('GET', $a->{host}, '/api/tenant'), 200,
        'tenant a still answers');
    is($t->{status}, 'active', 'tenant a is still active');
    my $me = api($auth, 'GET', $a->{host}, '/api/me');
    is($me->{json}{email}, $a->{email}, 'tenant a\'s owner is still there');
    my $p = api($auth, 'GET', $a->{host}, "/api/projects/$pid");
    is($p->{json}{name}, 'Injection', 'tenant a\'s project is unchanged');
    is(state_of_b(), $b_before, 'tenant b\'s schema is exactly as before');
    my $bp = api({ bearer => $b->{token} }, 'GET', $b->{host},
        "/api/projects/$b_project->{json}{id}");
    is($bp->{json}{name}, 'B keeps this', 'tenant b\'s project is there');
}

# 6. The static bundle: never a file from outside nginx/html.

my $html = "$s->{top}/nginx/html";
my %bundle;
find({ no_chdir => 1, wanted => sub {
    return unless -f $_;
    open my $fh, '<', $_ or return;
    local $/;
    $bundle{ scalar <$fh> } = $_;
} }, $html);
ok(keys %bundle > 5, 'the bundle\'s files are read: ' . keys %bundle);

{
    my @links;
    find({ no_chdir => 1, wanted => sub { push @links, $_ if -l $_ } },
        $html);
    is("@links", '', 'the bundle holds no symbolic links');
}

my @outside = ('/../render', '/../tenantry.conf.in', '/../../README.md',
    '/%2e%2e/render', '/%2E%2E/tenantry.conf.in', '/..%2frender',
    '/..%2f..%2fREADME.md', '/%2e%2e%2f%2e%2e%2fREADME.md',
    '/lib/../../render', '/lib/..%2f..%2frender', '/lib/%2e%2e/%2e%2e/render',
    '/site/../../render', '/js/..%5c..%5crender', '/.%2e/render',
    '/lib/..;/..;/render', '//etc/passwd', '/../../../../../../etc/passwd',
    '/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd', '/etc/passwd',
    '/.git/config', '/.git/HEAD', '/../.git', '/../../.git/config',
    '/index.html~', '/index.html.bak', '/app.js.orig', '/.app.js.swp',
    '/app.js%00.html', '/.htaccess', '/.env', '/nginx.conf',
    '/proc/self/environ', '/..%00/render', '/%c0%ae%c0%ae/render',
    '/lib/%252e%252e/%252e%252e/render', '/lib/api.js/../../render',
    "/$html/index.html", '/' . ('../' x 20) . 'etc/passwd');

my %readme_like = map {
    my $f = "$s->{top}/$_";
    open my $fh, '<', $f or ();
    local $/;
    $fh ? (substr(scalar <$fh>, 0, 200) => $_) : ();
} qw(nginx/render nginx/tenantry.conf.in README.md);

for my $host (host_for($a->{sub}), $main) {
    my @leaks;

    for my $path (@outside) {
        my $res = seen('static', raw_http("GET $path HTTP/1.1\r\n"
            . "Host: $host\r\nConnection: close\r\n\r\n"));
        my $body = $res->{body} // '';

        push @leaks, "$path: a 200 that is no bundle file"
            if $res->{status} == 200 && !exists $bundle{$body};
        push @leaks, "$path: $res->{status}"
            unless $res->{status} == 200 || ($res->{status} >= 400
            && $res->{status} < 500);
        push @leaks, "$path: holds /etc/passwd"
            if $body =~ /root:.*:0:0:/;
        for my $start (keys %readme_like) {
            push @leaks, "$path: holds $readme_like{$start}"
                if index($body, $start) >= 0;
        }
    }
    is("@leaks", '', "$host: no file from outside the bundle in "
        . scalar(@outside) . ' paths');
}

is(join("\n", @server_errors), '', 'and no 5xx from the static paths');

done_testing();
