// The users page, for owners: the tenant's users, an invitation form with
// an initial password, and changing a user's role, disabling and deleting.

import { announce, busy, clearErrors, field, formatTime, formMessage, h,
  replace, showError } from "../lib/dom.js";

export async function render(view, ctx) {
  const root = ctx.mount("Users");
  const list = h("ul", { class: "user-list", "aria-label": "Users" });
  const status = h("p", { class: "muted", role: "status" },
    "Loading users\u2026");
  let answer;

  root.append(h("div", { class: "view-head" }, h("h1", { text: "Users" })));

  if (ctx.me.role !== "owner") {
    root.append(h("section", { class: "card notice" },
      h("p", { text: "Only the workspace's owners can manage its users." })));
    ctx.focusHeading(root);
    return;
  }

  root.append(
    inviteForm(ctx, list),
    h("section", { class: "card", "aria-labelledby": "users-heading" },
      h("h2", { id: "users-heading", text: "Everyone in this workspace" }),
      status, list));
  ctx.focusHeading(root);

  try {
    answer = await ctx.api("GET", "/api/users");
  } catch (error) {
    if (!error.handled && root.isConnected) {
      status.textContent = "The users could not be loaded. " + error.message;
      status.className = "form-message error";
    }
    return;
  }
  if (!root.isConnected) {
    return;
  }

  status.hidden = true;
  for (const user of answer.data.users) {
    list.append(userItem(ctx, user));
  }
}

function inviteForm(ctx, list) {
  const email = h("input", { type: "email", name: "email",
    autocomplete: "off", spellcheck: "false" });
  const name = h("input", { type: "text", name: "name", autocomplete: "off" });
  const password = h("input", { type: "text", name: "password",
    autocomplete: "new-password", spellcheck: "false", minlength: 8 });
  const role = h("select", { name: "role" },
    h("option", { value: "member", text: "Member" }),
    h("option", { value: "owner", text: "Owner" }));
  const form = h("form", { class: "card stack", novalidate: true,
    "aria-labelledby": "invite-heading" },
    h("h2", { id: "invite-heading", text: "Invite a user" }),
    h("div", { class: "field-row" },
      field("E-mail address", email),
      field("Name", name)),
    h("div", { class: "field-row" },
      field("Initial password", password,
        "At least 8 characters. Give it to them yourself; they can change it under Account."),
      field("Role", role,
        "Owners can also manage users.")),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Invite user")));

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(form);

    const done = busy(form);
    let answer;

    try {
      answer = await ctx.api("POST", "/api/users", { body: {
        email: email.value.trim(), name: name.value.trim(),
        password: password.value, role: role.value } });
    } catch (error) {
      done();
      if (!error.handled) {
        showError(form, error,
          { fieldFor: error.status === 409 ? "email" : null });
      }
      return;
    }

    done();
    ctx.forgetUsers();
    list.append(userItem(ctx, answer.data));
    form.reset();
    formMessage(form, "Invited " + (answer.data.name || answer.data.email) +
      ". They can sign in with " + answer.data.email +
      " and the initial password.", "ok");
    email.focus();
  });

  return form;
}

function roleLabel(role) {
  return role === "owner" ? "Owner" : "Member";
}

// One user: who they are, their role and state, and the actions.
function userItem(ctx, user) {
  const item = h("li", { class: "user", "data-user-id": user.id });
  const message = h("p", { class: "form-message", role: "alert" });

  function who() {
    return user.name || user.email;
  }

  function draw(focusAction) {
    const self = user.id === ctx.me.id;
    const otherRole = user.role === "owner" ? "member" : "owner";

    replace(item,
      h("div", { class: "user-main" },
        h("p", { class: "user-name" },
          h("strong", { text: user.name || "(no name)" }),
          self ? h("span", { class: "badge", text: "You" }) : null),
        h("p", { class: "muted small user-email", text: user.email }),
        h("p", { class: "badges" },
          h("span", { class: "badge " + user.role,
            text: roleLabel(user.role) }),
          user.disabled
            ? h("span", { class: "badge disabled", text: "Disabled" })
            : null,
          h("span", { class: "muted small",
            text: "Joined " + formatTime(user.created_at) }))),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary small",
          "data-action": "role",
          "aria-label": "Make " + who() + " " + (otherRole === "owner"
            ? "an owner" : "a member"),
          on: { click: () => change({ role: otherRole }, "role") } },
          otherRole === "owner" ? "Make owner" : "Make member"),
        h("button", { type: "button", class: "secondary small",
          "data-action": "disabled",
          "aria-label": (user.disabled ? "Enable " : "Disable ") + who(),
          on: { click: () => change({ disabled: !user.disabled },
            "disabled") } },
          user.disabled ? "Enable" : "Disable"),
        h("button", { type: "button", class: "danger-quiet small",
          "data-action": "delete",
          "aria-label": "Delete " + who(),
          on: { click: confirmDelete } }, "Delete")),
      message);

    if (focusAction) {
      item.querySelector('[data-action="' + focusAction + '"]').focus();
    }
  }

  async function change(body, action) {
    let answer;

    message.textContent = "";
    setDisabled(true);
    try {
      answer = await ctx.api("PATCH", "/api/users/" + user.id, { body });
    } catch (error) {
      setDisabled(false);
      if (!error.handled) {
        message.textContent = error.message;
        message.className = "form-message error";
      }
      return;
    }

    Object.assign(user, answer.data);
    ctx.forgetUsers();
    if (user.id === ctx.me.id) {
      ctx.signedIn(Object.assign({}, ctx.me, answer.data));
      if (user.role !== "owner") {
        ctx.route();
        return;
      }
    }
    draw(action);
    announce(who() + " is now " + (user.disabled ? "disabled" : "active") +
      " and " + (user.role === "owner" ? "an owner" : "a member") + ".");
  }

  function setDisabled(state) {
    for (const button of item.querySelectorAll("button")) {
      button.disabled = state;
    }
  }

  function confirmDelete() {
    const confirm = h("button", { type: "button", class: "danger small" },
      "Delete user");
    const keep = h("button", { type: "button", class: "secondary small" },
      "Keep");
    const actions = item.querySelector(".actions");

    replace(actions,
      h("p", { class: "confirm-text" }, "Delete ", h("strong", { text: who() }),
        "? Their sessions end at once."),
      confirm, keep);
    message.textContent = "";

    keep.addEventListener("click", function () {
      draw("delete");
    });
    confirm.addEventListener("click", async function () {
      confirm.disabled = true;
      keep.disabled = true;
      try {
        await ctx.api("DELETE", "/api/users/" + user.id);
      } catch (error) {
        if (error.handled) {
          return;
        }
        draw("delete");
        message.textContent = error.message;
        message.className = "form-message error";
        return;
      }

      const next = item.nextElementSibling || item.previousElementSibling;
      ctx.forgetUsers();
      item.remove();
      announce("Deleted " + who() + ".");
      if (next) {
        next.querySelector("button").focus();
      }
    });
    confirm.focus();
  }

  draw(null);
  return item;
}
