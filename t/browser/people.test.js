// The owner's users page and everyone's account page: inviting with
// per-field errors, changing roles, the last owner kept, disabling and
// deleting; a new name and password; an API token; and what a member sees.

import assert from "node:assert/strict";
import { after, before, describe } from "node:test";
import { openBrowser, registerTenant, signInWithForm, stack, uniqueSub,
  unlabelledControls } from "./lib/harness.js";
import { cannotRun, scenario } from "./lib/steps.js";

const skip = cannotRun();

describe("users and account pages", { skip: skip || false }, function () {
  const step = scenario(function () {
    return browser;
  });
  const subdomain = skip ? "" : uniqueSub("people");
  const member = { email: "mia@" + subdomain + ".test", name: "Mia Member",
    password: "mia's first secret" };
  let owner;
  let browser;
  let page;

  function userItem(name) {
    return page.locator(".user", { hasText: name });
  }

  before(async function () {
    owner = await registerTenant(subdomain, "People Co");
    browser = await openBrowser({ name: "people" });
    page = browser.page;
  });

  after(async function () {
    if (browser) {
      await browser.close();
    }
  });

  step("the owner opens the users page", async function () {
    await page.goto(stack.tenantUrl(subdomain) + "/#/users");
    await signInWithForm(page, owner.email, owner.password);
    await page.getByRole("heading", { name: "Users", level: 1 }).waitFor();
    await userItem(owner.name).waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
  });

  step("an invitation with bad values names each field", async function () {
    await page.getByLabel("E-mail address", { exact: true }).fill("not-mail");
    await page.getByLabel("Name", { exact: true }).fill(member.name);
    await page.getByLabel("Initial password", { exact: true }).fill("short");
    await page.getByRole("button", { name: "Invite user" }).click();

    await page.locator(".field-error").first().waitFor();

    const errors = await page.locator("form .field").evaluateAll(
      function (fields) {
        return fields.map(function (field) {
          const error = field.querySelector(".field-error");
          return [field.querySelector("label").textContent,
            error ? error.textContent : ""];
        }).filter(function (pair) {
          return pair[1] !== "";
        });
      });
    const labels = errors.map(function (pair) {
      return pair[0];
    });
    assert.ok(labels.includes("E-mail address"), JSON.stringify(errors));
    assert.ok(labels.includes("Initial password"), JSON.stringify(errors));
    assert.ok(!labels.includes("Name"), JSON.stringify(errors));
  });

  step("the owner invites a member", async function () {
    await page.getByLabel("E-mail address", { exact: true }).fill(member.email);
    await page.getByLabel("Initial password", { exact: true })
      .fill(member.password);
    await page.getByRole("button", { name: "Invite user" }).click();
    await page.getByText("Invited Mia Member.").waitFor();
    assert.equal(await page.locator(".field-error").count(), 0);
    assert.match(await userItem(member.name).innerText(), /Member/);
  });

  step("a taken e-mail address is refused at its field", async function () {
    await page.getByLabel("E-mail address", { exact: true })
      .fill(member.email.toUpperCase());
    await page.getByLabel("Name", { exact: true }).fill("Mia Again");
    await page.getByLabel("Initial password", { exact: true })
      .fill("another long one");
    await page.getByRole("button", { name: "Invite user" }).click();

    const error = page.locator("form .field", { hasText: "E-mail address" })
      .locator(".field-error");
    await error.waitFor();
    assert.notEqual((await error.innerText()).trim(), "");
    await page.getByLabel("E-mail address", { exact: true }).fill("");
    await page.getByLabel("Name", { exact: true }).fill("");
    await page.getByLabel("Initial password", { exact: true }).fill("");
  });

  step("roles change, and the last owner stays an owner", async function () {
    await page.getByRole("button", { name: "Make Mia Member an owner" })
      .click();
    await page.getByRole("button", { name: "Make Mia Member a member" })
      .waitFor();
    assert.match(await userItem(member.name).locator(".badges").innerText(),
      /Owner/);

    await page.getByRole("button", { name: "Make Mia Member a member" })
      .click();
    await page.getByRole("button", { name: "Make Mia Member an owner" })
      .waitFor();

    await page.getByRole("button", { name: "Make " + owner.name +
      " a member" }).click();
    const message = userItem(owner.name).locator(".form-message");
    await page.waitForFunction(function (node) {
      return node.textContent.trim() !== "";
    }, await message.elementHandle());
    assert.match(await message.innerText(), /owner/i);
  });

  step("a user is disabled and enabled again", async function () {
    await page.getByRole("button", { name: "Disable Mia Member" }).click();
    await page.getByRole("button", { name: "Enable Mia Member" }).waitFor();
    assert.match(await userItem(member.name).innerText(), /Disabled/);
    await page.getByRole("button", { name: "Enable Mia Member" }).click();
    await page.getByRole("button", { name: "Disable Mia Member" }).waitFor();
    assert.doesNotMatch(await userItem(member.name).innerText(), /Disabled/);
  });

  step("a user is deleted after a confirmation", async function () {
    await page.getByLabel("E-mail address", { exact: true })
      .fill("temp@" + subdomain + ".test");
    await page.getByLabel("Name", { exact: true }).fill("Tim Temporary");
    await page.getByLabel("Initial password", { exact: true })
      .fill("temporary secret");
    await page.getByRole("button", { name: "Invite user" }).click();
    await userItem("Tim Temporary").waitFor();

    await page.getByRole("button", { name: "Delete Tim Temporary" }).click();
    await userItem("Tim Temporary").getByRole("button",
      { name: "Keep" }).waitFor();
    await browser.shot("delete-confirm");
    await userItem("Tim Temporary").getByRole("button",
      { name: "Delete user" }).click();
    await userItem("Tim Temporary").waitFor({ state: "detached" });
  });

  step("the owner changes their name", async function () {
    await page.getByRole("link", { name: "Account" }).click();
    await page.getByRole("heading", { name: "Your account", level: 1 })
      .waitFor();
    assert.deepEqual(await unlabelledControls(page), []);
    await page.getByLabel("Your name", { exact: true }).fill("Olivia O. Owner");
    await page.getByRole("button", { name: "Save name" }).click();
    await page.getByText("Your name is saved.").waitFor();
    assert.equal(await page.locator("#me-name").innerText(),
      "Olivia O. Owner");
  });

  step("a wrong current password is shown at its field", async function () {
    await page.getByLabel("Current password", { exact: true })
      .fill("not my password");
    await page.getByLabel("New password", { exact: true })
      .fill("a brand new secret");
    await page.getByLabel("New password again", { exact: true })
      .fill("a brand new secret");
    await page.getByRole("button", { name: "Change password" }).click();

    const error = page.locator("form .field",
      { has: page.getByLabel("Current password", { exact: true }) })
      .locator(".field-error");
    await error.waitFor();
    assert.notEqual((await error.innerText()).trim(), "");
  });

  step("two different new passwords are caught before sending",
    async function () {
      await page.getByLabel("Current password", { exact: true })
        .fill(owner.password);
      await page.getByLabel("New password again", { exact: true })
        .fill("a brand new secreT");
      await page.getByRole("button", { name: "Change password" }).click();
      await page.getByText("The two new passwords differ.").waitFor();
    });

  step("the password is changed", async function () {
    await page.getByLabel("New password again", { exact: true })
      .fill("a brand new secret");
    await page.getByRole("button", { name: "Change password" }).click();
    await page.getByText("Your password is changed.").waitFor();
    owner.password = "a brand new secret";
  });

  step("an API token is shown once and revoked", async function () {
    await page.getByLabel("Token name", { exact: true }).fill("backup script");
    await page.getByRole("button", { name: "Create token" }).click();

    const secret = page.getByLabel("The new token", { exact: true });
    await secret.waitFor();
    const token = await secret.inputValue();
    assert.ok(token.length >= 16, "the secret is shown");
    await browser.shot("account-token");

    const me = await page.evaluate(async function (bearer) {
      const response = await fetch("/api/me",
        { headers: { Authorization: "Bearer " + bearer },
          credentials: "omit" });
      return response.status;
    }, token);
    assert.equal(me, 200, "the token works");

    await page.getByRole("button", { name: "Revoke the token backup script" })
      .click();
    await page.getByRole("button", { name: "Revoke the token backup script" })
      .waitFor({ state: "detached" });
  });

  step("a member sees no users page", async function () {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByText("You have signed out.").waitFor();
    await signInWithForm(page, member.email, member.password);
    assert.equal(await page.locator("#nav-users").isHidden(), true);

    await page.goto(stack.tenantUrl(subdomain) + "/#/users");
    await page.getByText("Only the workspace's owners can manage its users.")
      .waitFor();
  });

  step("no console errors, CSP reports or outside requests", function () {
    assert.deepEqual(browser.watch.problems, []);
  }, { shot: false });
});
