# Runs last: no secret the test run used appears in any log line the
# stack wrote (tenantd, nginx, PostgreSQL): not the admin token, not the
# demo owner's password, not any password the tests sent.
use strict;
use warnings;

use Test::More;

use Tenantry::Test;

my $s = stack();
my %secrets = (admin_token => $s->{token});

if (open my $fh, '<', "$s->{state}/demo-owner") {
    my (undef, $password) = split ' ', scalar <$fh> // '';
    $secrets{'demo password'} = $password if $password;
}

# every password literal the tests send
for my $file (glob "$s->{top}/t/*.t") {
    open my $fh, '<', $file or next;
    while (my $line = <$fh>) {
        while ($line =~ /password["']?\s*(?:=>|:)\s*\\?["']([^"'\\]{8,})/g) {
            $secrets{"password in $file"} //= $1;
        }
    }
}
ok(keys %secrets > 5, 'the secrets to look for are collected: '
    . scalar(keys %secrets));

my @logs = grep { -f } glob "$s->{state}/log/*.log";
ok(@logs >= 3, 'the stack wrote logs: ' . join(', ',
    map { m{([^/]+)$} } @logs));

for my $log (@logs) {
    open my $fh, '<', $log or next;
    local $/;
    my $text = <$fh> // '';
    my @found = grep { index($text, $secrets{$_}) >= 0 } sort keys %secrets;
    my ($name) = $log =~ m{([^/]+)$};
    is("@found", '', "$name holds none of them");
}

done_testing();
