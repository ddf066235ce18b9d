# Tasks through the tenant API: create, read, change, delete; the board
# order and positions kept 0..n-1 in each column as tasks move; filters
# and pagination; If-Match; every invalid field refused with nothing
# written; strings kept byte for byte; a project's tasks going with it;
# and another tenant's tasks and users out of reach.

use strict;
use warnings;
use utf8;
use MIME::Base64 ();
use Test::More;

use FindBin;
use lib "$FindBin::Bin/lib";
use Tenantry::Test;

my $ts = qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\z/;
my $strong_etag = qr/^"[\x21\x23-\x7e\x80-\xff]*"\z/;
my $json = JSON::PP->new->canonical->ascii;
my %rank = (todo => 0, doing => 1, done => 2);

# Checks the documented members of a task and the values expected.
sub task_ok {
    my ($task, $expect, $name) = @_;

    ok(ref $task eq 'HASH', "$name: a task object") or return;
    ok(json_int($task->{id}) && $task->{id} > 0,
        "$name: the id is a positive JSON integer");
    ok(json_int($task->{project_id}), "$name: project_id is an integer");
    ok(json_int($task->{position}) && $task->{position} >= 0,
        "$name: position is an integer from 0");
    ok(!defined $task->{assignee_id} || json_int($task->{assignee_id}),
        "$name: assignee_id is an integer or null");

    for my $key (qw(title description status assignee_id due_date)) {
        ok(exists $task->{$key}, "$name: has $key");
    }

    for my $key (sort keys %$expect) {
        is($task->{$key}, $expect->{$key}, "$name: $key");
    }

    like($task->{created_at} // '', $ts, "$name: created_at");
    like($task->{updated_at} // '', $ts, "$name: updated_at");
}

# Every task of a project in list order (or an error string).
sub tasks_of {
    my ($auth, $host, $project, $query) = @_;
    my $path = "/api/projects/$project/tasks" . ($query ? "?$query" : '');
    my $all = list_all($auth, $host, $path, 'tasks', limit => 100);

    return $all->{error} ? $all->{error} : $all->{items};
}

# A project's tasks as one string, to see that nothing changed.
sub snapshot {
    my ($auth, $host, $project) = @_;
    my $tasks = tasks_of($auth, $host, $project);

    return ref $tasks ? $json->encode($tasks) : "error: $tasks";
}

# One task and its ETag, as one string.
sub task_state {
    my ($auth, $host, $id) = @_;
    return resource_state($auth, $host, "/api/tasks/$id");
}

# Checks the board against the expected columns (status => [ids in
# position order]): list order, positions 0..n-1, and nothing else.
sub board_ok {
    my ($auth, $host, $project, $expect, $name) = @_;
    my $tasks = tasks_of($auth, $host, $project);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    ok(ref $tasks, "$name: the board lists") or return diag($tasks);

    my %columns;
    for my $task (@$tasks) {
        push @{ $columns{ $task->{status} // 'none' } }, $task;
    }

    my @order = map { $_->{id} } @$tasks;
    my @want = map { @{ $expect->{$_} || [] } } qw(todo doing done);

    is_deeply(\@order, \@want, "$name: order by column, then position");
    for my $status (qw(todo doing done)) {
        my @column = @{ $columns{$status} || [] };

        is_deeply([ map { $_->{position} } @column ], [ 0 .. $#column ],
            "$name: $status positions are 0.." . $#column);
    }
}

# Creates a task; returns the answer's object (or {}).
sub add_task {
    my ($auth, $host, $project, $body, $name) = @_;
    my $res = api($auth, 'POST', $host, "/api/projects/$project/tasks",
        json => $body);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is($res->{status}, 201, $name) or diag($res->{body});
    return ref $res->{json} eq 'HASH' ? $res->{json} : {};
}

# Changes a task; returns the answer's object (or {}).
sub move_task {
    my ($auth, $host, $id, $body, $name) = @_;
    my $res = api($auth, 'PATCH', $host, "/api/tasks/$id", json => $body);

    local $Test::Builder::Level = $Test::Builder::Level + 1;

    is($res->{status}, 200, $name) or diag($res->{body});
    return ref $res->{json} eq 'HASH' ? $res->{json} : {};
}

my $alpha = new_tenant('tska');
my $beta = new_tenant('tskb');
my $owner = { bearer => $alpha->{token} };
my $cookie = { cookie => $alpha->{token} };
my $host = $alpha->{host};
my $member = add_user($alpha, name => 'Task Member');
my $mid = $member->{id} // 0;

my %project;

for my $name (qw(main board pages doomed)) {
    my $res = api($owner, 'POST', $host, '/api/projects',
        json => { name => "Tasks $name" });

    is($res->{status}, 201, "create project $name") or diag($res->{body});
    $project{$name} = $res->{json}{id} // 0;
}

# 1. Create, read, change, delete.

my ($task, $etag);

{
    my $res = api($cookie, 'POST', $host,
        "/api/projects/$project{main}/tasks", json => { title => 'Write' });
    $task = is_json_response($res, 201, 'create a task');
    $etag = $res->{headers}{etag};

    task_ok($task, { project_id => $project{main}, title => 'Write',
        status => 'todo', assignee_id => undef, due_date => undef,
        position => 0 }, 'create a task with defaults');
    ok(!defined $task->{description} || $task->{description} eq '',
        'create a task: description empty or null');
    like($etag // '', $strong_etag, 'create a task: an ETag');

    $res = api($owner, 'POST', $host, "/api/projects/$project{main}/tasks",
        json => { title => 'Review', description => 'Read it twice',
            status => 'doing', assignee_id => $mid, due_date => '2028-02-29',
            position => 0 });
    my $full = is_json_response($res, 201, 'create a task with every field');
    task_ok($full, { project_id => $project{main}, title => 'Review',
        description => 'Read it twice', status => 'doing',
        assignee_id => $mid, due_date => '2028-02-29', position => 0 },
        'create a task with every field');

    $res = api($owner, 'GET', $host, "/api/tasks/$task->{id}");
    is_deeply(is_json_response($res, 200, 'read the task'), $task,
        'read the task: as created');
    like($res->{headers}{etag} // '', $strong_etag, 'read the task: ETag');
    is(api($owner, 'GET', $host, "/api/tasks/$task->{id}")->{headers}{etag},
        $res->{headers}{etag}, 'reading twice gives the same ETag');
}

{
    my $res = api($owner, 'PATCH', $host, "/api/tasks/$task->{id}",
        json => { title => 'Write well', assignee_id => $mid,
            due_date => '2027-01-31' },
        headers => [ 'If-Match' => $etag ]);
    my $changed = is_json_response($res, 200, 'PATCH with the current ETag');
    my $new_etag = $res->{headers}{etag};

    task_ok($changed, { id => $task->{id}, title => 'Write well',
        assignee_id => $mid, due_date => '2027-01-31', status => 'todo',
        created_at => $task->{created_at} }, 'PATCH with the current ETag');
    like($new_etag // '', $strong_etag, 'PATCH: an ETag');
    isnt($new_etag // '', $etag // '', 'PATCH: a new ETag');
    is(api($owner, 'GET', $host, "/api/tasks/$task->{id}")->{headers}{etag},
        $new_etag, 'GET gives the ETag PATCH gave');

    my $state = task_state($owner, $host, $task->{id});

    for my $stale ($etag, '"not-an-etag"', '"0"') {
        is_problem_slug(api($owner, 'PATCH', $host, "/api/tasks/$task->{id}",
            json => { title => 'Stale', status => 'done' },
            headers => [ 'If-Match' => $stale ]), 412, 'precondition-failed',
            "PATCH a task with If-Match $stale");
        is(task_state($owner, $host, $task->{id}), $state,
            "PATCH a task with If-Match $stale: nothing changed");
    }

    $res = api($owner, 'PATCH', $host, "/api/tasks/$task->{id}",
        json => { assignee_id => undef, due_date => undef });
    is($res->{status}, 200, 'PATCH assignee and due date to null')
        or diag($res->{body});
    ok(exists $res->{json}{assignee_id} && !defined $res->{json}{assignee_id},
        'the assignee is cleared');
    ok(exists $res->{json}{due_date} && !defined $res->{json}{due_date},
        'the due date is cleared');
    is($res->{json}{title}, 'Write well', 'the title is kept');

    $res = api($owner, 'PATCH', $host, "/api/tasks/$task->{id}",
        json => { project_id => $project{board}, id => 999999,
            created_at => '2000-01-01T00:00:00.000Z' });
    is($res->{status}, 200, 'PATCH with fields it does not take')
        or diag($res->{body});
    my $now = api($owner, 'GET', $host, "/api/tasks/$task->{id}")->{json};
    is($now->{project_id}, $project{main}, 'the task stays in its project');
    is($now->{created_at}, $task->{created_at}, 'created_at is kept');
}

{
    my $doomed = add_task($owner, $host, $project{main},
        { title => 'Throwaway' }, 'create a task to delete');
    my $res = api($cookie, 'DELETE', $host, "/api/tasks/$doomed->{id}");

    is($res->{status}, 204, 'delete a task') or diag($res->{body});
    is($res->{body}, '', 'delete a task: no body');
    is_problem_slug(api($owner, 'GET', $host, "/api/tasks/$doomed->{id}"),
        404, 'not-found', 'GET the deleted task');
    is_problem_slug(api($owner, 'PATCH', $host, "/api/tasks/$doomed->{id}",
        json => { title => 'Back' }), 404, 'not-found',
        'PATCH the deleted task');
    is_problem_slug(api($owner, 'DELETE', $host, "/api/tasks/$doomed->{id}"),
        404, 'not-found', 'DELETE the deleted task');
}

for my $id (999999, 0, -1, 'abc', '1.5', '99999999999999999999999') {
    for my $method (qw(GET PATCH DELETE)) {
        is_problem_slug(api($owner, $method, $host, "/api/tasks/$id",
            $method eq 'PATCH' ? (json => { title => 'X' }) : ()), 404,
            'not-found', "$method /api/tasks/$id");
    }

    is_problem_slug(api($owner, 'GET', $host, "/api/projects/$id/tasks"),
        404, 'not-found', "GET /api/projects/$id/tasks");
    is_problem_slug(api($owner, 'POST', $host, "/api/projects/$id/tasks",
        json => { title => 'Orphan' }), 404, 'not-found',
        "POST /api/projects/$id/tasks");
}

is_problem_slug(http('GET', $host, "/api/tasks/$task->{id}"), 401,
    'unauthenticated', 'read a task without a credential');
is_problem_slug(http('POST', $host, "/api/projects/$project{main}/tasks",
    json => { title => 'Anonymous' }), 401, 'unauthenticated',
    'create a task without a credential');

# 2. The board: each column ordered by position, positions 0..n-1, and
#    renumbered as tasks come, move and go.

my %board = (todo => [], doing => [], done => []);
my %id;

for my $name (qw(t0 t1 t2 t3)) {
    my $t = add_task($owner, $host, $project{board}, { title => $name },
        "board: add $name");

    is($t->{position}, scalar @{ $board{todo} },
        "board: $name goes to the end of todo");
    $id{$name} = $t->{id} // 0;
    push @{ $board{todo} }, $id{$name};
}

for my $name (qw(d0 d1)) {
    my $t = add_task($owner, $host, $project{board},
        { title => $name, status => 'doing' }, "board: add $name");

    is($t->{position}, scalar @{ $board{doing} },
        "board: $name goes to the end of doing");
    $id{$name} = $t->{id} // 0;
    push @{ $board{doing} }, $id{$name};
}

board_ok($owner, $host, $project{board}, \%board, 'board as added');

{
    my $t = add_task($owner, $host, $project{board},
        { title => 'n', position => 0 }, 'board: add n at the front of todo');

    is($t->{position}, 0, 'board: n is at position 0');
    $id{n} = $t->{id} // 0;
    unshift @{ $board{todo} }, $id{n};
    board_ok($owner, $host, $project{board}, \%board, 'after adding n first');
}

# t2 only moves later: the first move renumbers it, so its ETag must
# change then.
my $t2_etag = api($owner, 'GET', $host, "/api/tasks/$id{t2}")
    ->{headers}{etag};

# Each move: the task, its new column and position, and the board after.
my @moves = (
    [ 't1', 'doing', 0, 'move t1 to the front of doing' ],
    [ 't3', undef, 0, 'move t3 to the front of its column' ],
    [ 'd1', 'done', 0, 'move d1 to the empty done column' ],
    [ 'n', undef, 3, 'move n to the end of todo' ],
    [ 'd0', 'todo', 1, 'move d0 into todo at position 1' ],
    [ 't0', 'done', 1, 'move t0 to the end of done' ],
    [ 't2', 'doing', 1, 'move t2 between the tasks of doing' ],
);

for my $move (@moves) {
    my ($name, $status, $position, $what) = @$move;
    my ($from) = grep { grep { $_ == $id{$name} } @{ $board{$_} } }
        keys %board;
    my $to = $status // $from;
    my %body = (position => $position);

    $body{status} = $status if defined $status;
    @{ $board{$from} } = grep { $_ != $id{$name} } @{ $board{$from} };
    splice @{ $board{$to} }, $position, 0, $id{$name};

    my $t = move_task($owner, $host, $id{$name}, \%body, "board: $what");

    is($t->{status}, $to, "board: $what: status");
    is($t->{position}, $position, "board: $what: position");
    board_ok($owner, $host, $project{board}, \%board, "after: $what");

    if ($move == $moves[0]) {
        my $t2 = api($owner, 'GET', $host, "/api/tasks/$id{t2}");

        is($t2->{json}{position}, 2, 'board: t2 moved up by renumbering');
        isnt($t2->{headers}{etag} // '', $t2_etag // '',
            'board: a task renumbered by another\'s move has a new ETag');
        is_problem_slug(api($owner, 'PATCH', $host, "/api/tasks/$id{t2}",
            json => { title => 't2' }, headers => [ 'If-Match' => $t2_etag ]),
            412, 'precondition-failed',
            'board: PATCH t2 with its ETag from before the renumbering');
    }
}

{
    my $res = api($owner, 'DELETE', $host, "/api/tasks/$id{d0}");

    is($res->{status}, 204, 'board: delete d0 from the middle of todo');
    @{ $board{todo} } = grep { $_ != $id{d0} } @{ $board{todo} };
    board_ok($owner, $host, $project{board}, \%board, 'after deleting d0');
}

# 3. Filters by status and assignee.

for my $name (qw(t3 t2 d1)) {
    move_task($owner, $host, $id{$name}, { assignee_id => $mid },
        "assign $name to the member");
}

{
    my $tasks = tasks_of($owner, $host, $project{board});
    my %assigned = map { $id{$_} => 1 } qw(t3 t2 d1);
    my @everything = ref $tasks ? map { $_->{id} } @$tasks : ();

    for my $status (qw(todo doing done)) {
        my $got = tasks_of($owner, $host, $project{board}, "status=$status");

        is_deeply(ref $got ? [ map { $_->{id} } @$got ] : $got,
            $board{$status}, "filter status=$status");
    }

    my $got = tasks_of($owner, $host, $project{board}, "assignee=$mid");
    is_deeply(ref $got ? [ map { $_->{id} } @$got ] : $got,
        [ grep { $assigned{$_} } @everything ], "filter assignee=$mid");

    $got = tasks_of($owner, $host, $project{board},
        "status=doing&assignee=$mid");
    is_deeply(ref $got ? [ map { $_->{id} } @$got ] : $got,
        [ grep { $assigned{$_} } @{ $board{doing} } ],
        'filter status=doing and the assignee');

    $got = tasks_of($owner, $host, $project{board},
        "assignee=$alpha->{user}{id}");
    is_deeply($got, [], 'filter by a user with no tasks');
}

for my $case (
    [ 'status=blocked', 'status' ], [ 'status=TODO', 'status' ],
    [ 'status=' . uri_escape("todo' OR '1'='1"), 'status' ],
    [ 'assignee=abc', 'assignee' ], [ 'assignee=1.5', 'assignee' ],
    [ 'assignee=' . uri_escape('1 OR 1=1'), 'assignee' ],
    [ 'limit=0', 'limit' ], [ 'limit=101', 'limit' ],
    [ 'limit=abc', 'limit' ], [ 'cursor=!!!', 'cursor' ],
    [ 'cursor=zzzzzzzz', 'cursor' ],
    )
{
    my ($query, $field) = @$case;

    refused_ok(api($owner, 'GET', $host,
        "/api/projects/$project{board}/tasks?$query"), [ 400, 422 ], [$field],
        "list tasks with $query");
}

# 4. Pagination: every task exactly once, in board order.

{
    my @statuses = qw(done todo doing todo done todo doing);
    my @made;

    for my $n (0 .. $#statuses) {
        my $t = add_task($owner, $host, $project{pages},
            { title => "Page task $n", status => $statuses[$n] },
            "pages: add task $n");
        push @made, $t if $t->{id};
    }

    my @want = map { $_->{id} } sort {
        $rank{ $a->{status} } <=> $rank{ $b->{status} }
            || $a->{position} <=> $b->{position} || $a->{id} <=> $b->{id}
    } @made;

    for my $limit (1, 3, 100) {
        my $all = list_all($owner, $host,
            "/api/projects/$project{pages}/tasks", 'tasks', limit => $limit);

        ok(!$all->{error}, "tasks with limit $limit: every page answered")
            or diag($all->{error});
        is_deeply([ map { $_->{id} } @{ $all->{items} } ], \@want,
            "tasks with limit $limit: each task once, in board order");
    }

    my $all = list_all($owner, $host,
        "/api/projects/$project{pages}/tasks", 'tasks', limit => 3);
    is_deeply([ map { scalar @{ $_->{json}{tasks} || [] } }
        @{ $all->{pages} } ], [ 3, 3, 1 ], 'tasks with limit 3: page sizes');

    $all = list_all($owner, $host,
        "/api/projects/$project{pages}/tasks?status=todo", 'tasks',
        limit => 1);
    is_deeply([ map { $_->{id} } @{ $all->{items} } ],
        [ grep { my $i = $_; grep { $_->{id} == $i
            && $_->{status} eq 'todo' } @made } @want ],
        'status=todo with limit 1: each todo task once');
}

# 5. Invalid tasks are refused with every invalid field named, and
#    nothing is written.

my $foreign_user = do {
    my @mine = map { $_->{id} } @{ api($owner, 'GET', $host,
        '/api/users')->{json}{users} || [] };
    my %mine = map { $_ => 1 } @mine;

    add_user($beta, name => "Beta Person $_") for 1 .. 3;

    my @theirs = grep { !$mine{$_} } map { $_->{id} } @{ api({ bearer =>
        $beta->{token} }, 'GET', $beta->{host}, '/api/users')->{json}{users}
        || [] };

    ok(@theirs, 'tenant B has a user id tenant A has not');
    $theirs[0] // 999998;
};

my @bad_tasks = (
    [ 'no title', {}, ['title'] ],
    [ 'an empty title', { title => '' }, ['title'] ],
    [ 'a title of 201 characters', { title => 't' x 201 }, ['title'] ],
    [ 'a title of 201 accented letters', { title => 'é' x 201 }, ['title'] ],
    [ 'a numeric title', { title => 9 }, ['title'] ],
    [ 'a null title', { title => undef }, ['title'] ],
    [ 'a title that is a list', { title => ['t'] }, ['title'] ],
    [ 'a description of 10001 characters', { description => 'd' x 10001 },
        ['description'] ],
    [ 'a numeric description', { description => 1 }, ['description'] ],
    [ 'status blocked', { status => 'blocked' }, ['status'] ],
    [ 'status TODO', { status => 'TODO' }, ['status'] ],
    [ 'an empty status', { status => '' }, ['status'] ],
    [ 'a numeric status', { status => 0 }, ['status'] ],
    [ 'an assignee id as a string', { assignee_id => "$mid" },
        ['assignee_id'] ],
    [ 'a fractional assignee id', { assignee_id => 1.5 }, ['assignee_id'] ],
    [ 'a boolean assignee', { assignee_id => JSON::PP::true },
        ['assignee_id'] ],
    [ 'an assignee that does not exist', { assignee_id => 999999 },
        ['assignee_id'] ],
    [ 'an assignee id of 0', { assignee_id => 0 }, ['assignee_id'] ],
    [ 'a negative assignee id', { assignee_id => -1 }, ['assignee_id'] ],
    [ 'a user of another tenant as assignee',
        { assignee_id => $foreign_user + 0 }, ['assignee_id'] ],
    [ 'due date February 30th', { due_date => '2026-02-30' }, ['due_date'] ],
    [ 'due date February 29th of 2025', { due_date => '2025-02-29' },
        ['due_date'] ],
    [ 'due date tomorrow', { due_date => 'tomorrow' }, ['due_date'] ],
    [ 'due date in month 13', { due_date => '2026-13-01' }, ['due_date'] ],
    [ 'a due date without zeros', { due_date => '2026-1-5' }, ['due_date'] ],
    [ 'a due date with a time', { due_date => '2026-02-28T00:00:00Z' },
        ['due_date'] ],
    [ 'a due date in another order', { due_date => '28.02.2026' },
        ['due_date'] ],
    [ 'an empty due date', { due_date => '' }, ['due_date'] ],
    [ 'a numeric due date', { due_date => 20260101 }, ['due_date'] ],
    [ 'a due date with SQL', { due_date => "2026-01-01'; --" },
        ['due_date'] ],
    [ 'a negative position', { position => -1 }, ['position'] ],
    [ 'a position as a string', { position => '1' }, ['position'] ],
    [ 'a fractional position', { position => 1.5 }, ['position'] ],
    [ 'a boolean position', { position => JSON::PP::false }, ['position'] ],
    [ 'a huge position', { position => 1e20 }, ['position'] ],
    [ 'three bad fields', { title => '', status => 'later', position => -2 },
        [qw(title status position)] ],
    [ 'a valid move and a bad due date',
        { status => 'todo', position => 0, due_date => '2026-02-30' },
        ['due_date'] ],
    [ 'a valid move and an unknown assignee',
        { status => 'done', position => 0, assignee_id => 999999 },
        ['assignee_id'] ],
);

for my $case (@bad_tasks) {
    my ($what, $change, $fields) = @$case;
    my %body = (title => 'Valid title', %$change);

    delete $body{title} if $what eq 'no title';

    my $before = snapshot($owner, $host, $project{main});
    my $res = api($owner, 'POST', $host,
        "/api/projects/$project{main}/tasks", json => \%body);

    refused_ok($res, [422], $fields, "create a task with $what");

    my %invalid = map { $_ => 1 } @$fields;
    my @wrongly = sort grep { !$invalid{$_} } problem_fields($res);
    is("@wrongly", '', "create a task with $what: valid fields not blamed");
    is(snapshot($owner, $host, $project{main}), $before,
        "create a task with $what: nothing written");
}

{
    my $before = snapshot($owner, $host, $project{main});

    is_problem_slug(api($owner, 'POST', $host,
        "/api/projects/$project{main}/tasks",
        headers => [ 'Content-Type' => 'application/json' ],
        body => '{"title": '), 400, 'invalid-json',
        'create a task with malformed JSON');
    is_problem(api($owner, 'POST', $host,
        "/api/projects/$project{main}/tasks",
        headers => [ 'Content-Type' => 'text/plain' ],
        body => '{"title": "Plain"}'), 415,
        'create a task with a text/plain body');
    is(snapshot($owner, $host, $project{main}), $before,
        'the malformed requests wrote nothing');
}

for my $case (
    [ 'a title of 200 characters', { title => 't' x 200 } ],
    [ 'a title of 200 accented letters', { title => 'é' x 200 } ],
    [ 'a description of 10000 characters',
        { title => 'Long', description => 'd' x 10000 } ],
    [ 'a null assignee and due date',
        { title => 'Nulls', assignee_id => undef, due_date => undef } ],
    [ 'a leap day', { title => 'Leap', due_date => '2024-02-29' } ],
    [ 'the member as assignee', { title => 'Mine', assignee_id => $mid } ],
    )
{
    my ($what, $body) = @$case;
    my $t = add_task($owner, $host, $project{main}, $body,
        "a task with $what is accepted");

    for my $key (sort keys %$body) {
        is($t->{$key}, $body->{$key}, "a task with $what: $key kept");
    }
}

{
    my $target = add_task($owner, $host, $project{main},
        { title => 'Patch target', status => 'doing', due_date => '2027-06-30',
            assignee_id => $mid }, 'create a task to patch');

    for my $case (@bad_tasks) {
        my ($what, $body, $fields) = @$case;

        next if $what eq 'no title';

        my $before = task_state($owner, $host, $target->{id});
        my $board = snapshot($owner, $host, $project{main});
        my $res = api($owner, 'PATCH', $host, "/api/tasks/$target->{id}",
            json => $body);

        refused_ok($res, [422], $fields, "PATCH a task with $what");
        is(task_state($owner, $host, $target->{id}), $before,
            "PATCH a task with $what: the task is unchanged");
        is(snapshot($owner, $host, $project{main}), $board,
            "PATCH a task with $what: no other task changed");
    }
}

# 6. Strings with SQL, JSON and format metacharacters come back as sent.

{
    my @nasty = (
        q{Robert'); DROP TABLE tasks; --},
        q{' OR '1'='1},
        q{"quoted" and \backslash\ and \\\\two},
        q{100% _wild_ [a-z]* $1 $$dollar$$ E'\x41'},
        q{%s %n %x %d %%},
        q{/* comment */ -- comment ; SELECT 1},
        q{<script>alert(1)</script> &amp; &#39;},
        '"', '\\', '}"', '\u0000 \n', q{'}, q{''}, q{\'},
        "été 日本 \x{1F600}",
    );

    for my $text (@nasty) {
        my $what = $json->encode([$text]);
        my $t = add_task($owner, $host, $project{main},
            { title => $text, description => "desc $text" },
            "create a task with $what");

        is($t->{title}, $text, "create with $what: title verbatim");
        is($t->{description}, "desc $text",
            "create with $what: description verbatim");

        my $id = $t->{id} // next;
        my $read = api($owner, 'GET', $host, "/api/tasks/$id")->{json};
        is($read->{title}, $text, "read $what: title verbatim");
        is($read->{description}, "desc $text",
            "read $what: description verbatim");

        my $patched = move_task($owner, $host, $id,
            { title => "again $text", description => "again $text" },
            "PATCH with $what");
        is($patched->{title}, "again $text", "PATCH with $what: verbatim");
        is($patched->{description}, "again $text",
            "PATCH with $what: description verbatim");

        my $listed = tasks_of($owner, $host, $project{main});
        my ($found) = grep { $_->{id} == $id } ref $listed ? @$listed : ();
        is($found->{title}, "again $text", "list with $what: verbatim");
    }
}

# A description is text of several lines: newlines and tabs stay.
{
    my $text = "first line\nsecond\tcolumn\r\nthird\n";
    my $t = add_task($owner, $host, $project{main},
        { title => 'Multi-line', description => $text },
        'a task description of several lines');

    is(api($owner, 'GET', $host, '/api/tasks/' . ($t->{id} // 0))
        ->{json}{description}, $text, 'the lines come back as sent');
}

# Control characters, NUL and titles of blanks only: the contract leaves
# them open, so each is either stored as sent or refused with a 422
# that names the field; never a server error, never changed silently.
for my $case (
    [ 'title', "line\nbreak" ], [ 'title', "tab\there" ],
    [ 'title', "bell \x07" ], [ 'title', "delete \x7f" ],
    [ 'title', '   ' ], [ 'title', "nul \x00 byte" ],
    [ 'description', "escape \x1b[31m red" ],
    [ 'description', "nul \x00 byte" ],
    )
{
    my ($field, $text) = @$case;
    my $what = "$field " . $json->encode([$text]);
    my %body = (title => 'Control', $field => $text);
    my $before = snapshot($owner, $host, $project{main});
    my $res = api($owner, 'POST', $host,
        "/api/projects/$project{main}/tasks", json => \%body);

    if ($res->{status} == 201) {
        is($res->{json}{$field}, $text, "$what: stored as sent");
        is(api($owner, 'GET', $host, "/api/tasks/$res->{json}{id}")
            ->{json}{$field}, $text, "$what: read back as sent");
    } else {
        refused_ok($res, [422], [$field], "$what: refused");
        is(snapshot($owner, $host, $project{main}), $before,
            "$what: nothing written");
    }
}

# 7. Deleting a project deletes its tasks.

{
    my @doomed = map {
        add_task($owner, $host, $project{doomed},
            { title => "Doomed $_", status => $_ }, "doomed: add a $_ task")
    } qw(todo doing done);

    my $res = api($owner, 'DELETE', $host, "/api/projects/$project{doomed}");
    is($res->{status}, 204, 'delete a project with tasks')
        or diag($res->{body});

    for my $t (@doomed) {
        is_problem_slug(api($owner, 'GET', $host, "/api/tasks/$t->{id}"), 404,
            'not-found', "its task $t->{id} is gone");
        is_problem_slug(api($owner, 'PATCH', $host, "/api/tasks/$t->{id}",
            json => { title => 'Revived' }), 404, 'not-found',
            "its task $t->{id} cannot be changed");
    }

    is_problem_slug(api($owner, 'GET', $host,
        "/api/projects/$project{doomed}/tasks"), 404, 'not-found',
        'the deleted project has no task list');
    is_problem_slug(api($owner, 'POST', $host,
        "/api/projects/$project{doomed}/tasks", json => { title => 'Late' }),
        404, 'not-found', 'no task can be added to the deleted project');
}

# 8. Another tenant's tasks and projects are not there.

{
    my $as_beta = { bearer => $beta->{token} };
    my $before = snapshot($owner, $host, $project{board});
    my $state = task_state($owner, $host, $id{t2});

    for my $name (sort keys %id) {
        next if $name eq 'd0';
        is_problem_slug(api($as_beta, 'GET', $beta->{host},
            "/api/tasks/$id{$name}"), 404, 'not-found',
            "GET A's task $name on B");
        is_problem_slug(api($as_beta, 'PATCH', $beta->{host},
            "/api/tasks/$id{$name}", json => { title => 'Taken',
                status => 'done', position => 0 }), 404, 'not-found',
            "PATCH A's task $name on B");
        is_problem_slug(api($as_beta, 'DELETE', $beta->{host},
            "/api/tasks/$id{$name}"), 404, 'not-found',
            "DELETE A's task $name on B");
    }

    is_problem_slug(api($as_beta, 'GET', $beta->{host},
        "/api/projects/$project{board}/tasks"), 404, 'not-found',
        'list the tasks of A\'s project on B');
    is_problem_slug(api($as_beta, 'POST', $beta->{host},
        "/api/projects/$project{board}/tasks", json => { title => 'Planted' }),
        404, 'not-found', 'add a task to A\'s project on B');

    is(snapshot($owner, $host, $project{board}), $before,
        'A\'s board is unchanged');
    is(task_state($owner, $host, $id{t2}), $state, 'A\'s task is unchanged');
}

# A cursor crafted with numbers out of range is refused, not a 5xx.
for my $plain ('t:0:2147483648:1', 't:9:0:1', 't:0:0:99999999999999999999') {
    (my $cursor = MIME::Base64::encode_base64url($plain)) =~ s/=+\z//;
    my $res = api($owner, 'GET', $host,
        "/api/projects/$project{main}/tasks?cursor=$cursor");
    refused_ok($res, [422], ['cursor'], "the crafted cursor $plain");
}

# An unknown assignee is listed with every other invalid field at once.
{
    my $res = api($owner, 'POST', $host, "/api/projects/$project{main}/tasks",
        json => { title => '', assignee_id => 999999, status => 'later' });
    refused_ok($res, [422], [qw(title assignee_id status)],
        'three invalid fields, one of them an unknown assignee');
}

done_testing();
