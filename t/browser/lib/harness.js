// Shared set-up for Tenantry's browser tests: the running stack (from the
// same environment as the Perl harness), Chromium through playwright-core,
// screenshots as artifacts, and a watch on console errors and CSP reports.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync }
  from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));

export const CHROMIUM = process.env.TENANTRY_TEST_CHROMIUM ||
  "/usr/bin/chromium";

// The stack under test, or null with the reason in stackMissing.
export const stack = readStack();
export let stackMissing = "";

function readStack() {
  const state = process.env.TENANTRY_TEST_STATE;
  const port = process.env.TENANTRY_TEST_PORT;
  const domain = process.env.TENANTRY_TEST_DOMAIN || "localhost";

  if (!state || !port) {
    stackMissing = "TENANTRY_TEST_STATE and TENANTRY_TEST_PORT name no " +
      "running stack (t/80-browser.t sets them)";
    return null;
  }

  return {
    state,
    port: Number(port),
    domain,
    token: readFileSync(path.join(state, "admin-token"), "utf8")
      .split("\n")[0].trim(),
    mainUrl: "http://" + domain + ":" + port,
    tenantUrl(subdomain) {
      return "http://" + subdomain + "." + domain + ":" + port;
    }
  };
}

export const artifacts = process.env.TENANTRY_TEST_ARTIFACTS ||
  path.join(here, "..", "artifacts");

let counter = 0;

// A fresh valid subdomain that no other run uses.
export function uniqueSub(prefix) {
  counter += 1;
  return (prefix + process.pid.toString(36) +
    Date.now().toString(36).slice(-5) + counter).toLowerCase().slice(0, 63);
}

// Starts Chromium with a fresh profile.  options: viewport, name (for the
// screenshots' file names).  Returns {context, page, shot, watch, close}.
export async function openBrowser(options = {}) {
  const profile = mkdtempSync(path.join(tmpdir(), "tenantry-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: options.viewport || { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    locale: "en-GB",
    timezoneId: "UTC",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--host-resolver-rules=MAP *." + (stack ? stack.domain : "localhost") +
        " 127.0.0.1, MAP " + (stack ? stack.domain : "localhost") + " 127.0.0.1"
    ]
  });
  const page = context.pages()[0] || await context.newPage();
  const watch = watchPage(page);
  const prefix = options.name || "browser";
  let shots = 0;

  context.setDefaultTimeout(15000);
  mkdirSync(artifacts, { recursive: true });

  // The screenshots of an earlier run of this scenario go first.
  for (const file of readdirSync(artifacts)) {
    if (file.startsWith(prefix + "-") && file.endsWith(".png")) {
      rmSync(path.join(artifacts, file), { force: true });
    }
  }

  return {
    context,
    page,
    watch,

    // Saves a screenshot of the whole page as NAME-NN-what.png.
    async shot(what) {
      shots += 1;
      const file = path.join(artifacts,
        prefix + "-" + String(shots).padStart(2, "0") + "-" + what + ".png");
      await page.screenshot({ path: file, fullPage: true });
      return file;
    },

    async close() {
      await context.close().catch(function () {});
      rmSync(profile, { recursive: true, force: true });
    }
  };
}

// Collects what should never happen on Tenantry's pages: console errors
// (CSP violations among them), uncaught exceptions, and requests that
// leave the stack.
export function watchPage(page) {
  const problems = [];

  page.on("console", function (message) {
    // A failed request is reported by the console too; the tests expect
    // some (a wrong password is a 401), so those are left to the tests.
    if (message.type() === "error" &&
        !/Failed to load resource/.test(message.text())) {
      problems.push("console: " + message.text());
    }
  });
  page.on("pageerror", function (error) {
    problems.push("exception: " + error.message);
  });
  page.on("request", function (request) {
    const url = new URL(request.url());
    if (stack && url.protocol !== "data:" &&
        !(url.hostname === stack.domain ||
          url.hostname.endsWith("." + stack.domain))) {
      problems.push("request outside the stack: " + request.url());
    }
  });

  return {
    problems,
    clear() {
      problems.length = 0;
    }
  };
}

