# A tenant's users: owners list, add, change and remove them, members may
# not; emails are unique whatever their case; the last active owner
# stays; a disabled or removed user is signed out at once; everyone
# changes their own name and password; and a rejected request changes
# nothing.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $ts = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $json = JSON::PP->new->canonical;

# Checks the documented members of a user object.
sub user_ok {
    my ($user, $expect, $name) = @_;

    ok(ref $user eq 'HASH', "$name: a user object") or return;
    ok(json_int($user->{id}) && $user->{id} > 0,
        "$name: the id is a positive JSON integer");

    for my $key (sort keys %$expect) {
        is($user->{$key}, $expect->{$key}, "$name: $key");
    }

    ok(JSON::PP::is_bool($user->{disabled}), "$name: disabled is a boolean");
    like($user->{created_at} // '', $ts, "$name: created_at");
    like($user->{updated_at} // '', $ts, "$name: updated_at");

    my @secret = grep { /pass|hash|token|secret/i } keys %$user;
    is("@secret", '', "$name: no password or token members");
}

# The tenant's users as the owner sees them, or undef.
sub users_of {
    my ($tenant) = @_;
    my $res = api({ bearer => $tenant->{token} }, 'GET', $tenant->{host},
        '/api/users');

    return undef unless $res->{status} == 200
        && ref $res->{json}{users} eq 'ARRAY';
    return $res->{json}{users};
}

# The owner's list as one string, to see that nothing changed.
sub snapshot {
    my ($tenant) = @_;
    my $users = users_of($tenant);

    return defined $users ? $json->encode($users) : 'no list';
}

# One user from the owner's list, or undef.
sub user_by_id {
    my ($tenant, $id) = @_;
    my ($user) = grep { ($_->{id} // -1) == $id } @{ users_of($tenant) || [] };

    return $user || {};
}

# Checks a 422 problem that lists the field, and that the tenant's
# users did not change.
sub rejected_ok {
    my ($res, $fields, $before, $tenant, $name) = @_;
    my %listed = map { $_ => 1 } problem_fields($res);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is_problem($res, 422, $name);
    for my $field (@$fields) {
        ok($listed{$field}, "$name: errors name $field")
            or diag(explain($res->{json}));
    }
    is(snapshot($tenant), $before, "$name: no user changed");
}

my $alpha = new_tenant('usra');
my $beta = new_tenant('usrb');
my $owner = { bearer => $alpha->{token} };
my $host = $alpha->{host};

# 1. The list starts with the owner.

{
    my $res = api($owner, 'GET', $host, '/api/users');
    my $list = is_json_response($res, 200, 'list users');
    my @users = ref $list->{users} eq 'ARRAY' ? @{ $list->{users} } : ();

    is(scalar @users, 1, 'list users: one user');
    user_ok($users[0], { email => $alpha->{email}, role => 'owner' },
        'list users: the owner');
    ok(!$users[0]{disabled}, 'list users: the owner is not disabled');
}

# 2. Adding users.

my ($member, $second);

{
    my $res = api({ cookie => $alpha->{token} }, 'POST', $host,
        '/api/users', json => { email => "member\@$alpha->{sub}.test",
            name => 'Mia Member', password => 'member password' });
    $member = is_json_response($res, 201, 'add a member');
    user_ok($member, { email => "member\@$alpha->{sub}.test",
        name => 'Mia Member', role => 'member' }, 'add a member');
    ok(!$member->{disabled}, 'add a member: not disabled');
    unlike($res->{body}, qr/member password|argon2/,
        'add a member: no password in the answer');

    $res = api($owner, 'POST', $host, '/api/users',
        json => { email => "second\@$alpha->{sub}.test",
            name => 'Sam Second', password => '12345678', role => 'owner' });
    $second = is_json_response($res, 201, 'add an owner');
    user_ok($second, { email => "second\@$alpha->{sub}.test",
        name => 'Sam Second', role => 'owner' }, 'add an owner');
    ok($second->{id} > $member->{id}, 'add an owner: a higher id');

    $res = api($owner, 'POST', $host, '/api/users',
        json => { email => "long\@$alpha->{sub}.test", name => 'Long Pass',
            password => 'p' x 1024, role => 'member' });
    is($res->{status}, 201, 'a password of 1024 characters is accepted')
        or diag($res->{body});

    my @ids = map { $_->{id} } @{ users_of($alpha) || [] };
    is(scalar @ids, 4, 'the list has four users');
    is_deeply(\@ids, [ sort { $a <=> $b } @ids ], 'the list is ordered by id');
}

# 3. Emails are unique whatever their case.

for my $email (uc("member\@$alpha->{sub}.test"), "Member\@$alpha->{sub}.test",
    uc $alpha->{email})
{
    my $before = snapshot($alpha);
    my $res = api($owner, 'POST', $host, '/api/users',
        json => { email => $email, name => 'Copy', password => 'copy pass 1' });

    is_problem($res, 409, "add $email again");
    is(snapshot($alpha), $before, "add $email again: no user added");
}

# 4. Members may not manage users, not even themselves.

my $m = sign_in($host, "member\@$alpha->{sub}.test", 'member password');
my $as_member = { cookie => session_token($m) };

is($m->{status}, 201, 'the member signs in');

{
    my $before = snapshot($alpha);
    my @requests = (
        [ 'GET', '/api/users' ],
        [ 'POST', '/api/users', json => { email => "x\@$alpha->{sub}.test",
            name => 'X', password => 'password x' } ],
        [ 'PATCH', "/api/users/$second->{id}", json => { name => 'Hacked' } ],
        [ 'PATCH', "/api/users/$member->{id}", json => { role => 'owner' } ],
        [ 'PATCH', "/api/users/$alpha->{user}{id}",
            json => { disabled => JSON::PP::true } ],
        [ 'DELETE', "/api/users/$second->{id}" ],
    );

    for my $req (@requests) {
        my ($method, $path, @opt) = @$req;
        my $what = "$method $path as a member";

        is_problem_slug(api($as_member, $method, $host, $path, @opt), 403,
            'forbidden', $what);
        is_problem_slug(api({ bearer => $as_member->{cookie} }, $method,
            $host, $path, @opt), 403, 'forbidden', "$what (bearer)");
    }

    is(snapshot($alpha), $before, 'the members\' attempts changed nothing');
}

# 5. Owners change users.

{
    my $res = api($owner, 'PATCH', $host, "/api/users/$member->{id}",
        json => { name => 'Mia Renamed' });
    my $user = is_json_response($res, 200, 'rename a member');

    user_ok($user, { id => $member->{id}, name => 'Mia Renamed',
        role => 'member', email => $member->{email} }, 'rename a member');
    is(user_by_id($alpha, $member->{id})->{name}, 'Mia Renamed',
        'rename a member: the list shows the new name');

    $res = api({ cookie => $alpha->{token} }, 'PATCH', $host,
        "/api/users/$member->{id}", json => { role => 'owner' });
    is($res->{status}, 200, 'promote a member') or diag($res->{body});
    is($res->{json}{role}, 'owner', 'promote a member: role owner');

    $res = api($owner, 'PATCH', $host, "/api/users/$member->{id}",
        json => { role => 'member' });
    is($res->{json}{role}, 'member', 'demote them again');

    $res = api($owner, 'PATCH', $host, "/api/users/$member->{id}",
        json => { email => "taken\@$alpha->{sub}.test", password => 'ignored 1',
            id => 999, created_at => '2000-01-01T00:00:00.000Z' });
    is($res->{status}, 200, 'a patch with fields it does not take')
        or diag($res->{body});
    my $now = user_by_id($alpha, $member->{id});
    is($now->{email}, $member->{email}, 'the email is not changed by PATCH');
    is($now->{created_at}, $member->{created_at}, 'created_at is kept');
    is(api($as_member, 'GET', $host, '/api/me')->{status}, 200,
        'the member is still signed in');
}

for my $id (999999, 0, 'abc', '1abc', '99999999999999999999999') {
    is_problem_slug(api($owner, 'PATCH', $host, "/api/users/$id",
        json => { name => 'Nobody' }), 404, 'not-found', "PATCH user $id");
    is_problem_slug(api($owner, 'DELETE', $host, "/api/users/$id"), 404,
        'not-found', "DELETE user $id");
}

# 6. The last active owner cannot be demoted, disabled or removed.

{
    my $gamma = new_tenant('usrc');
    my $g = { bearer => $gamma->{token} };
    my $first = $gamma->{user}{id} // 0;
    my $before = snapshot($gamma);
    my @last_owner = (
        [ 'demote', 'PATCH', json => { role => 'member' } ],
        [ 'disable', 'PATCH', json => { disabled => JSON::PP::true } ],
        [ 'delete', 'DELETE' ],
    );

    for my $case (@last_owner) {
        my ($what, $method, @opt) = @$case;

        is_problem_slug(api($g, $method, $gamma->{host}, "/api/users/$first",
            @opt), 409, 'last-owner', "$what the only owner");
    }

    is(snapshot($gamma), $before, 'the only owner is unchanged');
    is(api($g, 'GET', $gamma->{host}, '/api/me')->{json}{role}, 'owner',
        'the only owner is still signed in as owner');

    my $other = add_user($gamma, name => 'Other Owner', role => 'owner',
        sign_in => 1);
    my $res = api($g, 'PATCH', $gamma->{host}, "/api/users/$other->{id}",
        json => { disabled => JSON::PP::true });
    is($res->{status}, 200, 'disable the second owner') or diag($res->{body});

    for my $case (@last_owner) {
        my ($what, $method, @opt) = @$case;

        is_problem_slug(api($g, $method, $gamma->{host}, "/api/users/$first",
            @opt), 409, 'last-owner',
            "$what the only active owner (the other is disabled)");
    }

    $res = api($g, 'PATCH', $gamma->{host}, "/api/users/$other->{id}",
        json => { disabled => JSON::PP::false });
    is($res->{status}, 200, 'enable the second owner again');
    ok(JSON::PP::is_bool($res->{json}{disabled}) && !$res->{json}{disabled},
        'enabled: disabled is false');

    my $again = sign_in($gamma->{host}, $other->{email}, $other->{password});
    my $o2 = { bearer => session_token($again) };
    is($again->{status}, 201, 'the second owner signs in again');

    $res = api($g, 'PATCH', $gamma->{host}, "/api/users/$first",
        json => { role => 'member' });
    is($res->{status}, 200, 'with two active owners, one may step down')
        or diag($res->{body});
    is_problem_slug(api($g, 'GET', $gamma->{host}, '/api/users'), 403,
        'forbidden', 'the one who stepped down is a member at once');

    is_problem_slug(api($o2, 'PATCH', $gamma->{host},
        "/api/users/$other->{id}", json => { role => 'member' }), 409,
        'last-owner', 'the remaining owner cannot demote themselves');
    is_problem_slug(api($o2, 'DELETE', $gamma->{host},
        "/api/users/$other->{id}"), 409, 'last-owner',
        'the remaining owner cannot delete themselves');
    is(api($o2, 'DELETE', $gamma->{host}, "/api/users/$first")->{status}, 204,
        'the remaining owner deletes the former owner');
}

# 7. Disabling or deleting a user ends their sessions and tokens.

{
    my $user = add_user($alpha, name => 'Dee Disabled', sign_in => 1);
    my $cookie = { cookie => $user->{token} };
    my $res = api($cookie, 'POST', $host, '/api/tokens',
        json => { name => 'script' });
    my $token = { bearer => $res->{json}{token} // 'none' };

    is($res->{status}, 201, 'the user creates an API token');
    is(api($token, 'GET', $host, '/api/me')->{status}, 200,
        'the API token works');

    $res = api($owner, 'PATCH', $host, "/api/users/$user->{id}",
        json => { disabled => JSON::PP::true });
    is($res->{status}, 200, 'disable the user') or diag($res->{body});
    ok(JSON::PP::is_bool($res->{json}{disabled}) && $res->{json}{disabled},
        'disabled: disabled is true');

    is_problem_slug(api($cookie, 'GET', $host, '/api/me'), 401,
        'unauthenticated', 'the disabled user\'s session');
    is_problem_slug(api($token, 'GET', $host, '/api/me'), 401,
        'unauthenticated', 'the disabled user\'s API token');
    is_problem_slug(sign_in($host, $user->{email}, $user->{password}), 401,
        'invalid-credentials', 'the disabled user signs in');

    $res = api($owner, 'PATCH', $host, "/api/users/$user->{id}",
        json => { disabled => JSON::PP::false });
    is($res->{status}, 200, 'enable the user again');
    is_problem_slug(api($cookie, 'GET', $host, '/api/me'), 401,
        'unauthenticated', 'the old session stays ended');
    is_problem_slug(api($token, 'GET', $host, '/api/me'), 401,
        'unauthenticated', 'the old API token stays ended');
    is(sign_in($host, $user->{email}, $user->{password})->{status}, 201,
        'the enabled user signs in anew');
}

{
    my $user = add_user($alpha, name => 'Del Deleted', sign_in => 1);
    my $cookie = { cookie => $user->{token} };

    is(api($cookie, 'GET', $host, '/api/me')->{status}, 200,
        'the user to delete is signed in');

    my $res = api({ cookie => $alpha->{token} }, 'DELETE', $host,
        "/api/users/$user->{id}");
    is($res->{status}, 204, 'delete the user') or diag($res->{body});
    is($res->{body}, '', 'delete the user: no body');

    is_problem_slug(api($cookie, 'GET', $host, '/api/me'), 401,
        'unauthenticated', 'the deleted user\'s session');
    ok(!%{ user_by_id($alpha, $user->{id}) },
        'the deleted user is not listed');
    is_problem_slug(api($owner, 'PATCH', $host, "/api/users/$user->{id}",
        json => { name => 'Ghost' }), 404, 'not-found',
        'PATCH the deleted user');
    is_problem_slug(api($owner, 'DELETE', $host, "/api/users/$user->{id}"),
        404, 'not-found', 'delete the user again');
    is_problem_slug(sign_in($host, $user->{email}, $user->{password}), 401,
        'invalid-credentials', 'the deleted user signs in');
}

# 8. Everyone changes their own name and password with PATCH /api/me.

{
    my $user = add_user($alpha, name => 'Pat Self', password => 'first pass 1',
        sign_in => 1);
    my $self = { cookie => $user->{token} };
    my $name = q{Pat O'Brien "; DROP TABLE users; --};

    my $res = api($self, 'PATCH', $host, '/api/me', json => { name => $name });
    my $me = is_json_response($res, 200, 'a member renames themselves');
    is($me->{name}, $name, 'rename: the name, verbatim');
    is(api($self, 'GET', $host, '/api/me')->{json}{name}, $name,
        'rename: /api/me shows it');
    is(user_by_id($alpha, $user->{id})->{name}, $name,
        'rename: the owner\'s list shows it');

    $res = api($self, 'PATCH', $host, '/api/me',
        json => { role => 'owner', disabled => JSON::PP::true,
            email => "boss\@$alpha->{sub}.test" });
    is($res->{status}, 200, 'PATCH /api/me with fields it does not take')
        or diag($res->{body});
    my $now = user_by_id($alpha, $user->{id});
    is($now->{role}, 'member', 'PATCH /api/me does not change the role');
    is($now->{email}, $user->{email}, 'PATCH /api/me does not change email');
    ok(!$now->{disabled}, 'PATCH /api/me does not change disabled');

    my @bad = (
        [ 'a wrong current password', { password => 'second pass 2',
            current_password => 'not it at all' }, ['current_password'] ],
        [ 'no current password', { password => 'second pass 2' },
            ['current_password'] ],
        [ 'a short new password', { password => 'short12',
            current_password => 'first pass 1' }, ['password'] ],
        [ 'a new password of 1025 characters', { password => 'q' x 1025,
            current_password => 'first pass 1' }, ['password'] ],
        [ 'a numeric password', { password => 12345678,
            current_password => 'first pass 1' }, ['password'] ],
        [ 'a numeric name', { name => 12 }, ['name'] ],
        [ 'a name of 201 characters', { name => 'n' x 201 }, ['name'] ],
        [ 'a null name', { name => undef }, ['name'] ],
    );

    for my $case (@bad) {
        my ($what, $body, $fields) = @$case;
        my $before = snapshot($alpha);

        rejected_ok(api($self, 'PATCH', $host, '/api/me', json => $body),
            $fields, $before, $alpha, "PATCH /api/me with $what");
    }

    is(sign_in($host, $user->{email}, 'first pass 1')->{status}, 201,
        'after the refusals the first password still works');

    $res = api($self, 'PATCH', $host, '/api/me',
        json => { password => 'second pass 2',
            current_password => 'first pass 1' });
    is($res->{status}, 200, 'change the password') or diag($res->{body});
    unlike($res->{body}, qr/second pass|first pass/,
        'change the password: no password in the answer');

    is(sign_in($host, $user->{email}, 'second pass 2')->{status}, 201,
        'the new password signs in');
    is_problem_slug(sign_in($host, $user->{email}, 'first pass 1'), 401,
        'invalid-credentials', 'the old password does not');
}

# 9. Invalid users are refused with every invalid field named, and
#    nothing is added.

my $sub = $alpha->{sub};
my %valid = (email => "valid\@$sub.test", name => 'Val Id',
    password => 'valid password');
my @bad_users = (
    [ 'no email', { email => undef }, ['email'] ],
    [ 'an empty email', { email => '' }, ['email'] ],
    [ 'an email without @', { email => 'not-an-email' }, ['email'] ],
    [ 'an email with nothing before @', { email => "\@$sub.test" },
        ['email'] ],
    [ 'an email of 255 characters',
        { email => ('e' x (255 - length "\@$sub.test")) . "\@$sub.test" },
        ['email'] ],
    [ 'a numeric email', { email => 42 }, ['email'] ],
    [ 'an email that is a list', { email => ["a\@$sub.test"] }, ['email'] ],
    [ 'no name', { name => undef }, ['name'] ],
    [ 'a numeric name', { name => 7 }, ['name'] ],
    [ 'a name of 201 characters', { name => 'n' x 201 }, ['name'] ],
    [ 'no password', { password => undef }, ['password'] ],
    [ 'a password of 7 characters', { password => '1234567' },
        ['password'] ],
    [ 'a password of 1025 characters', { password => 'p' x 1025 },
        ['password'] ],
    [ 'a numeric password', { password => 123456789 }, ['password'] ],
    [ 'role admin', { role => 'admin' }, ['role'] ],
    [ 'role Owner', { role => 'Owner' }, ['role'] ],
    [ 'an empty role', { role => '' }, ['role'] ],
    [ 'a numeric role', { role => 1 }, ['role'] ],
    [ 'four bad fields', { email => 'nope', name => 5, password => 'short',
        role => 'boss' }, [qw(email name password role)] ],
);

for my $case (@bad_users) {
    my ($what, $change, $fields) = @$case;
    my %body = %valid;

    for my $key (keys %$change) {
        if (defined $change->{$key}) {
            $body{$key} = $change->{$key};
        } else {
            delete $body{$key};
        }
    }

    my $before = snapshot($alpha);
    my $res = api($owner, 'POST', $host, '/api/users', json => \%body);

    rejected_ok($res, $fields, $before, $alpha, "add a user with $what");

    my %invalid = map { $_ => 1 } @$fields;
    my @wrongly = sort grep { !$invalid{$_} } problem_fields($res);
    is("@wrongly", '', "add a user with $what: valid fields are not blamed");
}

{
    my $before = snapshot($alpha);

    is_problem_slug(api($owner, 'POST', $host, '/api/users',
        headers => [ 'Content-Type' => 'application/json' ],
        body => '{"email": "a@b.test", "name": '), 400, 'invalid-json',
        'add a user with malformed JSON');
    is_problem(api($owner, 'POST', $host, '/api/users',
        headers => [ 'Content-Type' => 'text/plain' ],
        body => qq({"email":"plain\@$sub.test","name":"P",)
            . q("password":"plain password"})), 415,
        'add a user with a text/plain body');
    is(snapshot($alpha), $before, 'the malformed requests added no user');
}

my @bad_patches = (
    [ 'role admin', { role => 'admin' }, ['role'] ],
    [ 'a numeric role', { role => 0 }, ['role'] ],
    [ 'disabled as a string', { disabled => 'yes' }, ['disabled'] ],
    [ 'disabled as a number', { disabled => 1 }, ['disabled'] ],
    [ 'a null disabled', { disabled => undef }, ['disabled'] ],
    [ 'a numeric name', { name => 3 }, ['name'] ],
    [ 'a name of 201 characters', { name => 'n' x 201 }, ['name'] ],
    [ 'a bad role and a valid name', { role => 'chief', name => 'Fine' },
        ['role'] ],
);

for my $case (@bad_patches) {
    my ($what, $body, $fields) = @$case;
    my $before = snapshot($alpha);

    rejected_ok(api($owner, 'PATCH', $host, "/api/users/$member->{id}",
        json => $body), $fields, $before, $alpha, "PATCH a user with $what");
}

# 10. Another tenant's users are not there.

{
    my $before = snapshot($alpha);
    my $as_beta = { bearer => $beta->{token} };
    my @beta_ids = map { $_->{id} } @{ users_of($beta) || [] };
    my %in_beta = map { $_ => 1 } @beta_ids;
    my @foreign = grep { !$in_beta{$_} } map { $_->{id} }
        @{ users_of($alpha) || [] };

    ok(@foreign >= 3, 'tenant A has user ids that tenant B has not');
    unlike(api($as_beta, 'GET', $beta->{host}, '/api/users')->{body},
        qr/\Q$alpha->{sub}\E/, 'B\'s user list shows nothing of A');

    for my $id (@foreign) {
        is_problem_slug(api($as_beta, 'PATCH', $beta->{host}, "/api/users/$id",
            json => { name => 'Taken Over', role => 'owner' }), 404,
            'not-found', "PATCH A's user $id on B");
        is_problem_slug(api($as_beta, 'DELETE', $beta->{host},
            "/api/users/$id"), 404, 'not-found', "DELETE A's user $id on B");
    }

    is(snapshot($alpha), $before, 'A\'s users are unchanged');
}

done_testing();
