# Scoping costs no round trip: the request log counts the database round
# trips of each request, and a scoped read is one.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

my $s = stack();
my $sub = unique_sub('rt');
my $res = register($sub, password => 'round trip password');
is($res->{status}, 201, 'a tenant is registered') or BAIL_OUT('no tenant');

my %ids;
for (1 .. 20) {
    my $r = http('GET', host_for($sub), '/api/tenant');
    is($r->{status}, 200, "GET /api/tenant answers") or next;
    $ids{ $r->{headers}{'x-request-id'} } = 1;
}

sub logged_trips {
    my ($wanted) = @_;
    my %trips;

    open my $log, '<', "$s->{state}/log/tenantd.log" or die "log: $!";
    while (my $line = <$log>) {
        next unless $line =~ /request id=(\w+) .* db_round_trips=(\d+)/;
        $trips{$1} = $2 if $wanted->{$1};
    }
    return %trips;
}

my %trips;
ok(wait_until(sub { %trips = logged_trips(\%ids); keys %trips == keys %ids },
    5), 'every request has its log line with its round trips');

my @counts = map { $trips{$_} } sort keys %trips;
ok(!grep({ $_ > 2 } @counts),
    'no read takes more than the tenant lookup and one batch: '
    . join(',', @counts));
ok(scalar(grep { $_ == 1 } @counts),
    'with the tenant cached, the scoped read is a single round trip');

# signed in: the credentials check and the read
my $login = http('POST', host_for($sub), '/api/session',
    json => { email => "owner\@$sub.test", password => 'round trip password' },
    headers => [Origin => "http://" . host_for($sub)]);
is($login->{status}, 201, 'the owner signs in');
my ($cookie) = ($login->{headers}{'set-cookie'} // '') =~ /(tn_session=[^;]+)/;

%ids = ();
for (1 .. 10) {
    my $r = http('GET', host_for($sub), '/api/projects',
        headers => [Cookie => $cookie]);
    is($r->{status}, 200, 'GET /api/projects answers') or next;
    $ids{ $r->{headers}{'x-request-id'} } = 1;
}
ok(wait_until(sub { %trips = logged_trips(\%ids); keys %trips == keys %ids },
    5), 'the signed-in reads are logged');
@counts = map { $trips{$_} } sort keys %trips;
ok(!grep({ $_ > 3 } @counts),
    'a signed-in read is at most lookup, credentials and query: '
    . join(',', @counts));

done_testing();
