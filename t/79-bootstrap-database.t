# infra/bootstrap-database, the first deployment's one-off task, run by an
# administrator that is no superuser (as the RDS master user is) on the
# test stack's PostgreSQL: it makes the app's login role and database the
# way script/server does, after which `tenantctl migrate` works as that
# role; run again, it only sets the password.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $top = top_dir();
my $admin = "t_boot_admin$$";
my $role = "t_boot_app$$";
my $db = "t_boot_db$$";
my @run_as = run_as_owner("$s->{state}/run");
my $tenantctl = build_dir() . '/app/tenantctl';

END {
    if ($s) {
        psql("DROP DATABASE IF EXISTS $db", user => 'postgres');
        psql("DROP ROLE IF EXISTS $role", user => 'postgres');
        psql("DROP ROLE IF EXISTS $admin", user => 'postgres');
    }
}

# Runs the script as the administrator with the given settings.
sub bootstrap {
    my (%env) = @_;
    return capture([@run_as, "$top/infra/bootstrap-database"],
        PGHOST => $s->{pghost}, PGUSER => $admin, PGDATABASE => 'postgres',
        TENANTRY_DB_ROLE => $role, TENANTRY_DB_NAME => $db, %env);
}

sub query {
    my ($sql, %opt) = @_;
    my ($rc, $out) = psql($sql, user => 'postgres', %opt);
    return $rc == 0 ? $out : "error: $out";
}

my ($rc, $out) = psql("CREATE ROLE $admin LOGIN CREATEROLE CREATEDB",
    user => 'postgres');
is($rc, 0, 'an administrator like the RDS master user: no superuser')
    or diag($out);

($rc, $out) = bootstrap(TENANTRY_APP_PASSWORD => 'first password');
is($rc, 0, 'bootstrap-database runs') or diag($out);

is(query("SELECT rolsuper, rolinherit, rolcreaterole, rolcanlogin
    FROM pg_roles WHERE rolname = '$role'"), 'f|f|t|t',
    'the app role logs in, may create roles, inherits nothing, is no superuser');
is(query("SELECT pg_get_userbyid(datdba) FROM pg_database
    WHERE datname = '$db'"), $role, 'it owns the database');
is(query("SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'public'",
    dbname => $db), $role, 'and its schema public');
is(query("SELECT count(*) FROM pg_auth_members
    WHERE member = '$admin'::regrole"), 0,
    'the administrator is no member of it afterwards');

my $hash = query("SELECT rolpassword FROM pg_authid WHERE rolname = '$role'");
like($hash, qr/^SCRAM-SHA-256\$/, 'the role has a password');

SKIP: {
    skip "$tenantctl is not built", 2 unless -x $tenantctl;

    ($rc, $out) = capture([@run_as, $tenantctl, 'migrate'],
        TENANTRY_DATABASE_URL => "host=$s->{pghost} dbname=$db user=$role",
        TENANTRY_DB_DIR => "$top/db");
    is($rc, 0, 'tenantctl migrate runs as the app role') or diag($out);
    like($out, qr/^public: [1-9]\d* applied$/m,
        'and builds the control plane');
}

($rc, $out) = bootstrap(TENANTRY_APP_PASSWORD => 'second password');
is($rc, 0, 'a second run succeeds') or diag($out);
isnt(query("SELECT rolpassword FROM pg_authid WHERE rolname = '$role'"),
    $hash, 'and sets the new password');
is(query("SELECT pg_get_userbyid(datdba) FROM pg_database
    WHERE datname = '$db'"), $role, 'the database is still the role\'s');

($rc, $out) = bootstrap(TENANTRY_APP_PASSWORD => '');
isnt($rc, 0, 'no password: refused');
($rc, $out) = bootstrap(TENANTRY_APP_PASSWORD => 'x',
    TENANTRY_DB_ROLE => 'Robert"); DROP');
isnt($rc, 0, 'a role name that is not a plain name: refused');

done_testing();
