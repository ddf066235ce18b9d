// Runs a scenario's steps in order with node:test; once a step fails the
// later ones are skipped, since each builds on the one before.  After
// each step the page is saved as a screenshot (a failed step's too).

import { existsSync } from "node:fs";
import { it } from "node:test";
import { CHROMIUM, stack, stackMissing } from "./harness.js";

// Why the browser tests cannot run here, or "" when they can.
export function cannotRun() {
  if (!stack) {
    return stackMissing;
  }
  if (!existsSync(CHROMIUM)) {
    return CHROMIUM + " is missing (Debian package chromium)";
  }
  return "";
}

// "The owner signs in" -> "the-owner-signs-in", for file names.
function slug(text) {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "").slice(0, 60);
}

// Returns step(name, body, options): options.shot false leaves out the
// screenshot.  browser() gives the openBrowser() result once it exists.
export function scenario(browser) {
  let failed = null;

  return function step(name, body, options = {}) {
    it(name, async function (t) {
      if (failed) {
        t.skip("the step \u201c" + failed + "\u201d failed");
        return;
      }
      try {
        await body(t);
      } catch (error) {
        failed = name;
        if (browser()) {
          await browser().shot("FAILED-" + slug(name)).catch(function () {});
        }
        throw error;
      }
      if (options.shot !== false && browser()) {
        await browser().shot(slug(name));
      }
    });
  };
}
