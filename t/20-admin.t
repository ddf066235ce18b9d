# The admin API on the main domain: authentication, onboarding, name rules,
# listing, the create-schema step, and that a rejected request changes
# nothing in the database.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $main = main_host();
my $token = $s->{token};

ok(length $token, 'the stack has an admin token');

# The number of tenant rows, read as the PostgreSQL superuser.  This
# assumes no other test file registers tenants at the same moment.
sub tenant_count {
    my ($rc, $out) = psql('SELECT count(*) FROM public.tenants',
        user => 'postgres');

    return $rc == 0 && $out =~ /^(\d+)$/ ? $1 : "error: $out";
}

# True when nothing under this subdomain exists: no tenant row, no
# schema, no role.
sub leaves_no_trace {
    my ($sub) = @_;
    my $quoted = $sub;
    $quoted =~ s/'/''/g;

    my ($rc, $out) = psql(<<"SQL", user => 'postgres');
SELECT (SELECT count(*) FROM public.tenants WHERE subdomain = '$quoted')
     + (SELECT count(*) FROM pg_namespace
         WHERE nspname = 't_' || replace('$quoted', '-', '_'))
     + (SELECT count(*) FROM pg_roles
         WHERE rolname = 't_' || replace('$quoted', '-', '_'))
SQL

    return $rc == 0 && $out eq '0';
}

# Posts to an admin endpoint and checks the rejection: problem+json with
# the status, and no new tenant row.
sub rejected {
    my ($name, $status, %req) = @_;
    my $path = delete $req{path} // '/admin/register-user';
    my $host = delete $req{host} // $main;
    my $before = tenant_count();
    my $res = http('POST', $host, $path, %req);

    is_problem($res, $status, $name);
    is(tenant_count(), $before, "$name: no tenant row was added");

    return $res;
}

# 1. Authentication: no token, a wrong token, a token with extra bytes.

my $auth_sub = unique_sub('auth');
my $auth_body = {
    subdomain => $auth_sub,
    name      => 'Auth Check',
    owner     => { email => 'o@auth.test', password => 'long enough pw' },
};

rejected('register without a token', 401, json => $auth_body);
rejected('register with a wrong token', 401, json => $auth_body,
    bearer => "x$token");
rejected('register with a token prefix', 401, json => $auth_body,
    bearer => substr($token, 0, -1));
rejected('register with a basic scheme', 401, json => $auth_body,
    headers => [Authorization => "Basic $token"]);
ok(leaves_no_trace($auth_sub), 'unauthenticated requests left no trace');

is_problem(http('GET', $main, '/admin/tenants'), 401,
    'tenant list without a token');
is_problem(http('GET', $main, '/admin/tenants', bearer => 'wrong'), 401,
    'tenant list with a wrong token');

# 2. Two tenants are onboarded.

my @subs = (unique_sub('adma'), unique_sub('admb'));
my %names = ($subs[0] => 'Admin Alpha Ltd', $subs[1] => 'Admin Beta GmbH');

for my $sub (@subs) {
    my $before = tenant_count();
    my $res = register($sub, name => $names{$sub});
    my $t = is_json_response($res, 201, "register $sub");

    is($t->{subdomain}, $sub, "register $sub: subdomain");
    is($t->{name}, $names{$sub}, "register $sub: name");
    is($t->{status}, 'active', "register $sub: status is active");
    is($t->{schema}, "t_$sub", "register $sub: schema");
    ok(defined $t->{created_at} && length $t->{created_at},
        "register $sub: created_at");
    is(tenant_count(), $before + 1, "register $sub: one tenant row added");

    my ($rc, $out) = psql(
        "SELECT email, role, password_hash LIKE '\$argon2id\$%'"
        . " FROM \"t_$sub\".users", user => 'postgres');

    is($rc, 0, "register $sub: the owner table can be read")
        or diag($out);
    is($out, "owner\@$sub.test|owner|t",
        "register $sub: one owner with an argon2id password hash");
}

# 3. A taken subdomain.

my $dup = rejected('register a taken subdomain', 409,
    json => {
        subdomain => $subs[0],
        name      => 'Impostor',
        owner     => { email => 'x@imp.test', password => 'long enough pw' },
    },
    bearer => $token);

my ($rc, $out) = psql("SELECT name FROM public.tenants WHERE subdomain ="
    . " '$subs[0]'", user => 'postgres');
is($out, $names{ $subs[0] }, 'the taken tenant keeps its name');

# 4. Subdomains that break a rule: each 422, naming the rule and the
#    field.

my @bad_subdomains = (
    ['uppercase and underscore', 'Pg_x', qr/lower|letter|digit|charact/i],
    ['leading hyphen', '-a', qr/hyphen|start|begin/i],
    ['trailing hyphen', 'a-', qr/hyphen|end/i],
    ['64 characters', 'a' x 64, qr/63|long|length|characters/i],
    ['reserved www', 'www', qr/reserved/i],
    ['reserved admin', 'admin', qr/reserved/i],
    ['reserved api', 'api', qr/reserved/i],
    ['reserved public', 'public', qr/reserved/i],
    ['pg prefix', 'pgfoo', qr/pg|reserved/i],
    ['information_schema', 'information_schema',
        qr/reserved|lower|letter|charact/i],
    ['empty', '', qr/empty|required|missing|least|length|short/i],
    ['two labels', 'a.b', qr/dot|label|letter|charact/i],
    ['a space', 'ac me', qr/space|letter|charact/i],
    ['a number', 42, qr/string|type/i],
    ['missing', undef, qr/required|missing/i],
);

