// The account page: the signed-in user's name, password and personal API
// tokens.

import { announce, busy, clearErrors, field, fieldError, formatTime,
  formMessage, h, replace, showError } from "../lib/dom.js";

export function render(view, ctx) {
  const root = ctx.mount("Your account");

  root.append(
    h("div", { class: "view-head" }, h("h1", { text: "Your account" })),
    h("section", { class: "card" },
      h("dl", { class: "facts" },
        h("dt", { text: "E-mail address" }), h("dd", { text: ctx.me.email }),
        h("dt", { text: "Role" }),
        h("dd", { text: ctx.me.role === "owner" ? "Owner" : "Member" }))),
    nameForm(ctx),
    passwordForm(ctx),
    tokensSection(ctx, root));
  ctx.focusHeading(root);
}

function nameForm(ctx) {
  const name = h("input", { type: "text", name: "name", autocomplete: "name",
    value: ctx.me.name || "" });
  const form = h("form", { class: "card stack", novalidate: true,
    "aria-labelledby": "name-heading" },
    h("h2", { id: "name-heading", text: "Name" }),
    field("Your name", name, "Shown to the others in this workspace."),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Save name")));

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(form);

    const done = busy(form);
    let answer;

    try {
      answer = await ctx.api("PATCH", "/api/me",
        { body: { name: name.value.trim() } });
    } catch (error) {
      done();
      if (!error.handled) {
        showError(form, error);
      }
      return;
    }

    done();
    ctx.signedIn(answer.data);
    name.value = answer.data.name || "";
    formMessage(form, "Your name is saved.", "ok");
  });

  return form;
}

function passwordForm(ctx) {
  const current = h("input", { type: "password", name: "current_password",
    autocomplete: "current-password" });
  const fresh = h("input", { type: "password", name: "password",
    autocomplete: "new-password" });
  const again = h("input", { type: "password", name: "password_again",
    autocomplete: "new-password" });
  const form = h("form", { class: "card stack", novalidate: true,
    "aria-labelledby": "password-heading" },
    h("h2", { id: "password-heading", text: "Password" }),
    h("input", { type: "text", name: "username", autocomplete: "username",
      value: ctx.me.email, hidden: true, "aria-hidden": "true",
      tabindex: "-1" }),
    field("Current password", current),
    h("div", { class: "field-row" },
      field("New password", fresh, "At least 8 characters."),
      field("New password again", again)),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Change password")));

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(form);

    if (fresh.value !== again.value) {
      fieldError(again, "The two new passwords differ.");
      again.focus();
      return;
    }

    const done = busy(form);

    try {
      await ctx.api("PATCH", "/api/me", { body: {
        password: fresh.value, current_password: current.value } });
    } catch (error) {
      done();
      if (!error.handled) {
        showError(form, error);
      }
      return;
    }

    done();
    form.reset();
    formMessage(form, "Your password is changed.", "ok");
  });

  return form;
}

// The user's own API tokens: a list, a form for a new one (its secret is
// shown once), and revoking.
function tokensSection(ctx, root) {
  const list = h("ul", { class: "token-list", "aria-label": "API tokens" });
  const status = h("p", { class: "muted", role: "status" },
    "Loading tokens\u2026");
  const name = h("input", { type: "text", name: "name", maxlength: 100,
    autocomplete: "off" });
  const expires = h("input", { type: "date", name: "expires_at" });
  const secret = h("div", { class: "secret", hidden: true });
  const form = h("form", { class: "stack", novalidate: true },
    h("div", { class: "field-row" },
      field("Token name", name, "What the token is for, such as a script's name."),
      field("Expires (optional)", expires, "It stops working at the end of that day.")),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Create token")));
  const section = h("section", { class: "card",
    "aria-labelledby": "tokens-heading" },
    h("h2", { id: "tokens-heading", text: "API tokens" }),
    h("p", { class: "muted small" }, "A token lets a program use the API as " +
      "you: send it as ", h("code", { text: "Authorization: Bearer TOKEN" }),
      "."),
    status, list, secret, form);

  function updateEmpty() {
    status.hidden = list.children.length > 0;
    status.className = "muted";
    status.textContent = "You have no API tokens.";
  }

  function tokenItem(token) {
    const item = h("li", { class: "token" },
      h("div", {},
        h("strong", { text: token.name }),
        h("p", { class: "muted small", text: "Created " +
          formatTime(token.created_at) +
          (token.expires_at ? " \u00b7 expires " +
            formatTime(token.expires_at) : " \u00b7 never expires") +
          (token.last_used_at ? " \u00b7 last used " +
            formatTime(token.last_used_at) : " \u00b7 never used") })),
      h("button", { type: "button", class: "danger-quiet small",
        "aria-label": "Revoke the token " + token.name,
        on: { click: revoke } }, "Revoke"));

    async function revoke(event) {
      event.target.disabled = true;
      try {
        await ctx.api("DELETE", "/api/tokens/" + token.id);
      } catch (error) {
        event.target.disabled = false;
        if (!error.handled && error.status !== 404) {
          status.hidden = false;
          status.className = "form-message error";
          status.textContent = error.message;
          return;
        }
        if (error.handled) {
          return;
        }
      }
      item.remove();
      if (secret.dataset.tokenId === String(token.id)) {
        secret.hidden = true;
        replace(secret);
      }
      updateEmpty();
      announce("Revoked the token " + token.name + ".");
      name.focus();
    }

    return item;
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(form);

    const body = { name: name.value.trim() };
    const done = busy(form);
    let answer;

    if (expires.value) {
      const [year, month, day] = expires.value.split("-").map(Number);
      body.expires_at = new Date(year, month - 1, day, 23, 59, 59, 999)
        .toISOString();
    }

    try {
      answer = await ctx.api("POST", "/api/tokens", { body });
    } catch (error) {
      done();
      if (!error.handled) {
        showError(form, error);
      }
      return;
    }

    done();
    form.reset();
    list.append(tokenItem(answer.data));
    updateEmpty();
    replace(secret,
      h("p", {}, h("strong", { text: "Copy the token now:" }),
        " it is not shown again."),
      h("label", { for: "new-token-secret", class: "visually-hidden",
        text: "The new token" }),
      h("input", { type: "text", id: "new-token-secret", readonly: true,
        class: "mono", value: answer.data.token }));
    secret.dataset.tokenId = String(answer.data.id);
    secret.hidden = false;
    secret.querySelector("input").select();
    secret.querySelector("input").focus();
  });

  (async function load() {
    let answer;

    try {
      answer = await ctx.api("GET", "/api/tokens");
    } catch (error) {
      if (!error.handled && root.isConnected) {
        status.className = "form-message error";
        status.textContent = "The tokens could not be loaded. " +
          error.message;
      }
      return;
    }
    for (const token of answer.data.tokens) {
      list.append(tokenItem(token));
    }
    updateEmpty();
  })();

  return section;
}
