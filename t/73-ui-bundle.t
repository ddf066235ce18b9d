# docker/ui-bundle, the UI pipeline's package step and the web image's
# source: the tarball holds exactly nginx/render, the configuration
# template and every file of nginx/html, with fixed owners, modes and
# times, the same bytes each time; unpacked, it renders a configuration
# that nginx accepts.

use strict;
use warnings;
use Test::More;
use File::Find;
use File::Path qw(make_path);
use File::Temp qw(tempdir);

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test qw(top_dir capture);
use Tenantry::Deploy;

my $top = top_dir();
my $dir = tempdir('tenantry-bundle-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $bundle = "$dir/ui.tar.gz";

my ($rc, $out) = capture(["$top/docker/ui-bundle", $bundle]);
is($rc, 0, 'docker/ui-bundle makes the tarball') or diag($out);

# What should be in it: the template, the render script and nginx/html
# without hidden files.
my @expected = ('nginx/render', 'nginx/tenantry.conf.in');
find({ no_chdir => 1, wanted => sub {
    if (m{/\.[^/]*\z}) {
        $File::Find::prune = 1;
        return;
    }
    push @expected, substr($_, length($top) + 1) if -f $_;
} }, "$top/nginx/html");

($rc, $out) = capture(['tar', '-tvzf', $bundle]);
is($rc, 0, 'the tarball lists') or diag($out);

my (%entries, @bad_owner, @bad_mode, @bad_time);
for my $line (split /\n/, $out) {
    my ($mode, $owner, $size, $date, $time, $name) = split ' ', $line, 6;
    $entries{$name} = $mode;
    push @bad_owner, $name unless $owner eq '0/0';
    push @bad_time, $name unless "$date $time" eq '1970-01-01 00:00';
    push @bad_mode, "$name $mode" if $mode =~ /^.....w|^........w/;
}

is_deeply([sort keys %entries], [sort @expected],
    'it holds nginx/render, the template and all of nginx/html, no more');
ok(exists $entries{'nginx/html/index.html'}, 'the tenant page is in it');
ok(exists $entries{'nginx/html/site/index.html'}, 'the main page is in it');
is_deeply(\@bad_owner, [], 'every file belongs to 0/0');
is_deeply(\@bad_time, [], 'every file has the fixed time');
is_deeply(\@bad_mode, [], 'no file is writable by group or others');
like($entries{'nginx/render'} // '', qr/^-rwxr-xr-x/,
    'nginx/render stays executable');

my $again = "$dir/again.tar.gz";
($rc, $out) = capture(["$top/docker/ui-bundle", $again]);
is(read_text($again), read_text($bundle),
    'a second run gives the same bytes');

($rc, $out) = capture(["$top/docker/ui-bundle"]);
isnt($rc, 0, 'no output named: refused');

# Unpacked the way the web stage of the Dockerfile unpacks it.
my $tree = "$dir/tree";
my $state = "$dir/state";
make_path($tree, map { "$state/$_" } qw(log run nginx));
($rc, $out) = capture(['tar', '-xzf', $bundle, '-C', $tree]);
is($rc, 0, 'the tarball unpacks') or diag($out);

($rc, $out) = capture(["$tree/nginx/render", "$state/nginx/nginx.conf"],
    TENANTRY_STATE => $state, TENANTRY_DOMAIN => 'example.com',
    TENANTRY_PORT => 8080, TENANTRY_LISTEN_ADDR => '0.0.0.0',
    TENANTRY_FASTCGI => '127.0.0.1:9000');
is($rc, 0, 'the unpacked render script renders the configuration')
    or diag($out);

my $conf = -r "$state/nginx/nginx.conf" ? read_text("$state/nginx/nginx.conf")
    : '';
like($conf, qr{root \Q$tree\E/nginx/html;},
    'which serves the unpacked html (the render default)');
like($conf, qr/server 127\.0\.0\.1:9000;/, 'and reaches tenantd over TCP');
like($conf, qr/listen 0\.0\.0\.0:8080/, 'and listens on every address');

($rc, $out) = capture(['/usr/sbin/nginx', '-t', '-q', '-e', 'stderr',
    '-p', "$state/nginx/", '-c', "$state/nginx/nginx.conf"]);
is($rc, 0, 'nginx accepts it') or diag($out);

done_testing();
