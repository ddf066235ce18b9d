// The tenant app's entry: reads the tenant and the signed-in user, keeps
// the header in step, and shows one view per address (#/projects,
// #/projects/ID, #/users, #/account; the sign-in form when signed out).

import { request } from "./lib/api.js";
import { h, replace, requestNote } from "./lib/dom.js";
import * as signin from "./js/signin.js";
import * as projects from "./js/projects.js";
import * as board from "./js/board.js";
import * as users from "./js/users.js";
import * as account from "./js/account.js";

// What the page says when the workspace itself cannot be served.
const WORKSPACE_PROBLEMS = {
  404: {
    title: "No workspace here",
    detail: "There is no tenant at this address. Check the spelling, " +
      "or ask your administrator whether it has been set up yet."
  },
  403: {
    title: "This workspace is suspended",
    detail: "The tenant exists but is not being served at the moment. " +
      "Contact your administrator."
  }
};

const view = document.getElementById("view");

const ctx = {
  tenant: null,
  me: null,
  userList: null,

  // A request as the signed-in user.  A 401 means the session is over:
  // the sign-in form replaces the view and the error is marked handled.
  async api(method, path, options) {
    try {
      return await request(method, path, options);
    } catch (error) {
      if (error.status === 401 && ctx.me) {
        sessionEnded();
        error.handled = true;
      }
      throw error;
    }
  },

  go(hash) {
    if (window.location.hash === hash) {
      route();
    } else {
      window.location.hash = hash;
    }
  },

  // The users a task can be assigned to.  Owners read the user list;
  // members may not, so for them it holds only themselves.
  async assignableUsers() {
    if (ctx.userList) {
      return ctx.userList;
    }
    if (ctx.me.role === "owner") {
      try {
        const answer = await ctx.api("GET", "/api/users");
        ctx.userList = answer.data.users;
        return ctx.userList;
      } catch (error) {
        if (error.handled) {
          throw error;
        }
      }
    }
    ctx.userList = [ctx.me];
    return ctx.userList;
  },

  forgetUsers() {
    ctx.userList = null;
  },

  signedIn(user) {
    ctx.me = user;
    ctx.userList = null;
    updateHeader();
  },

  // Replaces the view with a fresh root element and returns it (wide for
  // the board, which needs the room); views
  // check root.isConnected after each await to know they are still shown.
  mount(title, wide) {
    const root = h("div", { class: "view-root" });

    view.classList.toggle("wide", Boolean(wide));
    document.title = title + " \u2014 " + tenantLabel();
    replace(view, root);
    return root;
  },

  // Moves focus to a view's heading once it is drawn, so keyboard and
  // screen reader users start at the top of the new view.
  focusHeading(root) {
    const heading = root.querySelector("h1");

    if (heading && routedByUser) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  }
};

let routedByUser = false;

function tenantLabel() {
  return ctx.tenant ? ctx.tenant.name : "Tenantry";
}

function updateHeader() {
  const nav = document.getElementById("nav");
  const current = (window.location.hash.match(/^#\/([a-z]+)/) || [])[1] ||
    "projects";

  document.getElementById("tenant-name").textContent =
    ctx.tenant ? ctx.tenant.name : "";
  nav.hidden = !ctx.me;
  if (!ctx.me) {
    return;
  }

  document.getElementById("me-name").textContent = ctx.me.name || ctx.me.email;
  document.getElementById("nav-users").hidden = ctx.me.role !== "owner";
  for (const link of nav.querySelectorAll("[data-nav]")) {
    if (link.dataset.nav === current) {
      link.setAttribute("aria-current", "page");
    } else {
      link.removeAttribute("aria-current");
    }
  }
}

function sessionEnded() {
  ctx.me = null;
  ctx.userList = null;
  updateHeader();
  signin.render(view, ctx, "Your session has ended. Sign in again.");
}

// Shows a failure to load the workspace or the session, with a retry.
function showProblem(error) {
  const known = WORKSPACE_PROBLEMS[error.status];
  const retry = h("button", { type: "button", on: { click: start } },
    "Try again");

  document.title = "Tenantry";
  view.classList.remove("wide");
  replace(view, h("section", { class: "card notice", role: "alert" },
    h("p", { class: "eyebrow",
      text: error.status ? "Error " + error.status : "Offline" }),
    h("h1", { text: known ? known.title : "Something went wrong" }),
    h("p", { text: known ? known.detail : error.message }),
    error.requestId
      ? h("p", { class: "muted small",
        text: "Request id: " + error.requestId })
      : null,
    known ? null : retry));
}

// Draws the view for the current address.
function route() {
  const hash = window.location.hash;
  let match;

  updateHeader();
  if (!ctx.me) {
    signin.render(view, ctx);
    return;
  }

  if ((match = /^#\/projects\/(\d+)$/.exec(hash))) {
    board.render(view, ctx, Number(match[1]));
  } else if (hash === "#/users") {
    users.render(view, ctx);
  } else if (hash === "#/account") {
    account.render(view, ctx);
  } else if (hash === "#/projects") {
    projects.render(view, ctx);
  } else {
    window.location.replace("#/projects");
  }
}

async function signOut() {
  const button = document.getElementById("sign-out");

  button.disabled = true;
  try {
    await request("DELETE", "/api/session");
  } catch (error) {
    // A session that is already gone is as good as ended; anything else
    // leaves the user signed in, told why.
    if (error.status !== 401) {
      button.disabled = false;
      view.prepend(h("p", { class: "form-message error flash",
        role: "alert" },
        "Signing out failed. " + error.message + requestNote(error)));
      return;
    }
  }
  button.disabled = false;
  ctx.me = null;
  ctx.userList = null;
  updateHeader();
  signin.render(view, ctx, "You have signed out.", "ok");
}

async function start() {
  replace(view, h("section", { class: "card", "aria-live": "polite" },
    h("p", { class: "muted", text: "Loading this workspace\u2026" })));

  try {
    ctx.tenant = (await request("GET", "/api/tenant")).data;
  } catch (error) {
    showProblem(error);
    return;
  }

  try {
    ctx.me = (await request("GET", "/api/me")).data;
  } catch (error) {
    if (error.status !== 401) {
      showProblem(error);
      return;
    }
    ctx.me = null;
  }

  route();
}

document.getElementById("host").textContent = window.location.host;
document.getElementById("sign-out").addEventListener("click", signOut);
window.addEventListener("hashchange", function () {
  routedByUser = true;
  route();
});
ctx.route = route;
start();
