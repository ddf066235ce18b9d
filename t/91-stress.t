# Faults under load, the short form of script/stress on the test stack:
# killed workers cost at most their requests in flight; recycling, nginx
# reloads and SIGHUP cost none; SIGTERM lets requests in flight finish;
# a database that goes away gives prompt 503s and comes back by itself;
# a statement held past its timeout is a 503 and the worker carries on;
# and every tenant's data is intact after each fault.

use strict;
use warnings;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;
use Tenantry::Stress qw(run_scenarios);

stack();

run_scenarios(short => 1, progress => sub {
    my ($scenario) = @_;

    subtest $scenario->{name} => sub {
        for my $check (@{ $scenario->{checks} }) {
            ok($check->{ok}, $check->{name}) or diag($check->{detail});
        }
        note(explain($scenario->{figures}));
    };
});

done_testing();
