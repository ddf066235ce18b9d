# Tenant isolation is enforced by PostgreSQL: a tenant role reads only its
# own schema, the login role reads no tenant data, and workers leave no
# session state behind after many requests.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my @subs = (unique_sub('isoa'), unique_sub('isob'));
my (%schema, %role);

# 1. Two tenants and their schema and role names from the control plane.

for my $sub (@subs) {
    is(register($sub)->{status}, 201, "register $sub");

    my ($rc, $out) = psql("SELECT schema_name, role_name FROM public.tenants"
        . " WHERE subdomain = '$sub'", user => 'postgres');

    like($out, qr/^\w+\|\w+$/, "$sub: schema and role recorded");
    ($schema{$sub}, $role{$sub}) = split /\|/, $out;
}

my ($sub_a, $sub_b) = @subs;
my ($schema_a, $schema_b) = @schema{@subs};
my ($role_a, $role_b) = @role{@subs};

# Runs SQL as the login role, optionally switching to a tenant role for
# the transaction first.  Returns (exit code, output).
sub as_role {
    my ($role, $sql) = @_;
    my $set = defined $role ? qq(SET LOCAL ROLE "$role";\n) : '';

    return psql("BEGIN;\n${set}$sql;\nCOMMIT;\n", user => 'tenantry');
}

my $denied = qr/permission denied for (?:schema|table|relation)/;

# 2. A tenant role reads its own schema (so denials below are real).

{
    my ($rc, $out) = as_role($role_a,
        qq(SELECT count(*) FROM "$schema_a".users));

    is($rc, 0, 'tenant role A reads its own users') or diag($out);
    is($out, '1', 'tenant role A sees its one user');
}

# 3. And nothing else.

{
    my ($rc, $out) = as_role($role_a, qq(SELECT * FROM "$schema_b".users));

    isnt($rc, 0, 'tenant role A reading schema B fails');
    like($out, $denied, 'tenant role A reading schema B: permission denied');

    ($rc, $out) = as_role($role_b, qq(SELECT * FROM "$schema_a".users));
    isnt($rc, 0, 'tenant role B reading schema A fails');
    like($out, $denied, 'tenant role B reading schema A: permission denied');

    ($rc, $out) = as_role($role_a,
        qq(INSERT INTO "$schema_b".users (email) VALUES ('x\@evil.test')));
    isnt($rc, 0, 'tenant role A writing schema B fails');
    like($out, $denied, 'tenant role A writing schema B: permission denied');

    ($rc, $out) = as_role($role_a, 'SELECT * FROM public.tenants');
    isnt($rc, 0, 'tenant role reading the control plane fails');
    like($out, $denied,
        'tenant role reading the control plane: permission denied');

    ($rc, $out) = as_role($role_a, 'CREATE TABLE public.planted (x int)');
    isnt($rc, 0, 'tenant role creating a table in public fails');
    like($out, qr/permission denied for schema public/,
        'tenant role creating a table in public: permission denied');

    ($rc, $out) = as_role($role_a, 'CREATE SCHEMA planted');
    isnt($rc, 0, 'tenant role creating a schema fails');
    like($out, qr/permission denied for database/,
        'tenant role creating a schema: permission denied');

    ($rc, $out) = as_role(undef, qq(SELECT * FROM "$schema_a".users));
    isnt($rc, 0, 'the login role reading a tenant schema fails');
    like($out, $denied,
        'the login role reading a tenant schema: permission denied');
}

# 4. The roles' attributes.

for my $role ($role_a, $role_b) {
    my ($rc, $out) = psql("SELECT rolcanlogin, rolsuper, rolbypassrls,"
        . " rolcreaterole FROM pg_roles WHERE rolname = '$role'");

    is($out, 'f|f|f|f',
        "tenant role $role cannot log in and has no special rights");
}

{
    my ($rc, $out) = psql("SELECT rolcanlogin, rolinherit, rolsuper,"
        . " rolbypassrls FROM pg_roles WHERE rolname = 'tenantry'");

    is($out, 't|f|f|f',
        'the login role logs in, is NOINHERIT and not a superuser');
}

# 5. Many requests over every worker, each answered by the right tenant.

{
    my @wrong;

    for my $i (1 .. 40) {
        my $sub = $subs[ $i % 2 ];
        my $res = http('GET', host_for($sub), '/api/tenant');
        my $got = ref $res->{json} eq 'HASH' ? $res->{json}{subdomain} : undef;

        push @wrong, "$sub: $res->{status} " . ($got // '-')
            unless $res->{status} == 200 && ($got // '') eq $sub;
    }

    is(scalar @wrong, 0, '40 requests, each answered by its own tenant')
        or diag(join "\n", @wrong);
}

# 6. The workers' connections carry no tenant scope afterwards.

{
    my @wrong;

    for my $i (1 .. 40) {
        my $host = $i % 2 ? host_for($sub_a) : host_for($sub_b);
        my $res = http('GET', $host, '/readyz');
        my $db = ref $res->{json} eq 'HASH' ? $res->{json}{database} : undef;
        my $role = ref $db eq 'HASH' ? $db->{role} // '-' : '-';
        my $path = ref $db eq 'HASH' ? $db->{search_path} // '-' : '-';

        push @wrong, "$res->{status} role=$role search_path=$path"
            unless $res->{status} == 200 && $role eq 'tenantry'
            && $path eq '"$user", public';
    }

    is(scalar @wrong, 0,
        '40 /readyz: role tenantry and the default search_path every time')
        or diag(join "\n", @wrong);
}

# 7. The C program that checks session state after scoped transactions.

SKIP: {
    my $program = "$s->{build}/t/unit/db-scope";

    skip "$program is not built (make check builds it)", 1
        unless -x $program;

    run_tap_program('db-scope', $program, skip_all_fails => 1, env => {
        TENANTRY_DATABASE_URL => $s->{dburl},
        TENANTRY_DB_DIR       => "$s->{top}/db",
        TEST_SCHEMA           => $schema_a,
        TEST_ROLE             => $role_a,
    });
}

done_testing();
