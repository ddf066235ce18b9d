// The details of projects and boards: renaming and deleting projects,
// errors at their fields, a task changed by someone else while it is being
// edited (412), deleting a task, an unknown project, and a session that
// ends under the user's feet.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { openBrowser, registerTenant, signInWithForm, stack, uniqueSub }
  from "./lib/harness.js";
import { cannotRun, scenario } from "./lib/steps.js";

const skip = cannotRun();

describe("projects and board details", { skip: skip || false }, function () {
  const step = scenario(function () {
    return browser;
  });
  const subdomain = skip ? "" : uniqueSub("board");
  let owner;
  let browser;
  let page;

  function task(title) {
    return page.locator(".task", { hasText: title });
  }

  function dialog() {
    return page.getByRole("dialog", { name: "Edit task" });
  }

  // A same-origin request from the page, as another tab would make it.
  function fromPage(method, path, body) {
    return page.evaluate(async function ([method, path, body]) {
      const response = await fetch(path, { method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json" },
        body: body === null ? undefined : JSON.stringify(body) });
      return response.status;
    }, [method, path, body === undefined ? null : body]);
  }

  before(async function () {
    owner = await registerTenant(subdomain, "Board Details");
    browser = await openBrowser({ name: "board" });
    page = browser.page;
  });

  after(async function () {
    if (browser) {
      await browser.close();
    }
  });

  step("the owner signs in", async function () {
    await page.goto(stack.tenantUrl(subdomain) + "/");
    await signInWithForm(page, owner.email, owner.password);
    await page.getByText("No projects yet").waitFor();
  });

  step("an empty project name is refused at its field", async function () {
    await page.getByRole("button", { name: "Create project" }).click();
    const error = page.locator("#view form .field-error").first();
    await error.waitFor();
    assert.match(await error.innerText(), /1 to 200/);
  });

  step("a project is renamed, with an error first", async function () {
    await page.getByLabel("Name", { exact: true }).fill("Scratch");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("link", { name: "Scratch" }).waitFor();

    await page.getByRole("button", { name: "Rename Scratch" }).click();
    const input = page.getByLabel("New name for Scratch", { exact: true });
    assert.equal(await input.evaluate(function (node) {
      return node === document.activeElement;
    }), true, "the new name's field has focus");
    await input.fill("   ");
    await page.getByRole("button", { name: "Save name" }).click();
    await page.locator(".project .field-error").waitFor();
    await browser.shot("rename-error");

    await input.fill("Scratch pad");
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByRole("link", { name: "Scratch pad" }).waitFor();
  });

  step("a project is deleted after a confirmation", async function () {
    await page.getByRole("button", { name: "Delete Scratch pad" }).click();
    await page.getByText("and all of its tasks? This cannot be undone.")
      .waitFor();
    await browser.shot("delete-confirm");
    await page.getByRole("button", { name: "Delete project" }).click();
    await page.getByRole("link", { name: "Scratch pad" })
      .waitFor({ state: "detached" });
    await page.getByText("No projects yet").waitFor();

    await page.reload();
    await page.getByText("No projects yet").waitFor();
  });

  step("an empty task title is refused at its field", async function () {
    await page.getByLabel("Name", { exact: true }).fill("Details");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("link", { name: "Details" }).click();
    await page.getByRole("heading", { name: "Details", level: 1 }).waitFor();

    await page.getByLabel("New task in Doing", { exact: true }).press("Enter");
    const error = page.locator('.column[data-status="doing"] .field-error');
    await error.waitFor();
    assert.match(await error.innerText(), /1 to 200/);

    for (const title of ["Draft the plan", "Check the numbers"]) {
      await page.getByLabel("New task in Doing", { exact: true }).fill(title);
      await page.getByLabel("New task in Doing", { exact: true })
        .press("Enter");
      await task(title).waitFor();
    }
    assert.equal(await error.count(), 0, "the error is gone");
  });

  step("the dialog shows errors at its fields", async function () {
    await page.getByRole("button", { name: "Edit \u201cDraft the plan\u201d" })
      .click();
    await dialog().getByLabel("Title", { exact: true }).fill("");
    await dialog().getByRole("button", { name: "Save changes" }).click();
    await dialog().locator(".field-error").waitFor();
    assert.equal(await dialog().getByLabel("Title", { exact: true })
      .getAttribute("aria-invalid"), "true");
    await browser.shot("dialog-error");
    await page.keyboard.press("Escape");
    await dialog().waitFor({ state: "detached" });
  });

  step("a change made elsewhere meanwhile is not overwritten",
    async function () {
      await page.getByRole("button",
        { name: "Edit \u201cDraft the plan\u201d" }).click();
      await dialog().waitFor();

      const id = await task("Draft the plan").getAttribute("data-task-id");
      assert.equal(await fromPage("PATCH", "/api/tasks/" + id,
        { title: "Draft the final plan" }), 200);

      await dialog().getByLabel("Description", { exact: true })
        .fill("My notes");
      await dialog().getByRole("button", { name: "Save changes" }).click();
      await dialog().getByText("Someone else changed this task").waitFor();
      assert.equal(await dialog().getByLabel("Title", { exact: true })
        .inputValue(), "Draft the final plan", "the form shows their title");
      await browser.shot("conflict");

      await dialog().getByLabel("Description", { exact: true })
        .fill("My notes");
      await dialog().getByRole("button", { name: "Save changes" }).click();
      await dialog().waitFor({ state: "detached" });
      assert.match(await task("Draft the final plan").innerText(), /My notes/);
    });

  step("a task is deleted from its dialog", async function () {
    await page.getByRole("button",
      { name: "Edit \u201cCheck the numbers\u201d" }).click();
    await dialog().getByRole("button", { name: "Delete this task" }).click();
    await dialog().getByRole("button", { name: "Delete task" }).click();
    await dialog().waitFor({ state: "detached" });
    await task("Check the numbers").waitFor({ state: "detached" });
    assert.equal(await page.locator('.column[data-status="doing"] .count')
      .innerText(), "1");
  });

  step("an unknown project says so", async function () {
    await page.goto(stack.tenantUrl(subdomain) + "/#/projects/987654321");
    await page.getByRole("heading", { name: "No such project" }).waitFor();
  });

  step("a session that ends elsewhere brings back the sign-in form",
    async function () {
      await page.getByRole("link", { name: "\u2190 All projects" }).click();
      await page.getByRole("link", { name: "Details" }).waitFor();
      assert.equal(await fromPage("DELETE", "/api/session"), 204);

      await page.getByRole("link", { name: "Details" }).click();
      await page.getByText("Your session has ended. Sign in again.").waitFor();
      assert.equal(await page.locator("#nav").isHidden(), true);
    });

  step("no console errors, CSP reports or outside requests", function () {
    assert.deepEqual(browser.watch.problems, []);
  }, { shot: false });
});
