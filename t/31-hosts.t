# Hostile host names and routing: every request reaches exactly the tenant
# whose server block nginx chose, the main site, or nobody (a 4xx
# problem), never another tenant and never the admin API from a tenant's
# or a custom host.  One table of raw requests, each with its outcome.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my ($d, $p) = ($s->{domain}, $s->{port});
my %t;    # a, b: {sub, name, token, project}

for my $key (qw(a b)) {
    my $sub = unique_sub("host$key");
    my $name = "Hosts \u$key $sub";
    my $email = "owner\@$sub.test";
    my $password = "hosts password $key";

    is(register($sub, name => $name, email => $email,
        password => $password)->{status}, 201, "register $sub as '$name'");
    my $in = sign_in(host_for($sub), $email, $password);
    is($in->{status}, 201, "the owner of $sub signs in");
    my $tenant = { sub => $sub, host => host_for($sub), email => $email,
        password => $password, token => session_token($in) };

    my $made = api({ bearer => $tenant->{token} }, 'POST', $tenant->{host},
        '/api/tokens', json => { name => 'hosts' });
    is($made->{status}, 201, "tenant $key: an API token");
    my $project = api({ bearer => $tenant->{token} }, 'POST',
        $tenant->{host}, '/api/projects',
        json => { name => "Project of $key $tenant->{sub}" });
    is($project->{status}, 201, "tenant $key: a project");

    $t{$key} = { %$tenant, name => $name,
        api_token => $made->{json}{token},
        project => "Project of $key $tenant->{sub}" };
}

my ($A, $B) = ($t{a}{sub}, $t{b}{sub});
my $custom = "$A-shop.example.test";
my $added = http('POST', main_host(), "/admin/tenants/$A/domains",
    bearer => $s->{token}, json => { domain => $custom });
is($added->{status}, 201, "tenant a gets the custom domain $custom");

my $admin = [ Authorization => "Bearer $s->{token}" ];
my $site_index = slurp("$s->{top}/nginx/html/site/index.html");
my $app_index = slurp("$s->{top}/nginx/html/index.html");

