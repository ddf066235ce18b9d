# Custom domains: a tenant's further host names reach it through nginx's
# catch-all block; a domain belongs to one tenant; removing it (or the
# tenant) stops it.
use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use Tenantry::Test;

my $s = stack();
my $admin = main_host();

sub admin {
    my ($method, $path, %opt) = @_;
    return http($method, $admin, $path, bearer => $s->{token}, %opt);
}

my $a = unique_sub('dom');
my $b = unique_sub('dom');
is(register($a)->{status}, 201, 'tenant A is registered');
is(register($b)->{status}, 201, 'tenant B is registered');

my $host = "App.$a-Corp.Example.";
my $stored = lc "app.$a-corp.example";
my $custom = "$stored:$s->{port}";

is(http('GET', $custom, '/api/tenant')->{status}, 404,
    'an unknown host name is 404');

my $res = admin('POST', "/admin/tenants/$a/domains", json => { domain => $host });
is($res->{status}, 201, 'a domain is added');
is($res->{json}{domain}, $stored, 'in its normal form: lower case, no dot');
is($res->{json}{primary}, JSON::PP::true, 'the first domain is the primary');

my $api = http('GET', $custom, '/api/tenant');
is($api->{status}, 200, 'the custom host answers');
is($api->{json}{subdomain}, $a, 'as its tenant');

$res = admin('POST', "/admin/tenants/$b/domains", json => { domain => $stored });
is($res->{status}, 409, 'another tenant cannot take the domain');

$res = admin('POST', "/admin/tenants/$a/domains",
    json => { domain => "www.$a-corp.example", primary => JSON::PP::true });
is($res->{status}, 201, 'a second domain is added as the primary');
my $list = admin('GET', "/admin/tenants/$a/domains")->{json}{domains} || [];
is(join(',', map { "$_->{domain}=" . ($_->{primary} ? 1 : 0) } @$list),
    "$stored=0,www.$a-corp.example=1", 'the primary mark moved');

my ($rc, $out) = capture(["$s->{build}/app/tenantctl", 'tenant', 'domains',
    $a], TENANTRY_DATABASE_URL => $s->{dburl});
is($out, "$stored\nwww.$a-corp.example (primary)",
    'tenantctl tenant domains lists them');

for my $bad ('localhost', "x.$s->{domain}", '127.0.0.1', 'bad_name.example',
    '-a.example', 'a-.example', 'nodot', 'a..example', 'x' x 64 . '.example',
    '') {
    $res = admin('POST', "/admin/tenants/$a/domains", json => { domain => $bad });
    is($res->{status}, 422, "'$bad' is refused");
    is(($res->{json}{errors} || [{}])->[0]{field}, 'domain',
        'the error names the domain field');
}
$res = admin('POST', "/admin/tenants/$a/domains", json => { domain => 42 });
is($res->{status}, 422, 'a number is not a domain');

$res = admin('DELETE', "/admin/tenants/$a/domains/$stored");
is($res->{status}, 204, 'a domain is removed');
sleep 1.2;
is(http('GET', $custom, '/api/tenant')->{status}, 404,
    'and answers 404 after the one-second bound');
is(admin('DELETE', "/admin/tenants/$a/domains/$stored")->{status}, 404,
    'removing it twice is 404');

is(admin('POST', "/admin/tenants/$b/domains", json => { domain => $stored })
    ->{status}, 201, 'the free domain can go to another tenant');
is(http('GET', $custom, '/api/tenant')->{json}{subdomain}, $b,
    'and then answers as that tenant');

is(admin('DELETE', "/admin/tenants/$b")->{status}, 200, 'B is deleted');
is(admin('DELETE', "/admin/tenants/$b?purge=true")->{status}, 204,
    'and purged');
($rc, $out) = psql("SELECT count(*) FROM tenant_domains WHERE host = '$stored'");
is($out, '0', 'its domains went with it');
sleep 1.2;
is(http('GET', $custom, '/api/tenant')->{status}, 404,
    'and its host name answers 404');

is(admin('GET', "/admin/tenants/nosuch-x/domains")->{status}, 404,
    'an unknown tenant has no domains');

done_testing();
