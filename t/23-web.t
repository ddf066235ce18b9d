# The web tier's own behaviour: the admin page and the modules on the main
# domain beside the admin API, every module a page imports being served, no
# inline script in the bundle, and the sign-in rate limit per client
# address with its problem+json answer.

use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);
use IO::Socket::INET;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $s = stack();
my $main = main_host();
my $html = "$s->{top}/nginx/html";
my $sub = unique_sub('web');

is(register($sub)->{status}, 201, "register $sub");

# 1. The admin page, its module and the shared modules on the main domain.

{
    my $res = http('GET', $main, '/admin/');

    is($res->{status}, 200, 'main /admin/: 200');
    like($res->{headers}{'content-type'} // '', qr{^text/html}i,
        'main /admin/: html');
    is($res->{body}, slurp("$html/site/admin/index.html"),
        'main /admin/: the admin page');
    like($res->{headers}{'content-security-policy'} // '',
        qr/default-src 'self'/, 'main /admin/: CSP');
    like($res->{headers}{'cache-control'} // '', qr/no-cache/,
        'main /admin/: revalidated on every visit');
}

for my $path ('/site/admin/admin.js', '/site/site.js', '/lib/api.js',
    '/lib/dom.js', '/style.css', '/favicon.svg')
{
    my $res = http('GET', $main, $path);
    (my $file = $path) =~ s{^/}{};

    is($res->{status}, 200, "main $path: 200");
    is($res->{body}, slurp("$html/$file"), "main $path: the bundle's file");
}

like(http('GET', $main, '/lib/api.js')->{headers}{'content-type'} // '',
    qr{^application/javascript}i, 'modules are served as JavaScript');
like(http('GET', $main, '/lib/api.js')->{headers}{'content-security-policy'}
    // '', qr/default-src 'self'/, 'modules carry the CSP');

for my $path ('/site/index.html', '/site/admin/index.html', '/index.html',
    '/app.js', '/js/board.js', '/site/admin/')
{
    is_problem(http('GET', $main, $path), 404, "main $path");
}

# The admin API keeps its paths beside the page.

is_problem(http('GET', $main, '/admin/tenants'), 401,
    'main /admin/tenants still reaches the admin API');
is_problem(http('POST', $main, '/admin/register-user', json => {}), 401,
    'main /admin/register-user still reaches the admin API');
my $listed = is_json_response(http('GET', $main, '/admin/tenants',
    bearer => $s->{token}), 200, 'the admin API with the token');
ok(ref $listed->{tenants} eq 'ARRAY', 'the admin API lists tenants');
is_problem(http('POST', $main, '/admin/', json => {}), 405,
    'POST /admin/ is not an admin API call');

# Neither the admin page nor the main site's files on a tenant's host.

is_problem(http('GET', host_for($sub), '/admin/'), 404, 'tenant /admin/');
is_problem(http('GET', host_for($sub), '/site/admin/admin.js'), 404,
    'tenant /site/admin/admin.js');

# 2. Every module a page loads, followed through its imports, is served
#    on the host that loads it.

sub module_refs {
    my ($text) = @_;
    my @refs;

    push @refs, $1 while $text =~ /<script[^>]*\bsrc="([^"]+)"/g;
    push @refs, $1 while $text =~ /\bimport\b[^"';]*?["']([^"']+)["']/g;
    return @refs;
}

sub resolve {
    my ($base, $ref) = @_;

    return $ref if $ref =~ m{^/};
    (my $dir = $base) =~ s{[^/]*\z}{};
    my $path = "$dir$ref";
    1 while $path =~ s{/\./}{/};
    1 while $path =~ s{/[^/]+/\.\./}{/};
    return $path;
}

for my $page (['tenant', host_for($sub), '/'], ['main', $main, '/'],
    ['main', $main, '/admin/'])
{
    my ($kind, $host, $start) = @$page;
    my @queue = ($start);
    my %seen;
    my $count = 0;

    while (defined(my $path = shift @queue)) {
        next if $seen{$path}++;

        my $res = http('GET', $host, $path);
        is($res->{status}, 200, "$kind $path (from $start): 200")
            or next;
        $count++;
        push @queue, map { resolve($path, $_) } module_refs($res->{body});
    }

    ok($count >= 2, "$kind $start loads its modules ($count files)");
}

# 3. No inline scripts, handlers or styles: the CSP would refuse them.