# A raw request: method, target, protocol, a list of Host header values
# (none: no Host header), further headers, body.
sub req {
    my (%o) = @_;
    my $text = ($o{method} // 'GET') . ' ' . ($o{target} // '/api/tenant')
        . ' ' . ($o{proto} // 'HTTP/1.1') . "\r\n";
    my @hosts = exists $o{hosts} ? @{ $o{hosts} } : ($o{host});

    $text .= "Host: $_\r\n" for @hosts;
    my @h = @{ $o{headers} || [] };
    while (my ($name, $value) = splice @h, 0, 2) {
        $text .= "$name: $value\r\n";
    }
    if (defined $o{body}) {
        $text .= "Content-Type: application/json\r\n"
            . 'Content-Length: ' . length($o{body}) . "\r\n";
    }
    return $text . "Connection: close\r\n\r\n" . ($o{body} // '');
}

my $label64 = 'a' x 64;
my $label63 = 'b' x 63;

# name, request, expected outcome: a, b (that tenant's /api/tenant),
# projects_a (a's project list), main (the landing page), admin (the
# admin API), or a status (a problem, nobody's data).
my @cases = (
    # ports
    [ 'a with the port', req(host => "$A.$d:$p"), 'a' ],
    [ 'a without a port', req(host => "$A.$d"), 'a' ],
    [ 'a with port 99999', req(host => "$A.$d:99999"), 'a' ],
    [ 'a with an empty port', req(host => "$A.$d:"), 'a' ],
    [ 'a with a port that is no number', req(host => "$A.$d:x"), 'a' ],
    [ 'a with two ports', req(host => "$A.$d:$p:$p"), 'a' ],
    [ 'b with the port', req(host => "$B.$d:$p"), 'b' ],
    # trailing dot and case
    [ 'a with a trailing dot', req(host => "$A.$d."), 'a' ],
    [ 'a with a trailing dot and port', req(host => "$A.$d.:$p"), 'a' ],
    [ 'a upper case', req(host => uc "$A.$d:$p"), 'a' ],
    [ 'a mixed case', req(host => ucfirst "$A.\u$d:$p"), 'a' ],
    [ 'two trailing dots', req(host => "$A.$d..:$p"), 400 ],
    [ 'a leading dot', req(host => ".$A.$d:$p"), 404 ],
    [ 'an empty label', req(host => "$A..$d:$p"), 400 ],
    # nested labels and www
    [ 'www. before a', req(host => "www.$A.$d:$p"), 404 ],
    [ 'x. before a', req(host => "x.$A.$d:$p"), 404 ],
    [ 'a. before b', req(host => "$A.$B.$d:$p"), 404 ],
    [ 'b. before a', req(host => "$B.$A.$d:$p"), 404 ],
    [ 'a.b. of nobody', req(host => "a.b.$d:$p"), 404 ],
    [ 'a unknown subdomain', req(host => "nobody$$.$d:$p"), 404 ],
    [ 'a as a suffix of the domain', req(host => "$A$d:$p"), 404 ],
    [ 'a on another domain', req(host => "$A.example.test:$p"), 404 ],
    # the main domain
    [ 'the main domain /', req(host => "$d:$p", target => '/'), 'main' ],
    [ 'the main domain with a dot', req(host => "$d.:$p", target => '/'),
        'main' ],
    [ 'www /', req(host => "www.$d:$p", target => '/'), 'main' ],
    [ 'the main domain upper case /', req(host => uc("$d:$p"),
        target => '/'), 'main' ],
    [ '/api/tenant on the main domain', req(host => "$d:$p"), 404 ],
    [ '/api/projects on the main domain', req(host => "$d:$p",
        target => '/api/projects',
        headers => [ Authorization => "Bearer $t{a}{api_token}" ]), 404 ],
    [ 'POST /api/session on the main domain', req(method => 'POST',
        host => "$d:$p", target => '/api/session',
        body => qq({"email":"$t{a}{email}","password":"$t{a}{password}"})),
        404 ],
    [ 'the admin API on the main domain', req(host => "$d:$p",
        target => '/admin/tenants', headers => $admin), 'admin' ],
    # addresses
    [ 'IPv4 literal', req(host => '127.0.0.1'), 404 ],
    [ 'IPv4 literal and port', req(host => "127.0.0.1:$p"), 404 ],
    [ 'IPv6 literal', req(host => '[::1]'), 404 ],
    [ 'IPv6 literal and port', req(host => "[::1]:$p"), 404 ],
    [ 'IPv4-mapped IPv6', req(host => '[::ffff:127.0.0.1]'), 404 ],
    [ 'a in brackets', req(host => "[$A.$d]:$p"), 404 ],
    [ 'the admin API by IP', req(host => "127.0.0.1:$p",
        target => '/admin/tenants', headers => $admin), 404 ],
    # missing, empty, doubled and huge Host headers
    [ 'an empty Host', req(hosts => ['']), 400 ],
    [ 'no Host, HTTP/1.0', req(hosts => [], proto => 'HTTP/1.0'), 404 ],
    [ 'no Host, HTTP/1.1', req(hosts => []), 400 ],
    [ 'two Host headers a, b', req(hosts => [ "$A.$d:$p", "$B.$d:$p" ]),
        400 ],
    [ 'two equal Host headers', req(hosts => [ "$A.$d:$p", "$A.$d:$p" ]),
        400 ],
    [ 'an 8 KB host', req(host => ('x' x 8192) . ".$A.$d"), 400 ],
    [ 'a Host with a slash', req(host => "$B.$d/$A.$d"), 400 ],
    [ 'a Host with a backslash', req(host => "$B.$d\\$A.$d"), 404 ],
    [ 'a Host with a space', req(host => "$A.$d $B.$d"), 400 ],
    [ 'a Host with a comma', req(host => "$A.$d,$B.$d"), 404 ],
    [ 'a Host with userinfo', req(host => "$B\@$A.$d"), 404 ],
    # absolute URIs: the request line's host wins, as nginx matched it
    [ 'absolute URI b, Host a', req(target => "http://$B.$d/api/tenant",
        host => "$A.$d:$p"), 'b' ],
    [ 'absolute URI with a port', req(
        target => "http://$A.$d:99999/api/tenant", host => "$B.$d"), 'a' ],
    [ 'absolute https URI', req(target => "https://$A.$d/api/tenant",
        host => "$B.$d"), 'a' ],
    [ 'absolute URI a, Host main, /admin', req(
        target => "http://$A.$d/admin/tenants", host => "$d:$p",
        headers => $admin), 404 ],
    [ 'absolute URI of nobody, Host a', req(
        target => "http://nobody$$.$d/api/tenant", host => "$A.$d"), 404 ],
    [ 'absolute URI of the custom domain, Host b', req(
        target => "http://$custom/api/tenant", host => "$B.$d"), 'a' ],
    # client-sent forwarding headers never choose a tenant
    [ 'X-Forwarded-Host b on a', req(host => "$A.$d:$p",
        headers => [ 'X-Forwarded-Host' => "$B.$d:$p" ]), 'a' ],
    [ 'X-Forwarded-Host a on nobody', req(host => "nobody$$.$d:$p",
        headers => [ 'X-Forwarded-Host' => "$A.$d:$p" ]), 404 ],
    [ 'X-Forwarded-Host main on a, /admin', req(host => "$A.$d:$p",
        target => '/admin/tenants',
        headers => [ 'X-Forwarded-Host' => "$d:$p", @$admin ]), 404 ],
    [ 'Forwarded host=b on a', req(host => "$A.$d:$p",
        headers => [ Forwarded => "host=$B.$d;proto=https" ]), 'a' ],
    [ 'Forwarded host=a on an address', req(host => '127.0.0.1',
        headers => [ Forwarded => "for=1.2.3.4;host=$A.$d" ]), 404 ],
    [ 'X-Forwarded-For on a', req(host => "$A.$d:$p",
        headers => [ 'X-Forwarded-For' => '10.0.0.1, 127.0.0.1' ]), 'a' ],
    [ 'X-Host, X-Original-Host, X-Forwarded-Server b on a', req(
        host => "$A.$d:$p", headers => [ 'X-Host' => "$B.$d",
        'X-Original-Host' => "$B.$d", 'X-Forwarded-Server' => "$B.$d",
        'X-Original-URL' => '/admin/tenants' ]), 'a' ],
    [ 'header names like the parameters on a', req(host => "$A.$d:$p",
        headers => [ Tenant => $B, 'Tenant-Host' => "$B.$d",
        'Tenantry-Site' => 'main', 'Request-Host' => "$B.$d" ]), 'a' ],
    # reserved and forbidden names
    (map { [ "reserved $_", req(host => "$_.$d:$p"), 404 ] }
        qw(admin api app pg pgadmin pg-a postgres public tenantry
        information-schema localhost mail)),
    [ 'admin. with /admin', req(host => "admin.$d:$p",
        target => '/admin/tenants', headers => $admin), 404 ],
    # names that look like SQL or encodings
    [ "a quote: a';drop", req(host => "$A';drop.$d:$p"), 404 ],
    [ 'an OR clause', req(host => "x'or'1'='1.$d:$p"), 404 ],
    [ 'a--', req(host => "a--.$d:$p"), 404 ],
    [ "$A--", req(host => "$A--.$d:$p"), 404 ],
    [ 'the schema name t_a', req(host => "t_$A.$d:$p"), 404 ],
    [ 'the schema name t_a with a dot', req(host => "t_$A.$d.:$p"), 404 ],
    [ 'percent-encoded a', req(host => join('', map { sprintf '%%%02x',
        ord } split //, $A) . ".$d:$p"), 404 ],
    [ 'a percent-encoded dot', req(host => "$A%2e$d:$p"), 404 ],
    [ 'punycode xn--', req(host => "xn--$A.$d:$p"), 404 ],
    [ 'punycode xn--bcher-kva', req(host => "xn--bcher-kva.$d:$p"), 404 ],
    [ 'raw UTF-8 label', req(host => "b\xc3\xbccher.$d:$p"), 404 ],
    [ 'invalid UTF-8 label', req(host => "$A\xff.$d:$p"), 404 ],
    [ 'an underscore', req(host => "${A}_x.$d:$p"), 404 ],
    [ 'an underscore alone', req(host => "_.$d:$p"), 404 ],
    [ 'a 64-character label', req(host => "$label64.$d:$p"), 404 ],
    [ 'a 63-character label of nobody', req(host => "$label63.$d:$p"),
        404 ],
    [ 'a leading hyphen', req(host => "-$A.$d:$p"), 404 ],
    [ 'a trailing hyphen', req(host => "$A-.$d:$p"), 404 ],
    [ 'a hyphen alone', req(host => "-.$d:$p"), 404 ],
    # the admin API and the main site's files on a tenant's host
    [ '/admin/tenants on a', req(host => "$A.$d:$p",
        target => '/admin/tenants', headers => $admin), 404 ],
    [ '/admin on a', req(host => "$A.$d:$p", target => '/admin',
        headers => $admin), 404 ],
    [ '/admin/ on a', req(host => "$A.$d:$p", target => '/admin/'), 404 ],
    [ 'POST /admin/register-user on a', req(method => 'POST',
        host => "$A.$d:$p", target => '/admin/register-user',
        headers => $admin, body => '{"subdomain":"planted"}'), 404 ],
    [ '/admin/tenants/a on b', req(host => "$B.$d:$p",
        target => "/admin/tenants/$A", headers => $admin), 404 ],
    [ '/site/admin/ on a', req(host => "$A.$d:$p",
        target => '/site/admin/'), 404 ],
    # tenant data with a's own token
    [ 'a\'s projects with a\'s token', req(host => "$A.$d:$p",
        target => '/api/projects',
        headers => [ Authorization => "Bearer $t{a}{api_token}" ]),
        'projects_a' ],
    [ 'a\'s token on b', req(host => "$B.$d:$p", target => '/api/projects',
        headers => [ Authorization => "Bearer $t{a}{api_token}" ]), 401 ],
    [ 'a\'s token, absolute URI b, Host a', req(
        target => "http://$B.$d/api/projects", host => "$A.$d:$p",
        headers => [ Authorization => "Bearer $t{a}{api_token}" ]), 401 ],
    [ 'a\'s token on the custom domain', req(host => "$custom:$p",
        target => '/api/projects',
        headers => [ Authorization => "Bearer $t{a}{api_token}" ]),
        'projects_a' ],
    # the custom domain
    [ 'custom domain with the port', req(host => "$custom:$p"), 'a' ],
    [ 'custom domain without a port', req(host => $custom), 'a' ],
    [ 'custom domain with port 99999', req(host => "$custom:99999"), 'a' ],
    [ 'custom domain upper case', req(host => uc $custom), 'a' ],
    [ 'custom domain with a dot', req(host => "$custom.:$p"), 'a' ],
    [ 'www. before the custom domain', req(host => "www.$custom:$p"), 404 ],
    [ 'the custom domain as a suffix', req(host => "x$custom:$p"), 404 ],
    [ 'an unknown custom domain', req(host => "nobody$$.example.test:$p"),
        404 ],
    [ '/admin/tenants on the custom domain', req(host => "$custom:$p",
        target => '/admin/tenants', headers => $admin), 404 ],
    [ 'X-Forwarded-Host custom on b', req(host => "$B.$d:$p",
        headers => [ 'X-Forwarded-Host' => $custom ]), 'b' ],
);

# The names of both tenants, for bodies that must carry neither.
my $anyone = qr/\Q$A\E|\Q$B\E|\Q$t{a}{project}\E|\Q$t{b}{project}\E/;

for my $case (@cases) {
    my ($name, $request, $want) = @$case;
    my $res = raw_http($request);
    my $other = { a => 'b', b => 'a' };

    if ($want eq 'a' || $want eq 'b') {
        my $got = is_json_response($res, 200, $name);
        my $o = $t{ $other->{$want} };

        is($got->{subdomain}, $t{$want}{sub}, "$name: tenant $want");
        is($got->{name}, $t{$want}{name}, "$name: $want\'s name");
        unlike($res->{body}, qr/\Q$o->{sub}\E/, "$name: nothing of the other");
    } elsif ($want eq 'projects_a') {
        my $got = is_json_response($res, 200, $name);
        my @names = map { $_->{name} } @{ $got->{projects} || [] };

        is("@names", $t{a}{project}, "$name: a's one project");
        unlike($res->{body}, qr/\Q$t{b}{project}\E/, "$name: none of b's");
    } elsif ($want eq 'main') {
        is($res->{status}, 200, "$name: 200");
        ok($res->{body} eq $site_index, "$name: the landing page");
    } elsif ($want eq 'admin') {
        my $got = is_json_response($res, 200, $name);
        my @subs = map { $_->{subdomain} } @{ $got->{tenants} || [] };

        ok((grep { $_ eq $A } @subs), "$name: the admin API's tenant list");
    } else {
        is_problem($res, $want, $name);
        unlike($res->{body}, $anyone, "$name: no tenant's data");
        unlike($res->{body}, qr/"tenants"|"subdomain"/,
            "$name: nothing of the control plane");
        ok($res->{body} ne $app_index, "$name: not the tenant app");
    }
}

note(scalar(@cases) . ' host and routing cases');
cmp_ok(scalar @cases, '>=', 60, 'at least 60 cases ran');

# Nothing was planted by the refused admin request.
my ($rc, $out) = psql("SELECT count(*) FROM public.tenants"
    . " WHERE subdomain = 'planted'", user => 'postgres');
is($out, '0', 'the refused register-user created nothing');

done_testing();
