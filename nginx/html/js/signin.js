// The sign-in form: e-mail and password to POST /api/session.

import { request } from "../lib/api.js";
import { busy, clearErrors, field, formMessage, h, replace, showError }
  from "../lib/dom.js";

// Shows the form in view.  message, when given, is shown above it: why
// the user is here (signed out, session ended); kind is "ok" or "error".
export function render(view, ctx, message, kind) {
  const email = h("input", { type: "email", name: "email",
    autocomplete: "username", required: true, spellcheck: "false" });
  const password = h("input", { type: "password", name: "password",
    autocomplete: "current-password", required: true });
  const form = h("form", { class: "stack", novalidate: true },
    field("E-mail address", email),
    field("Password", password),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Sign in")));
  const name = ctx.tenant ? ctx.tenant.name : "your workspace";

  document.title = "Sign in \u2014 " + name;
  view.classList.remove("wide");
  replace(view, h("section", { class: "card narrow" },
    h("p", { class: "eyebrow", text: "Workspace" }),
    h("h1", { text: "Sign in to " + name }),
    form));

  if (message) {
    formMessage(form, message, kind || "error");
  }

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(form);

    const done = busy(form);
    let answer;

    try {
      answer = await request("POST", "/api/session", {
        body: { email: email.value.trim(), password: password.value }
      });
    } catch (error) {
      done();
      showError(form, error);
      if (error.status === 401) {
        password.select();
        password.focus();
      }
      return;
    }

    done();
    ctx.signedIn(answer.data.user);
    if (/^#\/(projects|users|account)/.test(window.location.hash)) {
      ctx.route();
    } else {
      window.location.replace("#/projects");
    }
  });

  email.focus();
}
