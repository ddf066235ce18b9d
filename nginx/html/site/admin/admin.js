// The operator's admin page: keeps the admin token in sessionStorage (this
// tab only), lists the tenants and registers new ones through /admin/.

import { request } from "/lib/api.js";
import { announce, busy, clearErrors, formatTime, formMessage, h, replace,
  showError } from "/lib/dom.js";

const TOKEN_KEY = "tenantry.admin-token";

const tokenForm = document.getElementById("token-form");
const tokenInput = document.getElementById("token");
const signedIn = document.getElementById("signed-in");
const forget = document.getElementById("forget-token");
const registerForm = document.getElementById("register-form");
const rows = document.getElementById("tenant-rows");
const table = document.getElementById("tenants");
const status = document.getElementById("tenants-status");
const count = document.getElementById("tenant-count");

function storedToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY) || "";
  } catch (failure) {
    return "";
  }
}

function storeToken(token) {
  try {
    if (token) {
      window.sessionStorage.setItem(TOKEN_KEY, token);
    } else {
      window.sessionStorage.removeItem(TOKEN_KEY);
    }
  } catch (failure) {
    // Without storage the token lives as long as the page.
  }
}

let token = storedToken();

// The tenants' own addresses: the main domain without "www.", with port.
function mainHost() {
  return window.location.host.replace(/^www\./, "");
}

function tenantUrl(subdomain) {
  return window.location.protocol + "//" + subdomain + "." + mainHost() + "/";
}

function admin(method, path, body) {
  return request(method, path, { token, body });
}

function showSignedIn(on) {
  signedIn.hidden = !on;
  tokenForm.hidden = on;
  forget.hidden = !on;
}

// Loads the list; a refused token sends the operator back to the token form.
async function loadTenants() {
  let answer;

  status.hidden = false;
  status.className = "muted";
  status.textContent = "Loading tenants\u2026";
  try {
    answer = await admin("GET", "/admin/tenants");
  } catch (error) {
    if (error.status === 401) {
      forgetToken("The admin token was not accepted. Check it and enter it again.");
      return false;
    }
    status.className = "form-message error";
    status.textContent = "The tenants could not be loaded. " + error.message;
    return true;
  }

  drawTenants(answer.data.tenants || []);
  return true;
}

function drawTenants(tenants) {
  replace(rows, tenants.map(function (tenant) {
    return h("tr", { "data-subdomain": tenant.subdomain },
      h("td", { "data-label": "Subdomain" },
        tenant.status === "active"
          ? h("a", { href: tenantUrl(tenant.subdomain),
            text: tenant.subdomain })
          : h("span", { text: tenant.subdomain })),
      h("td", { "data-label": "Name", text: tenant.name }),
      h("td", { "data-label": "Status" },
        h("span", { class: "badge " + tenant.status, text: tenant.status })),
      h("td", { "data-label": "Created" },
        h("time", { datetime: tenant.created_at,
          text: formatTime(tenant.created_at) })));
  }));
  count.textContent = String(tenants.length);
  table.hidden = tenants.length === 0;
  status.hidden = tenants.length > 0;
  status.className = "muted";
  status.textContent = "No tenants yet.";
}

function forgetToken(message) {
  token = "";
  storeToken("");
  replace(rows);
  showSignedIn(false);
  tokenForm.reset();
  clearErrors(tokenForm);
  if (message) {
    formMessage(tokenForm, message, "error");
  }
  tokenInput.focus();
}

tokenForm.addEventListener("submit", async function (event) {
  event.preventDefault();
  clearErrors(tokenForm);

  const given = tokenInput.value.trim();
  if (given === "") {
    formMessage(tokenForm, "Enter the admin token.", "error");
    tokenInput.focus();
    return;
  }

  const done = busy(tokenForm);
  token = given;
  showSignedIn(true);
  const accepted = await loadTenants();
  done();
  if (accepted) {
    storeToken(token);
    tokenForm.reset();
    document.getElementById("subdomain").focus();
    announce("Token accepted.");
  }
});

forget.addEventListener("click", function () {
  forgetToken(null);
  formMessage(tokenForm, "The token is forgotten.", "ok");
});

document.getElementById("refresh").addEventListener("click", loadTenants);

registerForm.addEventListener("submit", async function (event) {
  event.preventDefault();
  clearErrors(registerForm);

  const value = function (name) {
    return registerForm.elements.namedItem(name).value.trim();
  };
  const owner = {
    email: value("owner.email"),
    password: registerForm.elements.namedItem("owner.password").value
  };
  const done = busy(registerForm);
  let answer;

  if (value("owner.name") !== "") {
    owner.name = value("owner.name");
  }

  try {
    answer = await admin("POST", "/admin/register-user",
      { subdomain: value("subdomain"), name: value("name"), owner });
  } catch (error) {
    done();
    if (error.status === 401) {
      forgetToken("The admin token was not accepted any more. Enter it again.");
      return;
    }
    showError(registerForm, error, {
      aliases: { owner: "owner.email" },
      fieldFor: error.status === 409 ? "subdomain" : null
    });
    return;
  }

  done();
  registerForm.reset();
  const tenant = answer.data;
  const link = h("a", { href: tenantUrl(tenant.subdomain),
    text: tenantUrl(tenant.subdomain) });
  formMessage(registerForm, "", "ok");
  replace(registerForm.querySelector(".form-message"),
    "Registered " + tenant.name + " (" + tenant.status + "). Its owner signs in at ",
    link, ".");
  await loadTenants();
  document.getElementById("subdomain").focus();
});

document.getElementById("subdomain-suffix").textContent = "." + mainHost();

if (token) {
  showSignedIn(true);
  loadTenants();
} else {
  showSignedIn(false);
}
