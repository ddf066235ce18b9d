# The tenant API's authentication: signing in and the session cookie,
# refused credentials, /api/me, signing out, personal API tokens, the
# tenant boundary and the same-origin rule for cookie writes.  The
# sign-in rate limit has a file of its own, 69-rate-limit.t.

use strict;
use warnings;
use Test::More;
use Time::HiRes qw(sleep time);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $ts = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $max_age = 14 * 24 * 3600;

# Checks the documented members of a user object.
sub user_ok {
    my ($user, $email, $role, $name) = @_;

    ok(ref $user eq 'HASH', "$name: a user object") or return;
    ok(json_int($user->{id}) && $user->{id} > 0,
        "$name: the id is a positive JSON integer");
    is($user->{email}, $email, "$name: email");
    ok(exists $user->{name}, "$name: has a name");
    is($user->{role}, $role, "$name: role");
    ok(JSON::PP::is_bool($user->{disabled}) && !$user->{disabled},
        "$name: disabled is false");
    like($user->{created_at} // '', $ts, "$name: created_at");
    like($user->{updated_at} // '', $ts, "$name: updated_at");

    my @secret = grep { /pass|hash|token|secret/i } keys %$user;
    is("@secret", '', "$name: no password or token members");
}

# The tn_session cookies a response sets, parsed.
sub session_cookies {
    my ($res) = @_;
    return grep { $_->{name} eq 'tn_session' }
        map { parse_cookie($_) } set_cookies($res);
}

# A problem body without its request id, to compare two refusals.
sub without_request_id {
    my ($res) = @_;
    my %body = ref $res->{json} eq 'HASH' ? %{ $res->{json} } : ();

    delete $body{request_id};
    return \%body;
}

# The ids in the user's own token list (through a bearer token).
sub token_ids {
    my ($host, $bearer) = @_;
    my $res = api({ bearer => $bearer }, 'GET', $host, '/api/tokens');

    return undef unless $res->{status} == 200
        && ref $res->{json}{tokens} eq 'ARRAY';
    return join ',', sort { $a <=> $b }
        map { $_->{id} // 'none' } @{ $res->{json}{tokens} };
}

# The status of GET /api/me on a host with a credential.
sub me_status {
    my ($auth, $host) = @_;
    return api($auth, 'GET', $host, '/api/me')->{status};
}

my $alpha = new_tenant('auta');
my $beta = new_tenant('autb');
my $member = add_user($alpha, name => 'Member One', sign_in => 1);
my $quiet = add_user($alpha, name => 'Soon Disabled');

# 1. Signing in: 201, the user, the expiry and the cookie.

{
    my $started = time;
    my $res = sign_in($alpha->{host}, $alpha->{email}, $alpha->{password});
    my $body = is_json_response($res, 201, 'sign in');

    user_ok($body->{user}, $alpha->{email}, 'owner', 'sign in');
    like($body->{expires_at} // '', $ts, 'sign in: expires_at');

    my $expires = iso_epoch($body->{expires_at});
    ok(defined $expires && abs($expires - $started - $max_age) < 3600,
        'sign in: the session expires in 14 days')
        or diag("expires_at $body->{expires_at}");

    my @cookies = session_cookies($res);
    is(scalar @cookies, 1, 'sign in: one tn_session cookie')
        or diag(explain([ set_cookies($res) ]));

    my $cookie = $cookies[0] || { attrs => {}, value => '' };
    my %attrs = %{ $cookie->{attrs} };

    like($cookie->{value}, qr{^[A-Za-z0-9._~+/=-]{20,}\z},
        'sign in: the token is long and cookie-safe');
    is($attrs{path}, '/', 'cookie: Path=/');
    ok($attrs{httponly}, 'cookie: HttpOnly');
    is(lc($attrs{samesite} // ''), 'lax', 'cookie: SameSite=Lax');
    is($attrs{'max-age'}, $max_age, 'cookie: Max-Age of 14 days');
    ok(!exists $attrs{domain}, 'cookie: no Domain attribute');
    ok(!exists $attrs{secure}, 'cookie: no Secure over plain http');

    SKIP: {
        skip 'a request through plain nginx cannot say it came over https',
            1;
    }

    isnt($cookie->{value}, $alpha->{token},
        'two sign-ins of one user get different tokens');
    ok(length $alpha->{token}, 'the first sign-in set a token too');
}

# 2. Refused credentials: a wrong password, an unknown email and a
#    disabled user all get the same 401 and no session.

{
    my $res = api({ bearer => $alpha->{token} }, 'PATCH', $alpha->{host},
        "/api/users/$quiet->{id}", json => { disabled => JSON::PP::true });
    is($res->{status}, 200, 'the owner disables a user')
        or diag($res->{body});
}

my %refusals = (
    'wrong password' => [ $alpha->{email}, 'not the password' ],
    'unknown email'  => [ "nobody\@$alpha->{sub}.test", $alpha->{password} ],
    'disabled user'  => [ $quiet->{email}, $quiet->{password} ],
    'another tenant\'s owner' => [ $beta->{email}, $beta->{password} ],
);
my %refused;

for my $case (sort keys %refusals) {
    my $res = sign_in($alpha->{host}, @{ $refusals{$case} });

    is_problem_slug($res, 401, 'invalid-credentials', "sign in, $case");
    is(scalar(grep { length $_->{value} } session_cookies($res)), 0,
        "sign in, $case: no session cookie");
    $refused{$case} = $res;
}

for my $case (grep { $_ ne 'wrong password' } sort keys %refused) {
    is_deeply(without_request_id($refused{$case}),
        without_request_id($refused{'wrong password'}),
        "sign in, $case: the same body as a wrong password");
    is($refused{$case}{headers}{'content-type'},
        $refused{'wrong password'}{headers}{'content-type'},
        "sign in, $case: the same content type as a wrong password");
}

isnt($refused{'unknown email'}{json}{request_id} // '',
    $refused{'wrong password'}{json}{request_id} // '',
    'the refusals carry their own request ids');

is_problem_slug(session_post($alpha->{host},
        headers => [ 'Content-Type' => 'application/json' ],
        body => '{"email": "x@y.test", "password": '),
    400, 'invalid-json', 'sign in with malformed JSON');
is_problem(session_post($alpha->{host},
        headers => [ 'Content-Type' => 'text/plain' ],
        body => qq({"email":"$alpha->{email}",)
            . qq("password":"$alpha->{password}"})),
    415, 'sign in with a text/plain body');

# 3. /api/me with the cookie, with the session token as a bearer token,
#    and without or with a damaged credential.

{
    my $me = is_json_response(api({ cookie => $alpha->{token} }, 'GET',
        $alpha->{host}, '/api/me'), 200, '/api/me with the cookie');
    user_ok($me, $alpha->{email}, 'owner', '/api/me with the cookie');

    my $by_bearer = is_json_response(api({ bearer => $alpha->{token} }, 'GET',
        $alpha->{host}, '/api/me'), 200, '/api/me with the session as bearer');
    is($by_bearer->{id}, $me->{id}, '/api/me with bearer: the same user');

    my $as_member = is_json_response(api({ cookie => $member->{token} },
        'GET', $alpha->{host}, '/api/me'), 200, '/api/me as a member');
    user_ok($as_member, $member->{email}, 'member', '/api/me as a member');
}

my @bad_credentials = (
    [ 'no credential', [] ],
    [ 'an unknown cookie', [ Cookie => 'tn_session=' . ('A' x 43) ] ],
    [ 'a cookie with an extra byte',
        [ Cookie => "tn_session=$alpha->{token}x" ] ],
    [ 'a cookie cut short',
        [ Cookie => 'tn_session=' . substr($alpha->{token}, 0, -1) ] ],
    [ 'an empty cookie', [ Cookie => 'tn_session=' ] ],
    [ 'the token under another cookie name',
        [ Cookie => "session=$alpha->{token}" ] ],
    [ 'an unknown bearer token', [ Authorization => 'Bearer ' . ('B' x 43) ] ],
    [ 'an empty bearer token', [ Authorization => 'Bearer ' ] ],
    [ 'the token under the basic scheme',
        [ Authorization => "Basic $alpha->{token}" ] ],
    [ 'a bearer token with SQL', [ Authorization => "Bearer ' OR '1'='1" ] ],
);

for my $case (@bad_credentials) {
    my ($what, $headers) = @$case;

    is_problem_slug(http('GET', $alpha->{host}, '/api/me', headers => $headers),
        401, 'unauthenticated', "/api/me with $what");
}

# 4. Personal API tokens.

my $tokens_before = token_ids($alpha->{host}, $alpha->{token});
ok(defined $tokens_before, 'the owner lists their tokens');

my $ci = do {
    my $res = api({ cookie => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'ci pipeline' });
    my $t = is_json_response($res, 201, 'create a token');

    ok(json_int($t->{id}), 'create a token: the id is a JSON integer');
    is($t->{name}, 'ci pipeline', 'create a token: name');
    like($t->{token} // '', qr{^[A-Za-z0-9._~+/=-]{20,}\z},
        'create a token: the secret');
    isnt($t->{token} // '', $alpha->{token}, 'create a token: not the session');
    like($t->{created_at} // '', $ts, 'create a token: created_at');
    ok(exists $t->{expires_at} && !defined $t->{expires_at},
        'create a token: expires_at is null');
    ok(exists $t->{last_used_at} && !defined $t->{last_used_at},
        'create a token: last_used_at is null');
    $t;
};

{
    my $res = api({ bearer => $alpha->{token} }, 'GET', $alpha->{host},
        '/api/tokens');
    my $list = is_json_response($res, 200, 'list tokens');
    my @tokens = ref $list->{tokens} eq 'ARRAY' ? @{ $list->{tokens} } : ();
    my ($listed) = grep { ($_->{id} // -1) == ($ci->{id} // -2) } @tokens;

    ok($listed, 'list tokens: the new token is listed');
    is($listed->{name}, 'ci pipeline', 'list tokens: its name');
    is($listed->{created_at}, $ci->{created_at}, 'list tokens: created_at');
    ok(exists $listed->{expires_at}, 'list tokens: expires_at');
    ok(exists $listed->{last_used_at}, 'list tokens: last_used_at');
    is(scalar(grep { exists $_->{token} } @tokens), 0,
        'list tokens: no token member');
    unlike($res->{body}, qr/\Q$ci->{token}\E/,
        'list tokens: the secret appears nowhere') if length $ci->{token};
}

{
    my $me = is_json_response(api({ bearer => $ci->{token} }, 'GET',
        $alpha->{host}, '/api/me'), 200, '/api/me with the API token');
    is($me->{email}, $alpha->{email}, '/api/me with the API token: the owner');

    my $used = api({ bearer => $alpha->{token} }, 'GET', $alpha->{host},
        '/api/tokens');
    my ($t) = grep { ($_->{id} // -1) == $ci->{id} }
        @{ $used->{json}{tokens} || [] };
    ok(!defined $t->{last_used_at} || $t->{last_used_at} =~ $ts,
        'after use: last_used_at is null or a timestamp');
}

{
    my $later = iso_time(time + 3600);
    my $res = api({ bearer => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'hour', expires_at => $later });
    my $t = is_json_response($res, 201, 'create a token for an hour');

    ok(defined iso_epoch($t->{expires_at})
        && abs(iso_epoch($t->{expires_at}) - iso_epoch($later)) < 0.002,
        'a token for an hour: expires_at as sent')
        or diag("sent $later, got " . ($t->{expires_at} // 'null'));
    is(api({ bearer => $t->{token} }, 'GET', $alpha->{host},
        '/api/me')->{status}, 200, 'a token for an hour works');

    my $null = api({ bearer => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'forever', expires_at => undef });
    my $n = is_json_response($null, 201, 'create a token with null expiry');
    ok(exists $n->{expires_at} && !defined $n->{expires_at},
        'a token with null expiry: expires_at is null');
}

my @bad_tokens = (
    [ 'no name', { expires_at => undef }, 'name' ],
    [ 'an empty name', { name => '' }, 'name' ],
    [ 'a name of 101 characters', { name => 'n' x 101 }, 'name' ],
    [ 'a numeric name', { name => 42 }, 'name' ],
    [ 'a null name', { name => undef }, 'name' ],
    [ 'a name that is a list', { name => ['ci'] }, 'name' ],
    [ 'an expiry in the past',
        { name => 'past', expires_at => iso_time(time - 60) }, 'expires_at' ],
    [ 'an expiry of tomorrow', { name => 'word', expires_at => 'tomorrow' },
        'expires_at' ],
    [ 'an expiry on February 30th',
        { name => 'feb', expires_at => '2031-02-30T00:00:00.000Z' },
        'expires_at' ],
    [ 'a numeric expiry', { name => 'num', expires_at => 2000000000 },
        'expires_at' ],
);

for my $case (@bad_tokens) {
    my ($what, $body, $field) = @$case;
    my $before = token_ids($alpha->{host}, $alpha->{token});
    my $res = api({ bearer => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => $body);

    is_problem($res, 422, "token with $what");
    ok((grep { $_ eq $field } problem_fields($res)),
        "token with $what: errors name $field")
        or diag(explain($res->{json}));
    is(token_ids($alpha->{host}, $alpha->{token}), $before,
        "token with $what: no token was created");
}

{
    my $res = api({ bearer => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'n' x 100 });
    is($res->{status}, 201, 'a token name of 100 characters is accepted')
        or diag($res->{body});
    is($res->{json}{name}, 'n' x 100, 'the long name is kept');
}

{
    my $res = api({ bearer => $alpha->{token} }, 'DELETE', $alpha->{host},
        "/api/tokens/$ci->{id}");
    is($res->{status}, 204, 'delete the token') or diag($res->{body});

    is_problem_slug(api({ bearer => $ci->{token} }, 'GET', $alpha->{host},
        '/api/me'), 401, 'unauthenticated', 'the deleted token');
    unlike(token_ids($alpha->{host}, $alpha->{token}) // '', qr/\b$ci->{id}\b/,
        'the deleted token is no longer listed');
    is_problem_slug(api({ bearer => $alpha->{token} }, 'DELETE', $alpha->{host},
        "/api/tokens/$ci->{id}"), 404, 'not-found',
        'delete the token again');
    is_problem_slug(api({ bearer => $alpha->{token} }, 'DELETE', $alpha->{host},
        '/api/tokens/999999999'), 404, 'not-found', 'delete an unknown token');
}

{
    my $res = api({ cookie => $member->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'member token' });
    my $mt = is_json_response($res, 201, 'a member creates a token');

    unlike(token_ids($alpha->{host}, $alpha->{token}) // '', qr/\b$mt->{id}\b/,
        'the owner does not list the member\'s token') if $mt->{id};
    is_problem_slug(api({ bearer => $alpha->{token} }, 'DELETE', $alpha->{host},
        "/api/tokens/$mt->{id}"), 404, 'not-found',
        'the owner deletes the member\'s token');
    is(api({ bearer => $mt->{token} }, 'GET', $alpha->{host},
        '/api/me')->{json}{email}, $member->{email},
        'the member\'s token still works');
    is(token_ids($alpha->{host}, $member->{token}), $mt->{id},
        'the member\'s list holds that API token only, no session');
}

# An expiry two seconds ahead; three seconds later the token must be
# refused.  The bound is the contract, not a measurement.
{
    my $soon = iso_time(time + 2);
    my $res = api({ bearer => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'short-lived', expires_at => $soon });
    my $t = is_json_response($res, 201, 'create a token for two seconds');

    sleep 3;
    is_problem_slug(api({ bearer => $t->{token} // 'none' }, 'GET',
        $alpha->{host}, '/api/me'), 401, 'unauthenticated',
        'the token three seconds later');
}

# 5. Signing out ends that session at once.

{
    my $in = sign_in($alpha->{host}, $alpha->{email}, $alpha->{password});
    my $token = session_token($in);

    is($in->{status}, 201, 'sign in for signing out');
    is(api({ cookie => $token }, 'GET', $alpha->{host}, '/api/me')->{status},
        200, 'the session works before signing out');

    my $res = api({ cookie => $token }, 'DELETE', $alpha->{host},
        '/api/session');
    is($res->{status}, 204, 'sign out') or diag($res->{body});

    my ($cleared) = session_cookies($res);
    ok($cleared, 'sign out: sets tn_session')
        or diag(explain([ set_cookies($res) ]));
    is($cleared->{attrs}{'max-age'}, 0, 'sign out: Max-Age=0');
    is($cleared->{attrs}{path}, '/', 'sign out: Path=/');
    isnt($cleared->{value}, $token, 'sign out: the token is not set again');

    is_problem_slug(api({ cookie => $token }, 'GET', $alpha->{host}, '/api/me'),
        401, 'unauthenticated', 'the signed-out cookie');
    is_problem_slug(api({ bearer => $token }, 'GET', $alpha->{host}, '/api/me'),
        401, 'unauthenticated', 'the signed-out token as bearer');
    is(me_status({ cookie => $alpha->{token} }, $alpha->{host}), 200,
        'another session of the same user goes on');
}

# 6. A session or a token belongs to its tenant: on another tenant's
#    host it is not a credential at all.

{
    my $res = api({ bearer => $alpha->{token} }, 'POST', $alpha->{host},
        '/api/tokens', json => { name => 'tenant bound' });
    my $api_token = $res->{json}{token} // 'none';
    my $b_tokens = token_ids($beta->{host}, $beta->{token});

    is($res->{status}, 201, 'a token on tenant A');
    is(me_status({ bearer => $api_token }, $alpha->{host}), 200,
        'the token works on tenant A');

    my @cases = (
        [ 'A\'s session cookie on B', { cookie => $alpha->{token} }, $beta ],
        [ 'A\'s session as bearer on B', { bearer => $alpha->{token} }, $beta ],
        [ 'A\'s API token on B', { bearer => $api_token }, $beta ],
        [ 'B\'s session cookie on A', { cookie => $beta->{token} }, $alpha ],
        [ 'a member of A on B', { cookie => $member->{token} }, $beta ],
    );

    for my $case (@cases) {
        my ($what, $auth, $t) = @$case;

        is_problem_slug(api($auth, 'GET', $t->{host}, '/api/me'), 401,
            'unauthenticated', $what);
        is_problem_slug(api($auth, 'POST', $t->{host}, '/api/tokens',
            json => { name => 'crossing' }), 401, 'unauthenticated',
            "$what, a write");
    }

    is(token_ids($beta->{host}, $beta->{token}), $b_tokens,
        'no token was created on B');
}

# 7. Cookie writes must come from the page's own origin.  Bearer
#    requests and reads are not checked.

my $origin = "http://$alpha->{host}";
my $cookie = "tn_session=$alpha->{token}";

my @cross_site = (
    [ 'an Origin of another site', [ Origin => 'http://evil.example' ] ],
    [ 'neither Origin nor Sec-Fetch-Site', [] ],
    [ 'Sec-Fetch-Site: cross-site', [ 'Sec-Fetch-Site' => 'cross-site' ] ],
    [ 'Sec-Fetch-Site: same-site', [ 'Sec-Fetch-Site' => 'same-site' ] ],
    [ 'an Origin of another tenant', [ Origin => "http://$beta->{host}" ] ],
    [ 'an https Origin of the same host',
        [ Origin => "https://$alpha->{host}" ] ],
    [ 'an Origin without the port',
        [ Origin => "http://$alpha->{sub}." . stack()->{domain} ] ],
    [ 'an Origin with a longer host',
        [ Origin => "http://$alpha->{host}.evil.example" ] ],
    [ 'Origin: null', [ Origin => 'null' ] ],
    [ 'a Referer of the same origin only', [ Referer => "$origin/" ] ],
);

for my $case (@cross_site) {
    my ($what, $headers) = @$case;
    my $before = token_ids($alpha->{host}, $alpha->{token});
    my $res = http('POST', $alpha->{host}, '/api/tokens',
        headers => [ Cookie => $cookie, @$headers ],
        json => { name => 'csrf' });

    is_problem_slug($res, 403, 'cross-site-request', "cookie write, $what");
    is(token_ids($alpha->{host}, $alpha->{token}), $before,
        "cookie write, $what: nothing was created");
}

{
    my $me = api({ bearer => $alpha->{token} }, 'GET', $alpha->{host},
        '/api/me');
    my $res = http('PATCH', $alpha->{host}, '/api/me',
        headers => [ Cookie => $cookie, Origin => 'http://evil.example' ],
        json => { name => 'Renamed Cross Site' });

    is_problem_slug($res, 403, 'cross-site-request',
        'PATCH /api/me from another site');
    is(api({ bearer => $alpha->{token} }, 'GET', $alpha->{host},
        '/api/me')->{json}{name}, $me->{json}{name},
        'PATCH /api/me from another site: the name is unchanged');

    is_problem_slug(http('DELETE', $alpha->{host}, '/api/session',
        headers => [ Cookie => $cookie, 'Sec-Fetch-Site' => 'cross-site' ]),
        403, 'cross-site-request', 'sign out from another site');
    is(me_status({ cookie => $alpha->{token} }, $alpha->{host}), 200,
        'sign out from another site: the session goes on');

    is(http('GET', $alpha->{host}, '/api/me',
        headers => [ Cookie => $cookie, Origin => 'http://evil.example',
            'Sec-Fetch-Site' => 'cross-site' ])->{status},
        200, 'a cookie read from another site is answered');
}

my @same_origin = (
    [ 'the page\'s own Origin', [ Cookie => $cookie, Origin => $origin ] ],
    [ 'Sec-Fetch-Site: same-origin',
        [ Cookie => $cookie, 'Sec-Fetch-Site' => 'same-origin' ] ],
    [ 'Sec-Fetch-Site: none',
        [ Cookie => $cookie, 'Sec-Fetch-Site' => 'none' ] ],
    [ 'a bearer token without Origin',
        [ Authorization => "Bearer $alpha->{token}" ] ],
    [ 'a bearer token with another site\'s Origin',
        [ Authorization => "Bearer $alpha->{token}",
            Origin => 'http://evil.example' ] ],
);

for my $case (@same_origin) {
    my ($what, $headers) = @$case;
    my $res = http('POST', $alpha->{host}, '/api/tokens', headers => $headers,
        json => { name => "allowed: $what" });

    is($res->{status}, 201, "write with $what is allowed")
        or diag($res->{body});
    is($res->{json}{name}, "allowed: $what", "write with $what: created");
}

done_testing();