for my $file (sort(glob("$html/*.html"), glob("$html/site/*.html"),
    glob("$html/site/admin/*.html")))
{
    my $text = slurp($file);
    (my $name = $file) =~ s{^\Q$s->{top}\E/}{};

    unlike($text, qr/<script(?![^>]*\bsrc=)[^>]*>/i,
        "$name: no inline script");
    unlike($text, qr/\son[a-z]+\s*=/i, "$name: no inline handler");
    unlike($text, qr/\sstyle\s*=|<style\b/i, "$name: no inline style");
    unlike($text, qr{(?:src|href)="(?:https?:)?//}i,
        "$name: nothing from elsewhere");
}

# 4. The sign-in rate limit.  Each check connects from a loopback address
#    of its own, so it neither meets nor spends the limit of the other
#    tests, which connect from 127.0.0.1.

my $conf = slurp("$s->{state}/nginx/nginx.conf") // '';
my ($rate) = $conf =~ /zone=signin:\S+ rate=(\d+)r\/m;/;
my ($burst) = $conf =~ /zone=signin burst=(\d+) nodelay;/;

ok(defined $rate && defined $burst,
    "the stack's nginx.conf limits sign-ins (rate $rate/min, burst $burst)")
    or BAIL_OUT('no sign-in limit in the rendered nginx.conf');

my $octet = 1 + $$ % 200;
my $next_addr = 0;

sub fresh_addr {
    $next_addr++;
    return "127.0.$octet." . (10 + $next_addr);
}

# One request from a given loopback address; returns http()'s result.
sub http_from {
    my ($addr, $method, $host, $path, $body) = @_;
    my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
        PeerPort => $s->{port}, LocalAddr => $addr, Proto => 'tcp',
        Timeout => 10) or return { status => 0, error => "connect: $!",
        headers => {}, body => '' };
    my $req = "$method $path HTTP/1.1\r\nHost: $host\r\n"
        . "Content-Type: application/json\r\n"
        . 'Content-Length: ' . length($body // '') . "\r\n"
        . "Connection: close\r\n\r\n" . ($body // '');
    my $raw = '';

    print {$sock} $req;
    while (sysread($sock, my $chunk, 65536)) {
        $raw .= $chunk;
    }
    close $sock;
    return Tenantry::Test::parse_response($raw);
}

# The answers to n quick sign-in attempts from one address.  They lack a
# password, so the app refuses them at once (no password hashing): the
# attempts come faster than the limit lets one back in, however loaded
# the machine.
sub attempts {
    my ($addr, $n, $method, $host) = @_;

    return map {
        http_from($addr, $method // 'POST', $host // host_for($sub),
            '/api/session', '{"email":"nobody@web.test"}')
    } 1 .. $n;
}

SKIP: {
    my $probe = http_from(fresh_addr(), 'GET', $main, '/healthz');
    skip "cannot connect from another loopback address: $probe->{error}", 1
        unless $probe->{status};

    # rate r/min admits one at once plus burst more; the next is refused
    # when it comes sooner than 60/rate seconds later.
    skip "the stack's sign-in rate ($rate/min) is too high to see refused"
        . ' quickly', 1 if $rate > 120;

    my @res = attempts(fresh_addr(), $burst + 3);
    my @statuses = map { $_->{status} } @res;
    my $allowed = $burst + 1;

    ok(!grep({ $_ == 429 } @statuses[0 .. $allowed - 1]),
        "the first $allowed attempts are not limited")
        or diag("statuses: @statuses");
    is(join(',', @statuses[$allowed .. $#statuses]), '429,429',
        'the attempts past the burst get 429');

    my $limited = $res[-1];
    is_problem_like($limited, 'too-many-requests');
    like($limited->{json}{detail} // '', qr/too many sign-in attempts/,
        '429: the detail says why');
    like($limited->{headers}{'retry-after'} // '', qr/^\d+$/,
        '429: Retry-After in seconds');
    is($limited->{headers}{'retry-after'}, int((60 + $rate - 1) / $rate),
        '429: Retry-After is the time one attempt takes to come back');
    like($limited->{headers}{'content-security-policy'} // '',
        qr/default-src 'self'/, '429: the security headers stay');
    ok(!exists $res[0]{headers}{'retry-after'},
        'no Retry-After on an answer that is not 429');

    # Per address: another one is still served.
    my ($other) = attempts(fresh_addr(), 1);
    isnt($other->{status}, 429, 'another address is not limited');

    # Only POST counts: signing out and other methods are never limited.
    my @deletes = map { $_->{status} }
        attempts(fresh_addr(), $burst + 3, 'DELETE');
    ok(!grep({ $_ == 429 } @deletes), 'DELETE /api/session is not limited')
        or diag("statuses: @deletes");

    # Custom domains share the limit's rules.
    my @custom = map { $_->{status} }
        attempts(fresh_addr(), $burst + 3, 'POST',
        "shop.example.test:$s->{port}");
    is($custom[-1], 429, 'a custom domain limits sign-ins too')
        or diag("statuses: @custom");
}

sub is_problem_like {
    my ($res, $slug) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is_problem($res, 429, '429');
    is(($res->{json}{type} // ''), "https://tenantry.dev/problems/$slug",
        "429: type $slug");
    is($res->{json}{title}, 'Too Many Requests', '429: title');
}

# 5. nginx/render: the limit's defaults and checks.

{
    my $dir = tempdir(CLEANUP => 1);
    my $render = "$s->{top}/nginx/render";
    my %env = (TENANTRY_STATE => $dir, TENANTRY_SIGNIN_RATE => undef,
        TENANTRY_SIGNIN_BURST => undef);

    my $out = render_with($render, $dir, \%env);
    like($out, qr{rate=10r/m;}, 'render: 10 sign-ins a minute by default');
    like($out, qr{burst=5 nodelay;}, 'render: a burst of 5 by default');
    like($out, qr{429 6;}, 'render: Retry-After 6 by default');

    $out = render_with($render, $dir, { %env, TENANTRY_SIGNIN_RATE => '030',
        TENANTRY_SIGNIN_BURST => '0' });
    like($out, qr{rate=30r/m;}, 'render: a rate from the environment');
    like($out, qr{burst=0 nodelay;}, 'render: no burst');

    for my $bad (['TENANTRY_SIGNIN_RATE', '0'], ['TENANTRY_SIGNIN_RATE', 'x'],
        ['TENANTRY_SIGNIN_RATE', '70000'], ['TENANTRY_SIGNIN_BURST', '-1'],
        ['TENANTRY_SIGNIN_BURST', '5;'])
    {
        my ($name, $value) = @$bad;
        my ($rc, $text) = capture([$render, "$dir/bad.conf"], %env,
            $name => $value);

        isnt($rc, 0, "render refuses $name=$value");
        like($text, qr/\Q$name\E/, "render names $name");
    }

    # without trusted proxies the connection's own address and scheme
    like($out, qr{^\s*# no trusted proxies$}m,
        'render: no proxy is trusted by default');
    like($out, qr{geo \$realip_remote_addr \$tenantry_from_proxy \{\s*default no;\s*# no trusted proxies\s*\}},
        'render: X-Forwarded-Proto is ignored by default');

    $out = render_with($render, $dir, { %env,
        TENANTRY_TRUSTED_PROXIES => '10.0.0.0/16, fd00::/8' });
    like($out, qr{set_real_ip_from 10\.0\.0\.0/16; set_real_ip_from fd00::/8; real_ip_header X-Forwarded-For; real_ip_recursive on;},
        'render: trusted proxies give the client address');
    like($out, qr{default no;\s*10\.0\.0\.0/16 yes; fd00::/8 yes;},
        'render: and their X-Forwarded-Proto is believed, from them only');
    mkdir "$dir/$_" for qw(log run nginx);
    my ($rc, $text) = capture(['nginx', '-t', '-c', "$dir/nginx.conf",
        '-e', "$dir/log/error.log"]);
    is($rc, 0, 'nginx accepts the configuration with trusted proxies')
        or diag($text);

    ($rc, $text) = capture([$render, "$dir/bad.conf"], %env,
        TENANTRY_TRUSTED_PROXIES => '10.0.0.0/8; include /etc/passwd');
    isnt($rc, 0, 'render refuses a proxy list with anything but addresses');
}

# Renders the configuration with these environment settings; returns it.
sub render_with {
    my ($render, $dir, $vars) = @_;
    my ($rc, $text) = capture([$render, "$dir/nginx.conf"], %$vars);

    is($rc, 0, 'render succeeds') or diag($text);
    return slurp("$dir/nginx.conf") // '';
}

done_testing();
