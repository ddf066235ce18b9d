// Tenantry's web UI: the tenant page reads /api/tenant, the landing page
// fills in the address it was reached at.  No frameworks, no outside files.
"use strict";

// What the page says for the answers a visitor can expect.
var PROBLEMS = {
  404: {
    title: "No workspace here",
    detail: "There is no tenant at this address. Check the spelling, " +
      "or ask your administrator whether it has been set up yet."
  },
  403: {
    title: "This workspace is suspended",
    detail: "The tenant exists but is not being served at the moment. " +
      "Contact your administrator."
  },
  503: {
    title: "Temporarily unavailable",
    detail: "The service cannot reach its database right now. " +
      "It usually recovers within a minute.",
    retry: true
  },
  502: {
    title: "Temporarily unavailable",
    detail: "The application is not answering. It may be restarting.",
    retry: true
  }
};

function $(id) {
  return document.getElementById(id);
}

function show(id) {
  ["loading", "tenant", "problem"].forEach(function (section) {
    $(section).hidden = section !== id;
  });
}

function formatTime(text) {
  var when = new Date(text);

  if (isNaN(when.getTime())) {
    return text;
  }
  return when.toLocaleString(undefined, {
    dateStyle: "long",
    timeStyle: "short"
  });
}

function showTenant(tenant) {
  var users = $("tenant-users");
  var hasUsers = typeof tenant.users === "number";

  document.title = tenant.name + " \u2014 Tenantry";
  $("tenant-name").textContent = tenant.name;
  $("tenant-subdomain").textContent = tenant.subdomain;
  $("tenant-created").textContent = formatTime(tenant.created_at);
  $("tenant-created").setAttribute("datetime", tenant.created_at);

  users.textContent = hasUsers ? String(tenant.users) : "";
  users.hidden = !hasUsers;
  users.previousElementSibling.hidden = !hasUsers;
  show("tenant");
}

// status: the HTTP status or 0 for a network failure; problem: the parsed
// problem+json body when there was one.
function showProblem(status, problem) {
  var known = PROBLEMS[status] || {
    title: "Something went wrong",
    detail: "The server answered with an unexpected error.",
    retry: status === 0 || status >= 500
  };

  if (status === 0) {
    known = {
      title: "Cannot reach the server",
      detail: "Check your connection and try again.",
      retry: true
    };
  }

  $("problem-status").textContent = status ? "Error " + status : "Offline";
  $("problem-title").textContent = known.title;
  $("problem-detail").textContent = known.detail;
  $("problem-request").textContent = problem && problem.request_id
    ? "Request id: " + problem.request_id
    : "";
  $("retry").hidden = !known.retry;
  show("problem");
}

function loadTenant() {
  show("loading");

  fetch("/api/tenant", {
    headers: { Accept: "application/json" },
    credentials: "same-origin"
  }).then(function (response) {
    return response.json().catch(function () {
      return null;
    }).then(function (body) {
      if (response.ok && body) {
        showTenant(body);
      } else {
        showProblem(response.status, body);
      }
    });
  }).catch(function () {
    showProblem(0, null);
  });
}

function fillHosts() {
  var nodes = document.querySelectorAll("[data-host]");

  Array.prototype.forEach.call(nodes, function (node) {
    node.textContent = window.location.host;
  });
}

document.addEventListener("DOMContentLoaded", function () {
  var page = document.body.getAttribute("data-page");

  fillHosts();

  if (page === "tenant") {
    $("host").textContent = window.location.host;
    $("retry").addEventListener("click", loadTenant);
    loadTenant();
  }
});