// One JSON request to the stack over plain HTTP, with the Host header the
// browser would send.  Resolves to {status, headers, body, json}.
export function httpJson(method, host, urlPath, options = {}) {
  const body = options.body === undefined ? null
    : Buffer.from(JSON.stringify(options.body));
  const headers = Object.assign({ Host: host, Accept: "application/json" },
    options.headers || {});

  if (body) {
    headers["Content-Type"] = "application/json";
    headers["Content-Length"] = String(body.length);
  }
  if (options.bearer) {
    headers.Authorization = "Bearer " + options.bearer;
  }

  return new Promise(function (resolve, reject) {
    const request = http.request({ host: "127.0.0.1", port: stack.port,
      method, path: urlPath, headers, timeout: 15000 }, function (response) {
      const chunks = [];

      response.on("data", function (chunk) {
        chunks.push(chunk);
      });
      response.on("end", function () {
        const text = Buffer.concat(chunks).toString("utf8");
        let json = null;

        try {
          json = JSON.parse(text);
        } catch (failure) {
          json = null;
        }
        resolve({ status: response.statusCode, headers: response.headers,
          body: text, json });
      });
    });

    request.on("timeout", function () {
      request.destroy(new Error(method + " " + urlPath + " timed out"));
    });
    request.on("error", reject);
    if (body) {
      request.write(body);
    }
    request.end();
  });
}

// Onboards a tenant through the admin API; returns its owner's login.
export async function registerTenant(subdomain, name) {
  const owner = { email: "owner@" + subdomain + ".test",
    password: "correct horse " + subdomain, name: "Olivia Owner" };
  const answer = await httpJson("POST", stack.domain + ":" + stack.port,
    "/admin/register-user", { bearer: stack.token,
      body: { subdomain, name, owner } });

  if (answer.status !== 201) {
    throw new Error("registering " + subdomain + " answered " +
      answer.status + ": " + answer.body);
  }
  return owner;
}

// Signs in through the page's form.  The stack limits sign-ins per client
// address and other tests share that limit, so a "too many" answer is
// waited out for up to 75 seconds.  Resolves once the form is gone.
export async function signInWithForm(page, email, password) {
  const deadline = Date.now() + 75000;

  for (;;) {
    await page.getByLabel("E-mail address", { exact: true }).fill(email);
    await page.getByLabel("Password", { exact: true }).fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();

    const outcome = await Promise.race([
      page.getByRole("link", { name: "Projects", exact: true })
        .waitFor({ state: "visible" }).then(function () {
          return "in";
        }, function () {
          return "timeout";
        }),
      page.locator("form .form-message.error").waitFor({ state: "visible" })
        .then(function () {
          return "error";
        }, function () {
          return "timeout";
        })
    ]);

    if (outcome === "timeout") {
      throw new Error("sign-in: neither the app nor an error appeared");
    }

    if (outcome === "in") {
      return;
    }

    const text = await page.locator("form .form-message.error").innerText();
    if (!/too many/i.test(text) || Date.now() > deadline) {
      throw new Error("sign-in failed: " + text);
    }
    await page.waitForTimeout(3000);
  }
}

// Every visible form control without a label, by its name; [] when all
// are labelled.
export async function unlabelledControls(page) {
  return page.evaluate(function () {
    return Array.from(document.querySelectorAll("input, select, textarea"))
      .filter(function (control) {
        return control.type !== "hidden" && control.offsetParent !== null &&
          control.labels.length === 0 &&
          !control.getAttribute("aria-label") &&
          !control.getAttribute("aria-labelledby");
      }).map(function (control) {
        return control.name || control.id || control.outerHTML.slice(0, 60);
      });
  });
}

// How far the page is wider than its viewport (0 when nothing overflows).
export async function horizontalOverflow(page) {
  return page.evaluate(function () {
    return document.documentElement.scrollWidth - window.innerWidth;
  });
}