for my $case (@bad_subdomains) {
    my ($what, $sub, $rule) = @$case;
    my %body = (
        name  => 'Bad Name Inc',
        owner => { email => 'o@bad.test', password => 'long enough pw' },
    );
    $body{subdomain} = $sub if defined $sub;

    my $res = rejected("subdomain $what", 422, json => \%body,
        bearer => $token);
    my @errors = ref $res->{json}{errors} eq 'ARRAY'
        ? grep { ref eq 'HASH' } @{ $res->{json}{errors} } : ();
    my ($error) = grep { ($_->{field} // '') eq 'subdomain' } @errors;

    ok($error, "subdomain $what: errors name the field subdomain")
        or diag(explain($res->{json}));
    like(($error->{detail} // '') . ' ' . ($res->{json}{detail} // ''),
        $rule, "subdomain $what: the detail names the rule");
    ok(leaves_no_trace($sub), "subdomain $what: no row, schema or role")
        if defined $sub && !ref $sub && $sub =~ /^[a-z0-9_-]+$/;
}

# 5. The first user's fields.

my @bad_owners = (
    ['missing owner email', { password => 'long enough pw' }, qr/email/],
    ['missing owner password', { email => 'o@own.test' }, qr/password/],
    ['short password', { email => 'o@own.test', password => 'short7!' },
        qr/password/],
    ['invalid email', { email => 'not-an-email', password => 'long pw 12' },
        qr/email/],
);

for my $case (@bad_owners) {
    my ($what, $owner, $field) = @$case;
    my $sub = unique_sub('own');
    my $res = rejected($what, 422,
        json => { subdomain => $sub, name => 'Owner Check', owner => $owner },
        bearer => $token);
    my @fields = ref $res->{json}{errors} eq 'ARRAY'
        ? map { ref eq 'HASH' ? $_->{field} // '' : '' }
        @{ $res->{json}{errors} } : ();

    ok((grep { /$field/ } @fields), "$what: errors list the field")
        or diag('fields: ' . join(', ', @fields));
    ok(!(grep { $_ eq 'subdomain' } @fields),
        "$what: the valid subdomain is not blamed");
    ok(leaves_no_trace($sub), "$what: no row, schema or role");
}

# 6. Bodies that are not a JSON object, or not JSON at all.

my $syntax_sub = unique_sub('syn');

rejected('invalid JSON', 400, bearer => $token,
    headers => ['Content-Type' => 'application/json'],
    body => qq({"subdomain": "$syntax_sub", "name": ));
rejected('wrong content type', 415, bearer => $token,
    headers => ['Content-Type' => 'text/plain'],
    body => qq({"subdomain":"$syntax_sub","name":"X","owner":)
        . q({"email":"o@syn.test","password":"long enough pw"}}));
ok(leaves_no_trace($syntax_sub), 'syntax errors left no trace');

# 7. Listing tenants.

my $list = is_json_response(http('GET', $main, '/admin/tenants',
    bearer => $token), 200, 'tenant list');
my %listed = ref $list->{tenants} eq 'ARRAY'
    ? map { ref eq 'HASH' ? ($_->{subdomain} // '' => $_) : () }
    @{ $list->{tenants} } : ();

for my $sub (@subs) {
    ok($listed{$sub}, "tenant list: contains $sub");
    is($listed{$sub}{name}, $names{$sub}, "tenant list: name of $sub");
    is($listed{$sub}{status}, 'active', "tenant list: $sub is active");
    is($listed{$sub}{schema}, "t_$sub", "tenant list: schema of $sub");
}

ok(!$listed{ $auth_sub }, 'tenant list: no rejected tenant');

for my $sub (@subs) {
    my $t = is_json_response(http('GET', $main, "/admin/tenants/$sub",
        bearer => $token), 200, "tenant $sub");

    is($t->{subdomain}, $sub, "tenant $sub: subdomain");
    is($t->{name}, $names{$sub}, "tenant $sub: name");
    is($t->{status}, 'active', "tenant $sub: status");
}

is_problem(http('GET', $main, '/admin/tenants/' . unique_sub('nosuch'),
    bearer => $token), 404, 'unknown tenant');
is_problem(http('GET', $main, "/admin/tenants/$subs[0]"), 401,
    'one tenant without a token');

# 8. The create-schema step is idempotent on an existing tenant.

{
    my $before = tenant_count();
    my $res = http('POST', $main, '/admin/create-schema',
        json => { subdomain => $subs[0] }, bearer => $token);
    my $t = is_json_response($res, 200, 'create-schema again');

    is($t->{subdomain}, $subs[0], 'create-schema again: subdomain');
    is($t->{status}, 'active', 'create-schema again: still active');
    is($t->{schema}, "t_$subs[0]", 'create-schema again: schema');
    is(tenant_count(), $before, 'create-schema again: no tenant added');

    my $api = is_json_response(http('GET', host_for($subs[0]),
        '/api/tenant'), 200, 'the tenant answers after create-schema');

    is($api->{subdomain}, $subs[0], 'after create-schema: subdomain');
    is($api->{users}, 1, 'after create-schema: still one user');
}

rejected('create-schema for an unknown tenant', 404,
    path => '/admin/create-schema',
    json => { subdomain => unique_sub('nosuch') }, bearer => $token);
rejected('create-schema without a token', 401,
    path => '/admin/create-schema', json => { subdomain => $subs[0] });

# 9. The admin API exists only on the main domain.

is_problem(http('GET', host_for($subs[0]), '/admin/tenants',
    bearer => $token), 404, 'tenant list on a tenant subdomain');

{
    my $sub = unique_sub('side');

    rejected('register on a tenant subdomain', 404,
        json => {
            subdomain => $sub,
            name      => 'Side Door',
            owner => { email => 'o@side.test', password => 'long enough pw' },
        },
        bearer => $token, host => host_for($subs[0]));
    ok(leaves_no_trace($sub), 'register on a tenant subdomain: no trace');
}

done_testing();
