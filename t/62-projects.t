# Projects through the tenant API: create, read, change with and without
# If-Match, delete; pagination by an opaque cursor; every invalid field
# refused with nothing written; strings kept byte for byte; and another
# tenant's projects out of sight.

use strict;
use warnings;
use utf8;
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $ts = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $strong_etag = qr/^"[\x21\x23-\x7e\x80-\xff]*"\z/;
my $json = JSON::PP->new->canonical->ascii;

# Checks the documented members of a project and the values expected.
sub project_ok {
    my ($project, $expect, $name) = @_;

    ok(ref $project eq 'HASH', "$name: a project object") or return;
    ok(json_int($project->{id}) && $project->{id} > 0,
        "$name: the id is a positive JSON integer");

    for my $key (sort keys %$expect) {
        is($project->{$key}, $expect->{$key}, "$name: $key");
    }

    ok(exists $project->{description}, "$name: has a description");
    like($project->{created_at} // '', $ts, "$name: created_at");
    like($project->{updated_at} // '', $ts, "$name: updated_at");
}

# Every project of a tenant, in list order, as one string.
sub snapshot {
    my ($auth, $host) = @_;
    my $all = list_all($auth, $host, '/api/projects', 'projects',
        limit => 100);

    return $all->{error} ? "error: $all->{error}"
        : $json->encode($all->{items});
}

# One project and its ETag, as one string.
sub project_state {
    my ($auth, $host, $id) = @_;
    return resource_state($auth, $host, "/api/projects/$id");
}

my $alpha = new_tenant('pra');
my $beta = new_tenant('prb');
my $owner = { bearer => $alpha->{token} };
my $cookie = { cookie => $alpha->{token} };
my $host = $alpha->{host};

# 1. Create, read, change, delete.

my ($project, $etag);

{
    my $res = api($cookie, 'POST', $host, '/api/projects',
        json => { name => 'Launch', description => 'Ship the first version' });
    $project = is_json_response($res, 201, 'create a project');
    $etag = $res->{headers}{etag};

    project_ok($project, { name => 'Launch',
        description => 'Ship the first version' }, 'create a project');
    like($etag // '', $strong_etag, 'create a project: an ETag');

    $res = api($owner, 'GET', $host, "/api/projects/$project->{id}");
    my $read = is_json_response($res, 200, 'read the project');
    is_deeply($read, $project, 'read the project: as created');
    like($res->{headers}{etag} // '', $strong_etag, 'read the project: ETag');

    my $again = api($owner, 'GET', $host, "/api/projects/$project->{id}");
    is($again->{headers}{etag}, $res->{headers}{etag},
        'reading twice gives the same ETag');

    $res = api($owner, 'POST', $host, '/api/projects',
        json => { name => 'No Description' });
    my $bare = is_json_response($res, 201, 'create a project without a'
        . ' description');
    ok(!defined $bare->{description} || $bare->{description} eq '',
        'without a description: empty or null');
}

{
    my $before = project_state($owner, $host, $project->{id});
    my $res = api($owner, 'PATCH', $host, "/api/projects/$project->{id}",
        json => { name => 'Launch v1' }, headers => [ 'If-Match' => $etag ]);
    my $changed = is_json_response($res, 200, 'PATCH with the current ETag');
    my $new_etag = $res->{headers}{etag};

    project_ok($changed, { id => $project->{id}, name => 'Launch v1',
        description => 'Ship the first version',
        created_at => $project->{created_at} }, 'PATCH with the current ETag');
    like($new_etag // '', $strong_etag, 'PATCH: an ETag');
    isnt($new_etag // '', $etag // '', 'PATCH: a new ETag');
    ok(($changed->{updated_at} // '') ge $project->{updated_at},
        'PATCH: updated_at does not go back');

    my $read = api($owner, 'GET', $host, "/api/projects/$project->{id}");
    is($read->{headers}{etag}, $new_etag, 'GET gives the ETag PATCH gave');
    is_deeply($read->{json}, $changed, 'GET gives what PATCH answered');

    my $state = project_state($owner, $host, $project->{id});

    for my $stale ($etag, '"not-an-etag"', '"0"') {
        is_problem_slug(api($owner, 'PATCH', $host,
            "/api/projects/$project->{id}", json => { name => 'Stale' },
            headers => [ 'If-Match' => $stale ]), 412, 'precondition-failed',
            "PATCH with If-Match $stale");
        is(project_state($owner, $host, $project->{id}), $state,
            "PATCH with If-Match $stale: nothing changed");
    }

    $res = api($cookie, 'PATCH', $host, "/api/projects/$project->{id}",
        json => { description => 'Now with notes' },
        headers => [ 'If-Match' => $new_etag ]);
    is($res->{status}, 200, 'PATCH the description with the current ETag')
        or diag($res->{body});
    is($res->{json}{name}, 'Launch v1', 'PATCH the description: name kept');
    is($res->{json}{description}, 'Now with notes',
        'PATCH the description: description');
    isnt($res->{headers}{etag} // '', $new_etag // '',
        'PATCH the description: a new ETag');

    $res = api($owner, 'PATCH', $host, "/api/projects/$project->{id}",
        json => { name => 'Launch v2' });
    is($res->{status}, 200, 'PATCH without If-Match') or diag($res->{body});
    is($res->{json}{name}, 'Launch v2', 'PATCH without If-Match: name');
    like($res->{headers}{etag} // '', $strong_etag,
        'PATCH without If-Match: an ETag');
}

{
    my $res = api($owner, 'POST', $host, '/api/projects',
        json => { name => 'Short-lived' });
    my $id = $res->{json}{id} // 0;

    $res = api($cookie, 'DELETE', $host, "/api/projects/$id");
    is($res->{status}, 204, 'delete a project') or diag($res->{body});
    is($res->{body}, '', 'delete a project: no body');

    is_problem_slug(api($owner, 'GET', $host, "/api/projects/$id"), 404,
        'not-found', 'GET the deleted project');
    is_problem_slug(api($owner, 'PATCH', $host, "/api/projects/$id",
        json => { name => 'Back' }), 404, 'not-found',
        'PATCH the deleted project');
    is_problem_slug(api($owner, 'DELETE', $host, "/api/projects/$id"), 404,
        'not-found', 'DELETE the deleted project');
    unlike(snapshot($owner, $host), qr/Short-lived/,
        'the deleted project is not listed');
}

for my $id (999999, 0, -1, 'abc', '1.5', '1abc', '99999999999999999999999') {
    for my $method (qw(GET PATCH DELETE)) {
        is_problem_slug(api($owner, $method, $host, "/api/projects/$id",
            $method eq 'PATCH' ? (json => { name => 'X' }) : ()), 404,
            'not-found', "$method /api/projects/$id");
    }
}

# 2. Members work with projects too; nobody without a credential does.

{
    my $member = add_user($alpha, name => 'Proj Member', sign_in => 1);
    my $res = api({ cookie => $member->{token} }, 'POST', $host,
        '/api/projects', json => { name => 'Member Project' });

    is($res->{status}, 201, 'a member creates a project')
        or diag($res->{body});
    is(api({ cookie => $member->{token} }, 'GET', $host,
        "/api/projects/$project->{id}")->{status}, 200,
        'a member reads the owner\'s project');

    my $before = snapshot($owner, $host);

    is_problem_slug(http('GET', $host, '/api/projects'), 401,
        'unauthenticated', 'list projects without a credential');
    is_problem_slug(http('GET', $host, "/api/projects/$project->{id}"), 401,
        'unauthenticated', 'read a project without a credential');
    is_problem_slug(http('POST', $host, '/api/projects',
        json => { name => 'Anonymous' }), 401, 'unauthenticated',
        'create a project without a credential');
    is(snapshot($owner, $host), $before,
        'the anonymous request created nothing');
}

# 3. Pagination: every project exactly once, in id order.

{
    my $gamma = new_tenant('prc');
    my $g = { bearer => $gamma->{token} };
    my @made;

    for my $n (1 .. 7) {
        my $res = api($g, 'POST', $gamma->{host}, '/api/projects',
            json => { name => "Page item $n" });
        push @made, $res->{json}{id} if $res->{status} == 201;
    }

    is(scalar @made, 7, 'seven projects created');

    my %cases = (3 => [ 3, 3, 1 ], 1 => [ (1) x 7 ], 7 => undef,
        100 => [7], default => [7]);

    for my $limit (sort keys %cases) {
        my $all = list_all($g, $gamma->{host}, '/api/projects', 'projects',
            $limit eq 'default' ? () : (limit => $limit));
        my @ids = map { $_->{id} } @{ $all->{items} };
        my @sizes = map { scalar @{ $_->{json}{projects} || [] } }
            @{ $all->{pages} };

        ok(!$all->{error}, "limit $limit: every page answered")
            or diag($all->{error});
        is_deeply(\@ids, \@made, "limit $limit: each project once, by id");
        is_deeply(\@sizes, $cases{$limit}, "limit $limit: page sizes")
            if $cases{$limit};
        ok($sizes[0] == 7 && (@sizes == 1 || (@sizes == 2 && !$sizes[1])),
            "limit $limit: one full page, maybe an empty one after")
            if !$cases{$limit};

        my $last = $all->{pages}[-1]{json} || {};
        ok(exists $last->{next_cursor} && !defined $last->{next_cursor},
            "limit $limit: the last page has a null next_cursor");
        for my $page (@{ $all->{pages} }[0 .. $#{ $all->{pages} } - 1]) {
            like($page->{json}{next_cursor} // '', qr/\S/,
                "limit $limit: a page before the last has a cursor");
        }
    }

    my $first = api($g, 'GET', $gamma->{host}, '/api/projects?limit=3');
    my $cursor = $first->{json}{next_cursor} // '';
    my $second = api($g, 'GET', $gamma->{host},
        '/api/projects?limit=3&cursor=' . uri_escape($cursor));

    is_deeply([ map { $_->{id} } @{ $second->{json}{projects} || [] } ],
        [ @made[3 .. 5] ], 'the cursor leads to the next three');
    is(api($g, 'GET', $gamma->{host},
        '/api/projects?limit=3&cursor=' . uri_escape($cursor))->{body},
        $second->{body}, 'the same cursor gives the same page again');

    my @bad_queries = (
        [ 'limit=0', 'limit' ], [ 'limit=101', 'limit' ],
        [ 'limit=abc', 'limit' ], [ 'limit=-1', 'limit' ],
        [ 'limit=1.5', 'limit' ], [ 'limit=3abc', 'limit' ],
        [ 'limit=', 'limit' ],
        [ 'limit=99999999999999999999', 'limit' ],
        [ 'cursor=!!!', 'cursor' ], [ 'cursor=zzzzzzzz', 'cursor' ],
        [ 'cursor=' . uri_escape("' OR '1'='1"), 'cursor' ],
        [ 'cursor=not%20a%20cursor', 'cursor' ],
    );

    for my $case (@bad_queries) {
        my ($query, $field) = @$case;

        refused_ok(api($g, 'GET', $gamma->{host}, "/api/projects?$query"),
            [ 400, 422 ], [$field], "list projects with $query");
    }

    unlike(snapshot({ bearer => $beta->{token} }, $beta->{host}),
        qr/Page item/, 'another tenant lists none of these');
}

# 4. Invalid projects are refused with the fields named, and nothing is
#    written.

my @bad_projects = (
    [ 'no name', { description => 'x' }, ['name'] ],
    [ 'an empty name', { name => '' }, ['name'] ],
    [ 'a name of 201 characters', { name => 'n' x 201 }, ['name'] ],
    [ 'a name of 201 accented letters', { name => 'é' x 201 }, ['name'] ],
    [ 'a numeric name', { name => 12 }, ['name'] ],
    [ 'a null name', { name => undef }, ['name'] ],
    [ 'a name that is a list', { name => ['n'] }, ['name'] ],
    [ 'a name that is an object', { name => { n => 1 } }, ['name'] ],
    [ 'a boolean name', { name => JSON::PP::true }, ['name'] ],
    [ 'a description of 10001 characters',
        { name => 'ok', description => 'd' x 10001 }, ['description'] ],
    [ 'a numeric description', { name => 'ok', description => 5 },
        ['description'] ],
    [ 'a description that is a list', { name => 'ok', description => [] },
        ['description'] ],
    [ 'both fields bad', { name => '', description => 7 },
        [qw(name description)] ],
);

for my $case (@bad_projects) {
    my ($what, $body, $fields) = @$case;
    my $before = snapshot($owner, $host);
    my $res = api($owner, 'POST', $host, '/api/projects', json => $body);

    refused_ok($res, [422], $fields, "create a project with $what");
    is(snapshot($owner, $host), $before,
        "create a project with $what: nothing written");
}

{
    my $before = snapshot($owner, $host);

    is_problem_slug(api($owner, 'POST', $host, '/api/projects',
        headers => [ 'Content-Type' => 'application/json' ],
        body => '{"name": "Half'), 400, 'invalid-json',
        'create a project with malformed JSON');
    is_problem(api($owner, 'POST', $host, '/api/projects',
        headers => [ 'Content-Type' => 'text/plain' ],
        body => '{"name": "Plain"}'), 415,
        'create a project with a text/plain body');
    is_problem(api($owner, 'POST', $host, '/api/projects',
        body => '{"name": "Untyped"}'), 415,
        'create a project without a content type');
    is(snapshot($owner, $host), $before,
        'the malformed requests wrote nothing');
}

for my $case (
    [ '200 characters', 'n' x 200 ],
    [ '200 accented letters', 'é' x 200 ],
    [ '200 emoji', "\x{1F600}" x 200 ],
    [ 'one character', 'x' ],
    )
{
    my ($what, $name) = @$case;
    my $res = api($owner, 'POST', $host, '/api/projects',
        json => { name => $name, description => 'é' x 10000 });

    is($res->{status}, 201, "a name of $what is accepted")
        or diag(substr $res->{body}, 0, 300);
    is($res->{json}{name}, $name, "a name of $what is kept");
    is($res->{json}{description}, 'é' x 10000,
        "a description of 10000 accented letters is kept ($what)");
}

my @bad_patches = (
    [ 'an empty name', { name => '' }, ['name'] ],
    [ 'a name of 201 characters', { name => 'n' x 201 }, ['name'] ],
    [ 'a numeric name', { name => 1 }, ['name'] ],
    [ 'a null name', { name => undef }, ['name'] ],
    [ 'a description of 10001 characters', { description => 'd' x 10001 },
        ['description'] ],
    [ 'a numeric description', { description => 0 }, ['description'] ],
    [ 'a valid name and a bad description',
        { name => 'Would Change', description => [] }, ['description'] ],
);

for my $case (@bad_patches) {
    my ($what, $body, $fields) = @$case;
    my $before = project_state($owner, $host, $project->{id});
    my $res = api($owner, 'PATCH', $host, "/api/projects/$project->{id}",
        json => $body);

    refused_ok($res, [422], $fields, "PATCH a project with $what");
    is(project_state($owner, $host, $project->{id}), $before,
        "PATCH a project with $what: nothing changed");
}

# 5. Strings with SQL, JSON and format metacharacters come back as sent.

my @nasty = (
    q{Robert'); DROP TABLE projects; --},
    q{' OR '1'='1},
    q{"quoted" and \backslash\ and \\\\two},
    q{100% _wild_ [a-z]* $1 $$dollar$$ E'\x41' U&'\0041'},
    q{%s %n %x %d %% %1$s},
    q{/* comment */ -- comment ; SELECT 1},
    q{<script>alert(1)</script> &amp; &#39;},
    '"', '\\', '}"', '\u0000 \n', q{'}, q{''}, q{\'},
    "été 日本 \x{1F600}",
);

{
    my %made;

    for my $text (@nasty) {
        my $res = api($owner, 'POST', $host, '/api/projects',
            json => { name => $text, description => "desc $text" });
        my $what = $json->encode([$text]);

        is($res->{status}, 201, "create with $what") or diag($res->{body});
        is($res->{json}{name}, $text, "create with $what: name verbatim");
        is($res->{json}{description}, "desc $text",
            "create with $what: description verbatim");

        my $id = $res->{json}{id} // next;
        my $read = api($owner, 'GET', $host, "/api/projects/$id");

        is($read->{json}{name}, $text, "read $what: name verbatim");
        is($read->{json}{description}, "desc $text",
            "read $what: description verbatim");

        my $patched = api($owner, 'PATCH', $host, "/api/projects/$id",
            json => { name => "again $text", description => "again $text" });
        is($patched->{json}{name}, "again $text",
            "PATCH with $what: name verbatim");
        is($patched->{json}{description}, "again $text",
            "PATCH with $what: description verbatim");
        $made{$id} = "again $text";
    }

    my $all = list_all($owner, $host, '/api/projects', 'projects',
        limit => 100);
    my %listed = map { ($_->{id} // 0) => $_->{name} } @{ $all->{items} };

    is_deeply({ map { $_ => $listed{$_} } keys %made }, \%made,
        'the list shows every string verbatim');
}

# A description is text of several lines: newlines and tabs stay.
{
    my $text = "first line\nsecond\tcolumn\r\nthird\n";
    my $res = api($owner, 'POST', $host, '/api/projects',
        json => { name => 'Multi-line', description => $text });

    is($res->{status}, 201, 'a description of several lines')
        or diag($res->{body});
    is(api($owner, 'GET', $host, '/api/projects/' . ($res->{json}{id} // 0))
        ->{json}{description}, $text, 'the lines come back as sent');
}

# Control characters, NUL and names of blanks only: the contract leaves
# them open, so each is either stored as sent or refused with a 422
# that names the field; never a server error, never changed silently.
for my $case (
    [ 'name', "line\nbreak" ], [ 'name', "tab\there" ],
    [ 'name', "bell \x07" ], [ 'name', "delete \x7f" ],
    [ 'name', '   ' ], [ 'name', "nul \x00 byte" ],
    [ 'description', "escape \x1b[31m red" ],
    [ 'description', "nul \x00 byte" ],
    )
{
    my ($field, $text) = @$case;
    my $what = "$field " . $json->encode([$text]);
    my %body = (name => 'Control', $field => $text);
    my $before = snapshot($owner, $host);
    my $res = api($owner, 'POST', $host, '/api/projects', json => \%body);

    if ($res->{status} == 201) {
        is($res->{json}{$field}, $text, "$what: stored as sent");
        is(api($owner, 'GET', $host, "/api/projects/$res->{json}{id}")
            ->{json}{$field}, $text, "$what: read back as sent");
    } else {
        refused_ok($res, [422], [$field], "$what: refused");
        is(snapshot($owner, $host), $before, "$what: nothing written");
    }
}

# 6. Another tenant's projects are not there.

{
    my $as_beta = { bearer => $beta->{token} };
    my $state = project_state($owner, $host, $project->{id});
    my $before = snapshot($owner, $host);
    my $res = api($as_beta, 'POST', $beta->{host}, '/api/projects',
        json => { name => 'Beta Only' });
    my $beta_id = $res->{json}{id} // 0;
    my @ids = grep { $_ != $beta_id } map { $_->{id} } @{ $json->decode(
        $before =~ /^error/ ? '[]' : $before) };

    is($res->{status}, 201, 'tenant B creates one project');
    ok(@ids > 3, 'tenant A has project ids tenant B does not');

    for my $id (@ids[0 .. 3], $project->{id}) {
        next if $id == $beta_id;
        is_problem_slug(api($as_beta, 'GET', $beta->{host},
            "/api/projects/$id"), 404, 'not-found', "GET A's project $id on B");
        is_problem_slug(api($as_beta, 'PATCH', $beta->{host},
            "/api/projects/$id", json => { name => 'Taken' }), 404,
            'not-found', "PATCH A's project $id on B");
        is_problem_slug(api($as_beta, 'DELETE', $beta->{host},
            "/api/projects/$id"), 404, 'not-found',
            "DELETE A's project $id on B");
    }

    is(project_state($owner, $host, $project->{id}), $state,
        'A\'s project is unchanged');
    is(snapshot($owner, $host), $before, 'A\'s projects are unchanged');
    is_deeply([ map { $_->{name} } @{ list_all($as_beta, $beta->{host},
        '/api/projects', 'projects')->{items} } ], ['Beta Only'],
        'B lists only its own project');
}

done_testing();
