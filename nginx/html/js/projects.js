// The projects page: the tenant's projects, a form for a new one, and
// renaming and deleting in place.

import { announce, busy, clearErrors, field, h, replace, showError }
  from "../lib/dom.js";

const PAGE_SIZE = 50;

export async function render(view, ctx) {
  const root = ctx.mount("Projects");
  const list = h("ul", { class: "project-list", "aria-label": "Projects" });
  const status = h("p", { class: "muted", role: "status" },
    "Loading projects\u2026");
  const more = h("button", { type: "button", class: "secondary", hidden: true },
    "Show more projects");
  let cursor = null;

  root.append(
    h("div", { class: "view-head" }, h("h1", { text: "Projects" })),
    newProjectForm(ctx, list, status),
    h("section", { class: "card", "aria-labelledby": "projects-heading" },
      h("h2", { id: "projects-heading", text: "All projects" }),
      status, list,
      h("div", { class: "buttons" }, more)));
  ctx.focusHeading(root);

  async function loadPage() {
    const query = "?limit=" + PAGE_SIZE +
      (cursor ? "&cursor=" + encodeURIComponent(cursor) : "");
    let answer;

    more.disabled = true;
    try {
      answer = await ctx.api("GET", "/api/projects" + query);
    } catch (error) {
      if (!error.handled && root.isConnected) {
        status.textContent = "The projects could not be loaded. " +
          error.message;
        status.className = "form-message error";
      }
      more.disabled = false;
      return;
    }
    if (!root.isConnected) {
      return;
    }

    for (const project of answer.data.projects) {
      list.append(projectItem(ctx, project, list, status));
    }
    cursor = answer.data.next_cursor;
    more.hidden = !cursor;
    more.disabled = false;
    updateEmpty(list, status);
  }

  more.addEventListener("click", loadPage);
  await loadPage();
}

function updateEmpty(list, status) {
  status.className = "muted";
  status.textContent = list.children.length
    ? ""
    : "No projects yet. Create the first one with the form above.";
  status.hidden = list.children.length > 0;
}

function newProjectForm(ctx, list, status) {
  const name = h("input", { type: "text", name: "name", maxlength: 200,
    autocomplete: "off" });
  const description = h("textarea", { name: "description", rows: 2 });
  const form = h("form", { class: "card stack", novalidate: true,
    "aria-labelledby": "new-project-heading" },
    h("h2", { id: "new-project-heading", text: "New project" }),
    field("Name", name),
    field("Description (optional)", description),
    h("div", { class: "buttons" },
      h("button", { type: "submit" }, "Create project")));

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    clearErrors(form);

    const done = busy(form);
    let answer;

    try {
      answer = await ctx.api("POST", "/api/projects", {
        body: { name: name.value.trim(), description: description.value }
      });
    } catch (error) {
      done();
      if (!error.handled) {
        showError(form, error);
      }
      return;
    }

    done();
    list.append(projectItem(ctx, answer.data, list, status));
    updateEmpty(list, status);
    form.reset();
    announce("Created the project " + answer.data.name + ".");
    name.focus();
  });

  return form;
}

// One project in the list: its name links to its board; Rename and Delete
// open small forms in place of the actions.
function projectItem(ctx, project, list, status) {
  const item = h("li", { class: "project", "data-project-id": project.id });

  function showSummary() {
    const link = h("a", { class: "project-name",
      href: "#/projects/" + project.id, text: project.name });

    replace(item,
      h("div", { class: "project-main" },
        link,
        project.description
          ? h("p", { class: "muted clamp", text: project.description })
          : null),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary",
          "aria-label": "Rename " + project.name,
          on: { click: showRename } }, "Rename"),
        h("button", { type: "button", class: "danger-quiet",
          "aria-label": "Delete " + project.name,
          on: { click: showDelete } }, "Delete")));
    return link;
  }

  function showRename() {
    const input = h("input", { type: "text", name: "name", maxlength: 200,
      value: project.name, autocomplete: "off" });
    const form = h("form", { class: "inline-form", novalidate: true },
      field("New name for " + project.name, input),
      h("div", { class: "buttons" },
        h("button", { type: "submit" }, "Save name"),
        h("button", { type: "button", class: "secondary",
          on: { click: cancel } }, "Cancel")));

    function cancel() {
      showSummary();
      item.querySelector("button").focus();
    }

    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        cancel();
      }
    });

    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      clearErrors(form);

      const done = busy(form);
      let answer;

      try {
        answer = await ctx.api("PATCH", "/api/projects/" + project.id,
          { body: { name: input.value.trim() } });
      } catch (error) {
        done();
        if (!error.handled) {
          showError(form, error);
        }
        return;
      }

      Object.assign(project, answer.data);
      showSummary().focus();
      announce("Renamed the project to " + project.name + ".");
    });

    replace(item, form);
    input.select();
    input.focus();
  }

  function showDelete() {
    const confirm = h("button", { type: "button", class: "danger" },
      "Delete project");
    const keep = h("button", { type: "button", class: "secondary" },
      "Keep it");
    const form = h("form", { class: "inline-form", role: "group",
      "aria-label": "Delete " + project.name },
      h("p", { class: "confirm-text" },
        "Delete ", h("strong", { text: project.name }),
        " and all of its tasks? This cannot be undone."),
      h("div", { class: "buttons" }, confirm, keep));

    keep.addEventListener("click", function () {
      showSummary();
      item.querySelectorAll("button")[1].focus();
    });
    form.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        keep.click();
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
    });

    confirm.addEventListener("click", async function () {
      const done = busy(form);

      try {
        await ctx.api("DELETE", "/api/projects/" + project.id);
      } catch (error) {
        done();
        if (!error.handled) {
          showError(form, error);
        }
        return;
      }

      const next = item.nextElementSibling || item.previousElementSibling;
      item.remove();
      updateEmpty(list, status);
      announce("Deleted the project " + project.name + ".");
      if (next) {
        next.querySelector("a, button").focus();
      } else {
        document.querySelector("#view form input").focus();
      }
    });

    replace(item, form);
    confirm.focus();
  }

  showSummary();
  return item;
}
