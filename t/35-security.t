# Security basics: secrets compared in constant time, a new session at
# every sign-in (no fixation), cookie flags, security headers on every
# answer including nginx's own errors, HSTS behind a trusted TLS proxy,
# no admin API on tenant hosts, no SQL in error answers, an audit log
# that keeps refused requests, and no password in any log.

use strict;
use warnings;
use Test::More;
use POSIX ();

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $top = $s->{top};
my $t = new_tenant('sec');
my $auth = { bearer => $t->{token} };
my $main = main_host();

# 1. Secrets are compared in constant time or looked up by hash.

{
    my $router = slurp("$top/app/router.c");
    my ($admin) = $router =~ /\nadmin_authorized\(tn_req \*req\)\n\{(.*?)\n\}/s;

    ok(defined $admin, 'router.c has admin_authorized');
    like($admin // '', qr/crypto_generichash\(want.*crypto_generichash\(got/s,
        'the admin token and the given one are hashed to equal lengths');
    like($admin // '', qr/sodium_memcmp\(want, got/,
        'and compared with sodium_memcmp');
    unlike($admin // '', qr/\b(?:strcmp|memcmp|strncmp)\s*\(\s*(?:token|given)/,
        'never with strcmp or memcmp');

    my %uses;
    for my $file (glob "$top/app/*.c") {
        my $text = slurp($file);
        $uses{ $file =~ s{.*/}{}r }++ while $text =~ /\badmin_token\b/g;
    }
    is(join(' ', sort keys %uses), 'router.c settings.c tenantd.c',
        'the admin token is loaded (settings.c), required at start-up'
        . ' (tenantd.c) and compared in the router only');
    is($uses{'router.c'}, 1, 'once, in admin_authorized');

    my $auth_c = slurp("$top/app/auth.c");
    like($auth_c, qr/crypto_hash_sha256\(digest, \(const unsigned char \*\)token/,
        'session and API tokens are hashed (auth.c hash_token)');
    like($auth_c, qr/WHERE (?:\w+\.)?token_hash = \$1/,
        'and found by their hash in the database, not compared in C');
    like($auth_c, qr/crypto_pwhash_str_verify/,
        'passwords are checked with crypto_pwhash_str_verify');
    like(slurp("$top/db/tenant/0002_app.sql"),
        qr/token_hash text NOT NULL UNIQUE/, 'token_hash is a unique key');
}

# 2. Sessions: a new token at every sign-in; a token the client chose
#    is never adopted; the cookie's flags.

my $octet = 1 + $$ % 200;
my $next_addr = 0;

sub fresh_addr {
    $next_addr++;
    return "127.5.$octet.$next_addr";
}

{
    my $planted = 'tn_' . ('A' x 43);
    my $in = sign_in($t->{host}, $t->{email}, $t->{password},
        headers => [ Cookie => "tn_session=$planted" ],
        local_addr => fresh_addr());
    my $token = session_token($in);

    is($in->{status}, 201, 'sign in with a planted session cookie');
    ok(defined $token && $token ne $planted,
        'the answer sets a new token, not the planted one');
    is(api({ cookie => $planted }, 'GET', $t->{host}, '/api/me')->{status},
        401, 'the planted token is not a session');
    is(api({ cookie => $token }, 'GET', $t->{host}, '/api/me')->{status},
        200, 'the new one is');

    my $again = session_token(sign_in($t->{host}, $t->{email},
        $t->{password}, headers => [ Cookie => "tn_session=$token" ],
        local_addr => fresh_addr()));
    ok(defined $again && $again ne $token,
        'signing in again with a valid session makes yet another token');
    like($token, qr/^tn_[A-Za-z0-9_-]{43}\z/,
        'tokens carry 256 random bits (43 base64url characters)');

    my ($line) = grep { /^tn_session=/ } set_cookies($in);
    my $cookie = parse_cookie($line);
    ok($cookie->{attrs}{httponly}, 'the cookie is HttpOnly');
    like($cookie->{attrs}{samesite} // '', qr/^(?:Lax|Strict)\z/i,
        'the cookie is SameSite Lax or Strict');
    is($cookie->{attrs}{path}, '/', 'the cookie is for the whole host');
    ok(!exists $cookie->{attrs}{domain},
        'the cookie has no Domain: sibling tenants never receive it');
    ok(!exists $cookie->{attrs}{secure}, 'no Secure over plain HTTP');
    is($cookie->{attrs}{'max-age'}, 14 * 24 * 3600,
        'the cookie lasts 14 days');

    my $out = api({ cookie => $again }, 'DELETE', $t->{host}, '/api/session');
    is($out->{status}, 204, 'sign out');
    my $gone = parse_cookie((grep { /^tn_session=/ } set_cookies($out))[0]);
    is($gone->{value}, '', 'the cookie is emptied');
    is($gone->{attrs}{'max-age'}, 0, 'and expires at once');
    is(api({ cookie => $again }, 'GET', $t->{host}, '/api/me')->{status},
        401, 'the signed-out token is dead');

    my $spoof = sign_in($t->{host}, $t->{email}, $t->{password},
        headers => [ 'X-Forwarded-Proto' => 'https' ],
        local_addr => fresh_addr());
    my ($sl) = grep { /^tn_session=/ } set_cookies($spoof);
    ok(!exists parse_cookie($sl)->{attrs}{secure},
        'a client\'s own X-Forwarded-Proto does not make the cookie Secure');
    ok(!exists $spoof->{headers}{'strict-transport-security'},
        'nor send HSTS');
}

# 3. Security headers on every answer: the app's, nginx's own errors,
#    static files, redirects.

# Checks one response's security headers; HTML needs the full CSP.
sub headers_ok {
    my ($name, $res, %opt) = @_;
    my $h = $res->{headers};
    my $csp = $h->{'content-security-policy'} // '';

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    ok($res->{status} > 0, "$name: answered ($res->{status})")
        or diag($res->{error} // '');
    is($h->{'x-content-type-options'}, 'nosniff', "$name: nosniff, once");
    is($h->{'referrer-policy'}, 'same-origin', "$name: Referrer-Policy");
    like($csp, qr/frame-ancestors 'none'/, "$name: no framing");
    like($csp, qr/^default-src 'self'[^,]*\z/, "$name: one CSP, self only");
    unlike($h->{server} // '', qr/\d/, "$name: no server version");
    is($h->{'strict-transport-security'}, $opt{hsts}, "$name: HSTS "
        . ($opt{hsts} ? 'over HTTPS' : 'not over HTTP'));
    if ($res->{status} >= 400) {
        like($h->{'content-type'} // '', qr{^application/problem\+json},
            "$name: the error is problem+json");
    }
}

my $tenant_host = $t->{host};
my $raw = sub {
    my ($line, @headers) = @_;
    return "$line\r\n" . join('', map { "$_\r\n" } @headers)
        . "Connection: close\r\n\r\n";
};
my @requests = (
    [ 'app 200', $raw->('GET /api/tenant HTTP/1.1', "Host: $tenant_host") ],
    [ 'app 401', $raw->('GET /api/projects HTTP/1.1', "Host: $tenant_host") ],
    [ 'app 404', $raw->('GET /api/nothing HTTP/1.1', "Host: $tenant_host") ],
    [ 'app 405', $raw->('DELETE /api/tenant HTTP/1.1', "Host: $tenant_host") ],
    [ 'app 400', $raw->('POST /api/session HTTP/1.1', "Host: $tenant_host",
        'Content-Type: application/json', 'Content-Length: 1') . '{' ],
    [ 'app 404 on an unknown host', $raw->('GET /api/tenant HTTP/1.1',
        'Host: nobody.example.test') ],
    [ 'app 401 admin', $raw->('GET /admin/tenants HTTP/1.1', "Host: $main") ],
    [ 'app health', $raw->('GET /healthz HTTP/1.1', "Host: $main") ],
    [ 'static index', $raw->('GET / HTTP/1.1', "Host: $tenant_host") ],
    [ 'static HEAD', $raw->('HEAD / HTTP/1.1', "Host: $tenant_host") ],
    [ 'static js', $raw->('GET /app.js HTTP/1.1', "Host: $tenant_host") ],
    [ 'static css', $raw->('GET /style.css HTTP/1.1', "Host: $tenant_host") ],
    [ 'static svg', $raw->('GET /favicon.svg HTTP/1.1', "Host: $main") ],
    [ 'static 304', $raw->('GET /style.css HTTP/1.1', "Host: $tenant_host",
        'If-None-Match: *') ],
    [ 'static redirect', $raw->('GET /js HTTP/1.1', "Host: $tenant_host") ],
    [ 'a range', $raw->('GET /style.css HTTP/1.1', "Host: $tenant_host",
        'Range: bytes=999999-') ],
    [ 'landing page', $raw->('GET / HTTP/1.1', "Host: $main") ],
    [ 'admin page', $raw->('GET /admin/ HTTP/1.1', "Host: $main") ],
    [ 'nginx 404 static', $raw->('GET /nope.html HTTP/1.1',
        "Host: $tenant_host") ],
    [ 'nginx 404 main', $raw->('GET /nope HTTP/1.1', "Host: $main") ],
    [ 'nginx 405', $raw->('POST /index.html HTTP/1.1', "Host: $tenant_host",
        'Content-Length: 0') ],
    [ 'nginx 400 request line', "GARBAGE\r\n\r\n" ],
    [ 'nginx 400 empty host', $raw->('GET / HTTP/1.1', 'Host: ') ],
    [ 'nginx 414', $raw->('GET /' . ('a' x 10000) . ' HTTP/1.1',
        "Host: $tenant_host") ],
    [ 'nginx 494', $raw->('GET / HTTP/1.1', "Host: $tenant_host",
        'Cookie: x=' . ('a' x 9000)) ],
    [ 'nginx 413', $raw->('POST /api/projects HTTP/1.1',
        "Host: $tenant_host", 'Content-Type: application/json',
        'Content-Length: ' . (2 * 1024 * 1024 + 1)) ],
    [ 'nginx 501', $raw->('POST /api/projects HTTP/1.1',
        "Host: $tenant_host", 'Transfer-Encoding: gzip') ],
    [ 'nginx 505', $raw->('GET /api/tenant HTTP/2.0',
        "Host: $tenant_host") ],
    [ 'nginx 505 HTTP/3', $raw->('GET / HTTP/3.0', "Host: $main") ],
);

for my $r (@requests) {
    my ($name, $bytes) = @$r;
    headers_ok($name, raw_http($bytes, timeout => 10, complete => 1));
}

{
    my ($want) = grep { $_->[0] eq 'nginx 501' } @requests;
    my $res = raw_http($want->[1]);
    is_problem($res, 501, 'an unknown transfer coding');
    is(problem_slug($res), 'not-implemented', '501: slug');
    $res = raw_http((grep { $_->[0] eq 'nginx 505' } @requests)[0][1]);
    is_problem($res, 505, 'HTTP/2.0 in the request line');
    is(problem_slug($res), 'http-version-not-supported', '505: slug');
    $res = raw_http((grep { $_->[0] eq 'a range' } @requests)[0][1]);
    is($res->{status}, 200, 'a range past the end: the whole file');
}

# Sign-ins over the limit: 429 with the same headers.
{
    my $addr = fresh_addr();
    my $res;
    for (1 .. 30) {
        $res = http('POST', $tenant_host, '/api/session', json => {},
            local_addr => $addr);
        last if $res->{status} == 429;
    }
    is($res->{status}, 429, 'sign-ins over the limit get 429');
    headers_ok('nginx 429', $res);
}

# 4. HSTS and Secure cookies behind a trusted TLS proxy: a second nginx,
#    rendered with TENANTRY_TRUSTED_PROXIES, in front of the same tenantd.

{
    my $nginx = start_nginx(TENANTRY_TRUSTED_PROXIES => '127.0.0.1');
    my $port = $nginx->{port};

    my $ask = sub {
        my ($bytes) = @_;
        return Tenantry::Test::raw_exchange_to($port, $bytes, 10, undef, 1);
    };
    my $sub_host = "$t->{sub}.$s->{domain}:$port";
    my $up = wait_until(sub {
        $ask->($raw->('GET /healthz HTTP/1.1', "Host: $sub_host"))
            ->{status} == 200 }, 15);
    ok($up, 'the second nginx answers')
        or diag(slurp("$nginx->{dir}/log/nginx-error.log"));

    my $hsts = 'max-age=31536000';
    my @https = ('X-Forwarded-Proto: https', 'X-Forwarded-For: 127.0.0.9');
    for my $r ([ 'app 200', 'GET /api/tenant' ], [ 'app 401', 'GET /api/me' ],
        [ 'static', 'GET /' ], [ 'nginx 404', 'GET /nope.html' ])
    {
        my ($name, $line) = @$r;
        headers_ok("https $name", $ask->($raw->("$line HTTP/1.1",
            "Host: $sub_host", @https)), hsts => $hsts);
        headers_ok("http $name", $ask->($raw->("$line HTTP/1.1",
            "Host: $sub_host")));
    }
    headers_ok('https claimed by a client that is no proxy',
        Tenantry::Test::raw_exchange_to($port, $raw->('GET /api/tenant HTTP/1.1',
            "Host: $sub_host", @https), 10, fresh_addr(), 1));
    headers_ok('https nginx 413', $ask->($raw->('POST /api/me HTTP/1.1',
        "Host: $sub_host", 'Content-Length: ' . (2 * 1024 * 1024), @https)),
        hsts => $hsts);

    my $body = qq({"email":"$t->{email}","password":"$t->{password}"});
    my $in = $ask->($raw->('POST /api/session HTTP/1.1', "Host: $sub_host",
        'Content-Type: application/json',
        'Content-Length: ' . length($body), @https) . $body);
    is($in->{status}, 201, 'sign in through the TLS proxy');
    my ($line) = grep { /^tn_session=/ } @{ $in->{set_cookies} || [] };
    ok(parse_cookie($line)->{attrs}{secure}, 'the cookie is Secure');

    stop_nginx($nginx);
}

# 5. The admin API is on the main domain only.

{
    my $custom = "sec$$.example.test";
    is(http('POST', $main, "/admin/tenants/$t->{sub}/domains",
        bearer => $s->{token}, json => { domain => $custom })->{status},
        201, "the tenant gets the custom domain $custom");

    my @admin = ([ GET => '/admin/tenants' ], [ GET => '/admin/audit' ],
        [ GET => "/admin/tenants/$t->{sub}" ],
        [ POST => '/admin/register-user' ], [ POST => '/admin/create-schema' ],
        [ POST => "/admin/tenants/$t->{sub}/suspend" ],
        [ DELETE => "/admin/tenants/$t->{sub}" ],
        [ POST => '/admin/trigger-pipeline' ]);
    my @reached;
    for my $host ($tenant_host, "$custom:$s->{port}") {
        for my $r (@admin) {
            my $res = http($r->[0], $host, $r->[1], bearer => $s->{token},
                $r->[0] eq 'GET' ? () : (json => { subdomain => 'x' }));
            push @reached, "$r->[0] $host$r->[1]: $res->{status}"
                unless $res->{status} == 404
                && $res->{body} !~ /"tenants"|"entries"|"steps"/;
        }
    }
    is("@reached", '', 'every admin route is 404 on a tenant\'s and a'
        . ' custom host, with the admin token');
    my $me = http('GET', $tenant_host, '/api/tenant');
    is($me->{json}{status}, 'active', 'and the tenant was not suspended');
}

# 6. Database errors answer without SQL, names or messages.

{
    my ($rc, $schema) = psql("SELECT schema_name FROM public.tenants"
        . " WHERE subdomain = '$t->{sub}'", user => 'postgres');
    my ($rc2, $out) = psql(<<"SQL", user => 'postgres');
ALTER TABLE "$schema".projects ADD CONSTRAINT sec_marker_check
    CHECK (name <> 'sec-marker-name');
CREATE FUNCTION "$schema".sec_marker_fail() RETURNS trigger
    LANGUAGE plpgsql AS \$\$
BEGIN
    RAISE EXCEPTION 'sec-marker-message in %', TG_TABLE_NAME;
END \$\$;
CREATE TRIGGER sec_marker_fail BEFORE INSERT ON "$schema".tasks
    FOR EACH ROW WHEN (NEW.title = 'sec-marker') EXECUTE FUNCTION
    "$schema".sec_marker_fail();
SQL
    is($rc2, 0, 'a check constraint and a failing trigger are planted')
        or diag($out);

    my $leak = qr/sec.marker|constraint|violat|ERROR|SQLSTATE|INSERT|SELECT|
        \Q$schema\E|projects|tasks|trigger|plpgsql|line\s\d|\.c:\d/x;
    my $res = api($auth, 'POST', $tenant_host, '/api/projects',
        json => { name => 'sec-marker-name' });
    ok($res->{status} >= 400, "a check violation is refused ($res->{status})");
    is_problem($res, $res->{status}, 'a check violation');
    unlike($res->{body}, $leak, 'its answer names no SQL, table or rule');

    my $p = api($auth, 'POST', $tenant_host, '/api/projects',
        json => { name => 'Sec project' });
    $res = api($auth, 'POST', $tenant_host,
        "/api/projects/$p->{json}{id}/tasks", json => { title => 'sec-marker' });
    ok($res->{status} >= 400, "a raised exception is refused ($res->{status})");
    is_problem($res, $res->{status}, 'a raised exception');
    unlike($res->{body}, $leak, 'its answer carries no part of the message');

    psql(qq(ALTER TABLE "$schema".projects DROP CONSTRAINT sec_marker_check;
        DROP TRIGGER sec_marker_fail ON "$schema".tasks;
        DROP FUNCTION "$schema".sec_marker_fail();), user => 'postgres');

    # Eight users with one address at once: one is created, the rest are
    # refused without a word of SQL.
    my $email = "race$$\@sec.test";
    my @kids;
    for my $i (1 .. 8) {
        pipe(my $r, my $w) or die "pipe: $!";
        my $pid = fork() // die "fork: $!";
        if ($pid == 0) {
            close $r;
            my $res = api($auth, 'POST', $tenant_host, '/api/users',
                json => { email => $email, name => "Racer $i",
                password => 'race password 1' });
            print {$w} "$res->{status} $res->{body}";
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @kids, [ $pid, $r ];
    }
    my @answers;
    for my $kid (@kids) {
        my ($pid, $r) = @$kid;
        local $/;
        push @answers, scalar <$r> // '';
        waitpid $pid, 0;
    }
    my @created = grep { /^201 / } @answers;
    my @refused = grep { /^4\d\d / } @answers;
    is(scalar @created, 1, 'eight racing sign-ups: one user is created');
    is(scalar @refused, 7, 'the other seven get a 4xx')
        or diag(join "\n", @answers);
    is(join("\n", grep { /$leak|duplicate|unique|key/i } @refused), '',
        'none of them names SQL, a key or a constraint');
}

# 7. The audit log keeps a refused admin request whose path is not UTF-8.

{
    my $res = raw_http("POST /admin/tenants/%ff%fe/suspend HTTP/1.1\r\n"
        . "Host: $main\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    is_problem($res, 401, 'a refused admin request with bytes in its path');
    my $id = $res->{json}{request_id} // 'none';
    my $log = http('GET', $main, '/admin/audit?limit=100',
        bearer => $s->{token});
    my ($entry) = grep { ($_->{request_id} // '') eq $id }
        @{ $log->{json}{entries} || [] };

    ok($entry, 'the audit log has the refused request');
    is($entry->{status}, 401, 'with its status') if $entry;
    is($entry->{path}, '/admin/tenants/\\xff\\xfe/suspend',
        'and its path, the bytes escaped') if $entry;
    is($entry->{token}, 'none', 'and no token') if $entry;
}

# 8. No password, token or session secret of this file in any log.

{
    my $password = "never-logged-$$-" . int(rand 1e9);
    sign_in($tenant_host, $t->{email}, $password, local_addr => fresh_addr());
    sign_in($tenant_host, $password, $password, local_addr => fresh_addr());
    my @found;
    for my $log (glob "$s->{state}/log/*.log") {
        my $text = slurp($log);
        for my $secret ($password, $t->{password}, $s->{token}, $t->{token})
        {
            push @found, $log if index($text, $secret) >= 0;
        }
    }
    is("@found", '', 'no password, admin token or session token in the logs');
}

done_testing();
