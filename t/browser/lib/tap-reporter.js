// A node:test reporter for Perl's TAP::Parser: one flat "ok"/"not ok" line
// per step, named "suite > step", with a failure's message as "#" comments
// (node's own TAP reporter nests subtests and writes YAML blocks that
// TAP::Parser does not read).  Used by t/80-browser.t.

function escape(text) {
  return String(text).replace(/#/g, "\\#").replace(/\s+/g, " ").trim();
}

function comment(text) {
  return String(text).split("\n").map(function (line) {
    return "# " + line;
  }).join("\n") + "\n";
}

// A failure's own message, without node's wrapping of it.
function failureText(error) {
  let cause = error;

  while (cause && cause.cause && cause.code === "ERR_TEST_FAILURE") {
    cause = cause.cause;
  }
  return cause && cause.stack ? cause.stack : String(cause);
}

export default async function* tapReporter(source) {
  const names = new Map();
  let count = 0;

  yield "TAP version 13\n";

  for await (const event of source) {
    const data = event.data || {};

    // data.file names where a step was declared, not its test file, so
    // names are kept per nesting level only.
    if (event.type === "test:start") {
      names.set(data.nesting, data.name);
      continue;
    }
    if (event.type !== "test:pass" && event.type !== "test:fail") {
      continue;
    }

    const details = data.details || {};
    const error = details.error;
    const suite = details.type === "suite";

    // A suite is only reported when it failed on its own (a hook, say),
    // not because one of its steps did: that step is already reported.
    if (suite && (event.type === "test:pass" ||
        (error && error.failureType === "subtestsFailed"))) {
      continue;
    }

    const parents = [];
    for (let level = 0; level < data.nesting; level++) {
      parents.push(names.get(level));
    }
    const name = escape(parents.concat(data.name).join(" > "));

    count += 1;
    if (data.skip !== undefined && data.skip !== false) {
      yield "ok " + count + " - " + name + " # SKIP " +
        escape(data.skip === true ? "" : data.skip) + "\n";
    } else if (event.type === "test:pass") {
      yield "ok " + count + " - " + name + "\n";
    } else {
      yield "not ok " + count + " - " + name + "\n" +
        comment(failureText(error));
    }
  }

  yield "1.." + count + "\n";
}
