// The board at phone width (375 x 812): nothing wider than the screen,
// columns stacked, controls large enough to tap, and a task moved and
// edited with the keyboard alone.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { horizontalOverflow, openBrowser, registerTenant, signInWithForm,
  stack, uniqueSub, unlabelledControls } from "./lib/harness.js";
import { cannotRun, scenario } from "./lib/steps.js";

const skip = cannotRun();

describe("the board at phone width", { skip: skip || false }, function () {
  const step = scenario(function () {
    return browser;
  });
  const subdomain = skip ? "" : uniqueSub("phone");
  let owner;
  let browser;
  let page;

  before(async function () {
    owner = await registerTenant(subdomain, "Pocket Projects");
    browser = await openBrowser({ name: "phone",
      viewport: { width: 375, height: 812 } });
    page = browser.page;
  });

  after(async function () {
    if (browser) {
      await browser.close();
    }
  });

  step("the sign-in form fits the screen", async function () {
    await page.goto(stack.tenantUrl(subdomain) + "/");
    await page.getByRole("heading", { name: "Sign in to Pocket Projects" })
      .waitFor();
    assert.equal(await horizontalOverflow(page), 0);
    await browser.shot("signin");
    await signInWithForm(page, owner.email, owner.password);
  });

  step("a project with tasks in every column", async function () {
    await page.getByLabel("Name", { exact: true }).fill("Field work");
    await page.getByRole("button", { name: "Create project" }).click();
    await page.getByRole("link", { name: "Field work" }).click();
    await page.getByRole("heading", { name: "Field work", level: 1 })
      .waitFor();

    const tasks = [["todo", "To do", "Survey the north meadow"],
      ["todo", "To do", "Collect soil samples from all twelve plots " +
        "along the eastern boundary"],
      ["doing", "Doing", "Label the jars"],
      ["done", "Done", "Charge the tablets"]];

    for (const [status, label, title] of tasks) {
      const input = page.getByLabel("New task in " + label, { exact: true });

      await input.fill(title);
      await input.press("Enter");
      await page.locator('.column[data-status="' + status + '"] .task-title',
        { hasText: title }).waitFor();
    }
  });

  step("the columns are stacked and nothing overflows", async function () {
    const boxes = await page.locator(".column").evaluateAll(function (nodes) {
      return nodes.map(function (node) {
        const box = node.getBoundingClientRect();
        return { x: box.x, y: box.y, width: box.width };
      });
    });

    assert.equal(boxes.length, 3);
    assert.equal(boxes[0].x, boxes[1].x, "doing is below to do");
    assert.equal(boxes[1].x, boxes[2].x, "done is below doing");
    assert.ok(boxes[0].y < boxes[1].y && boxes[1].y < boxes[2].y,
      "the columns keep their order");
    assert.ok(boxes[0].width > 300, "a column takes the screen's width");
    assert.equal(await horizontalOverflow(page), 0);

    const small = await page.locator("button:visible").evaluateAll(
      function (nodes) {
        return nodes.filter(function (node) {
          const box = node.getBoundingClientRect();
          return box.height < 36 || box.width < 36;
        }).map(function (node) {
          return node.textContent.trim();
        });
      });
    assert.deepEqual(small, [], "every button is at least 36 px square");
  });

  step("a task moves with the keyboard alone", async function () {
    const edit = page.getByRole("button",
      { name: "Edit \u201cSurvey the north meadow\u201d" });

    await edit.focus();
    await page.keyboard.press("Tab");
    assert.equal(await page.evaluate(function () {
      return document.activeElement.getAttribute("aria-label");
    }), "Move \u201cSurvey the north meadow\u201d to Doing");
    await page.keyboard.press("Space");
    await page.locator('.column[data-status="doing"] .task-title',
      { hasText: "Survey the north meadow" }).waitFor();
    assert.equal(await horizontalOverflow(page), 0);
  });

  step("the task dialog fits the screen and closes with Escape",
    async function () {
      await page.getByRole("button",
        { name: "Edit \u201cLabel the jars\u201d" }).click();

      const dialog = page.getByRole("dialog", { name: "Edit task" });
      await dialog.waitFor();

      const box = await dialog.boundingBox();
      assert.ok(box.x >= 0 && box.x + box.width <= 375,
        "the dialog is within the screen: " + JSON.stringify(box));
      assert.deepEqual(await unlabelledControls(page), []);
      await browser.shot("dialog");

      // The dialog leaves the accessibility tree as it closes; focus comes
      // back to Edit a moment later, when the close event has run.
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      await page.waitForFunction(function () {
        return document.activeElement.getAttribute("aria-label") ===
          "Edit \u201cLabel the jars\u201d";
      }, null, { timeout: 5000 });
    });

  step("the projects, users and account pages fit too", async function () {
    for (const [hash, heading] of [["#/projects", "Projects"],
      ["#/users", "Users"], ["#/account", "Your account"]]) {
      await page.goto(stack.tenantUrl(subdomain) + "/" + hash);
      await page.getByRole("heading", { name: heading, level: 1 }).waitFor();
      await page.waitForLoadState("networkidle");
      assert.equal(await horizontalOverflow(page), 0, hash + " overflows");
      assert.deepEqual(await unlabelledControls(page), [], hash);
      await browser.shot(hash.slice(2));
    }
  });

  step("no console errors, CSP reports or outside requests", function () {
    assert.deepEqual(browser.watch.problems, []);
  }, { shot: false });
});
