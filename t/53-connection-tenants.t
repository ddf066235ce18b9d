# TENANTD_MAX_TENANTS_PER_CONNECTION: a worker replaces its database
# connection after serving that many distinct tenants, between requests,
# and every answer stays the asking tenant's own.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

plan skip_all => 'FCGI::Client is not installed'
    . ' (Debian package libfcgi-client-perl)'
    unless eval { require FCGI::Client; 1 };

my $s = stack();
my @subs = map { unique_sub("conn$_") } 1 .. 5;
is(register($_)->{status}, 201, "tenant $_ is registered") for @subs;

my $app = "tenantd_recycle_$$";
my $t = start_tenantd(TENANTD_WORKERS => 1,
    TENANTD_MAX_TENANTS_PER_CONNECTION => 3,
    TENANTRY_DATABASE_URL => "$s->{dburl} application_name=$app");

# The backend serving the one worker: its pid and start time.
sub backend {
    my ($rc, $out) = psql("SELECT pid || ' ' || backend_start"
        . " FROM pg_stat_activity WHERE application_name = '$app'",
        user => 'postgres');
    return $rc == 0 ? $out : "psql failed: $out";
}

sub ask {
    my ($sub) = @_;
    return fcgi_request($t->{socket}, { TENANTRY_SITE => 'tenant',
        TENANT => $sub, REQUEST_METHOD => 'GET',
        DOCUMENT_URI => '/api/tenant',
        REQUEST_ID => '00000000000000000000000000000001' });
}

my %seen;
my @backends;
for my $round (1 .. 2) {
    for my $sub (@subs) {
        my $res = ask($sub);
        my $tenant = is_json_response($res, 200,
            "round $round: $sub answers");
        is($tenant->{subdomain}, $sub, "round $round: with its own tenant");
        my $b = backend();
        push @backends, $b unless $seen{$b}++;
    }
}

like($backends[0], qr/^\d+ /, 'the worker has a backend');
# 10 requests over 5 tenants, three per connection: tenants 1-3, then
# 4, 5, 1, then 2, 3, 4, then 5 on a fourth connection
is(scalar @backends, 4, 'the worker connected four times for 10 requests')
    or diag(join "\n", @backends);
is(scalar(grep { /^\d+ / } @backends), 4, 'each time a new backend');

my $log = do { local (@ARGV, $/) = ($t->{log}); <> // '' };
my @recycled = $log =~ /recycling the database connection after 3 tenants/g;
is(scalar @recycled, 3, 'the log names each recycling');

# the same tenant again and again does not count twice
my $before = backend();
is_json_response(ask($subs[4]), 200, 'the fourth connection serves again');
is(backend(), $before, 'a tenant already served does not count again');

stop_tenantd($t);

# without the setting the connection is kept
$t = start_tenantd(TENANTD_WORKERS => 1, TENANTD_MAX_TENANTS_PER_CONNECTION => 0,
    TENANTRY_DATABASE_URL => "$s->{dburl} application_name=$app");
my %kept;
for my $sub (@subs, @subs) {
    is_json_response(ask($sub), 200, "$sub answers with no limit");
    $kept{ backend() } = 1;
}
is(scalar keys %kept, 1, 'with 0 the worker keeps one connection');
stop_tenantd($t);

done_testing();
