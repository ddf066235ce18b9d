// The operator registers a tenant on the admin page; its owner signs in on
// the tenant's subdomain, creates a project, adds three tasks, moves one to
// done, edits another, reloads to see it all kept, and signs out.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { openBrowser, stack, uniqueSub, signInWithForm, unlabelledControls }
  from "./lib/harness.js";
import { cannotRun, scenario } from "./lib/steps.js";

const skip = cannotRun();

// The control whose label is exactly this text, within a page or dialog.
function labelled(within, text) {
  return within.getByLabel(text, { exact: true });
}

describe("admin page, sign-in and board", { skip: skip || false }, function () {
  const step = scenario(function () {
    return browser;
  });
  const subdomain = skip ? "" : uniqueSub("flow");
  const owner = { email: "owner@" + subdomain + ".test",
    password: "a long initial secret", name: "Olivia Owner" };
  let browser;
  let page;

  before(async function () {
    browser = await openBrowser({ name: "flow" });
    page = browser.page;
  });

  after(async function () {
    if (browser) {
      await browser.close();
    }
  });

  step("the admin page asks for the admin token", async function () {
    await page.goto(stack.mainUrl + "/admin/");
    await labelled(page, "Admin token").waitFor();
    assert.equal(await page.title(), "Tenants \u2014 Tenantry admin");
    assert.deepEqual(await unlabelledControls(page), []);
  });

  step("a wrong token is refused in words", async function () {
    await labelled(page, "Admin token").fill("not-the-token");
    await page.getByRole("button", { name: "Use token" }).click();
    await page.getByText("The admin token was not accepted").waitFor();
    assert.equal(await page.evaluate(function () {
      return window.sessionStorage.getItem("tenantry.admin-token");
    }), null, "a refused token is not kept");
  });

  step("the token opens the tenant list", async function () {
    await labelled(page, "Admin token").fill(stack.token);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { name: /All tenants/ }).waitFor();
    await page.locator("#tenants tbody tr").first().waitFor();
    assert.equal(await page.evaluate(function () {
      return window.sessionStorage.getItem("tenantry.admin-token");
    }), stack.token, "the token is kept in sessionStorage");
    assert.equal(await page.evaluate(function () {
      return window.localStorage.length;
    }), 0, "nothing is kept in localStorage");
  });

  step("invalid values are shown next to their fields", async function () {
    await labelled(page, "Subdomain").fill("Not_Valid");
    await labelled(page, "Display name").fill("Flow Test Ltd");
    await labelled(page, "E-mail address").fill(owner.email);
    await labelled(page, "Initial password").fill("short");
    await page.getByRole("button", { name: "Register tenant" }).click();

    const subdomainError = page.locator("#subdomain-error");
    const passwordError = page.locator("#owner-password-error");

    await subdomainError.waitFor();
    assert.match(await subdomainError.innerText(), /lower-case/i);
    assert.match(await passwordError.innerText(), /8/);
    assert.equal(await labelled(page, "Subdomain")
      .getAttribute("aria-invalid"), "true");
    assert.ok((await labelled(page, "Subdomain")
      .getAttribute("aria-describedby")).includes("subdomain-error"),
      "the error describes its field");
    assert.equal(await page.evaluate(function () {
      return document.activeElement.id;
    }), "subdomain", "focus moves to the first field in error");
  });

  step("the operator registers a tenant", async function () {
    await labelled(page, "Subdomain").fill(subdomain);
    await labelled(page, "Name (optional)").fill(owner.name);
    await labelled(page, "Initial password").fill(owner.password);
    await page.getByRole("button", { name: "Register tenant" }).click();

    await page.getByText("Registered Flow Test Ltd").waitFor();
    assert.equal(await page.locator(".field-error").count(), 0,
      "the field errors are gone");
    await page.locator('#tenants tr[data-subdomain="' + subdomain + '"]')
      .waitFor();
  });

  step("the tenant's page names it and asks to sign in", async function () {
    await page.getByRole("link", { name: stack.tenantUrl(subdomain) + "/" })
      .click();
    await page.waitForURL(stack.tenantUrl(subdomain) + "/**");
    await page.getByRole("heading", { name: "Sign in to Flow Test Ltd" })
      .waitFor();
    assert.equal(await page.locator("#tenant-name").innerText(),
      "Flow Test Ltd");
    assert.deepEqual(await unlabelledControls(page), []);
  });

  step("a wrong password is refused in words", async function () {
    await labelled(page, "E-mail address").fill(owner.email);
    await labelled(page, "Password").fill("not the password");
    await page.getByRole("button", { name: "Sign in" }).click();

    const message = page.locator("form .form-message.error");
    await message.waitFor();
    assert.match(await message.innerText(),
      /password|credentials|too many/i);
  });

  step("the owner signs in", async function () {
    await signInWithForm(page, owner.email, owner.password);
    await page.getByRole("heading", { name: "Projects", level: 1 }).waitFor();
    assert.equal(await page.locator("#me-name").innerText(), owner.name);
    await page.getByText("No projects yet").waitFor();
  });

  step("the owner creates a project and opens its board", async function () {
    await labelled(page, "Name").fill("Launch plan");
    await labelled(page, "Description (optional)")
      .fill("Everything for the spring launch.");
    await page.getByRole("button", { name: "Create project" }).click();

    const link = page.getByRole("link", { name: "Launch plan" });
    await link.waitFor();
    await browser.shot("project-created");

    await link.click();
    await page.getByRole("heading", { name: "Launch plan", level: 1 })
      .waitFor();
    assert.match(page.url(), /#\/projects\/\d+$/);
  });

  step("the owner adds three tasks", async function () {
    const todo = page.locator('.column[data-status="todo"]');

    for (const title of ["Write the announcement", "Book the venue",
      "Order the banners"]) {
      await labelled(page, "New task in To do").fill(title);
      await labelled(page, "New task in To do").press("Enter");
      await todo.locator(".task-title", { hasText: title }).waitFor();
    }

    assert.equal(await todo.locator(".task").count(), 3);
    assert.deepEqual(await todo.locator(".task-title").allInnerTexts(),
      ["Write the announcement", "Book the venue", "Order the banners"]);
    assert.equal(await todo.locator(".count").innerText(), "3");
  });

  step("a task moves to done with the keyboard", async function () {
    const move = page.getByRole("button",
      { name: "Move \u201cBook the venue\u201d to Done" });

    await move.focus();
    await page.keyboard.press("Enter");

    const done = page.locator('.column[data-status="done"]');
    await done.locator(".task-title", { hasText: "Book the venue" }).waitFor();
    assert.equal(await page.locator('.column[data-status="todo"] .task')
      .count(), 2);
    assert.equal(await page.evaluate(function () {
      return document.activeElement.getAttribute("data-task-id") !== null &&
        document.activeElement.textContent.includes("Book the venue");
    }), true, "focus follows the moved task");
  });

  step("a task is edited: description, assignee, due date", async function () {
    await page.getByRole("button",
      { name: "Edit \u201cOrder the banners\u201d" }).click();

    const dialog = page.getByRole("dialog", { name: "Edit task" });
    await dialog.waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    await labelled(dialog, "Title").fill("Order the banners and flags");
    await labelled(dialog, "Description")
      .fill("Two banners, ten flags.");
    await labelled(dialog, "Assignee")
      .selectOption({ label: owner.name + " (you)" });
    await labelled(dialog, "Due date").fill("2031-03-14");
    await labelled(dialog, "Column").selectOption("doing");
    await browser.shot("task-dialog");
    await dialog.getByRole("button", { name: "Save changes" }).click();
    await dialog.waitFor({ state: "detached" });

    const card = page.locator('.column[data-status="doing"] .task',
      { hasText: "Order the banners and flags" });
    await card.waitFor();
    assert.match(await card.innerText(), /Assigned to you/);
    assert.match(await card.innerText(), /Due 14 Mar 2031/);
    assert.match(await card.innerText(), /Two banners, ten flags\./);
  });

  step("a reload shows the same board", async function () {
    await page.reload();
    await page.getByRole("heading", { name: "Launch plan", level: 1 })
      .waitFor();

    const titles = async function (status) {
      return page.locator('.column[data-status="' + status + '"] .task-title')
        .allInnerTexts();
    };

    await page.locator(".task").first().waitFor();
    assert.deepEqual(await titles("todo"), ["Write the announcement"]);
    assert.deepEqual(await titles("doing"), ["Order the banners and flags"]);
    assert.deepEqual(await titles("done"), ["Book the venue"]);
  });

  step("the owner signs out, and a reload stays signed out", async function () {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await browser.shot("signed-out");

    await page.reload();
    await page.getByRole("heading", { name: "Sign in to Flow Test Ltd" })
      .waitFor();
    assert.equal(await page.locator("#nav").isHidden(), true);
  });

  step("no console errors, CSP reports or outside requests", function () {
    assert.deepEqual(browser.watch.problems, []);
  }, { shot: false });
});
