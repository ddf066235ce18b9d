// A project's board: its tasks in three columns (to do, doing, done), a
// form per column for new tasks, buttons that move a task to another
// column, and a dialog that edits or deletes one task.

import { announce, busy, clearErrors, field, formatDay, formMessage, h,
  replace, showError, today } from "../lib/dom.js";

const COLUMNS = [
  { status: "todo", label: "To do" },
  { status: "doing", label: "Doing" },
  { status: "done", label: "Done" }
];

function columnLabel(status) {
  const column = COLUMNS.find(function (each) {
    return each.status === status;
  });
  return column ? column.label : status;
}

function quoted(text) {
  return "\u201c" + text + "\u201d";
}

export async function render(view, ctx, projectId) {
  const root = ctx.mount("Board", true);
  const board = new Board(ctx, root, projectId);

  await board.load();
}

class Board {
  constructor(ctx, root, projectId) {
    this.ctx = ctx;
    this.root = root;
    this.projectId = projectId;
    this.project = null;
    this.tasks = new Map();
    this.users = [];
    this.columns = {};
    this.message = h("p", { class: "form-message", role: "alert" });
  }

  async load() {
    const root = this.root;
    let project;
    let tasks;

    root.append(h("p", { class: "muted", role: "status" },
      "Loading the board\u2026"));

    try {
      [project, tasks] = await Promise.all([
        this.ctx.api("GET", "/api/projects/" + this.projectId),
        this.allTasks()
      ]);
      this.users = await this.ctx.assignableUsers();
    } catch (error) {
      if (!error.handled && root.isConnected) {
        this.showLoadError(error);
      }
      return;
    }
    if (!root.isConnected) {
      return;
    }

    this.project = project.data;
    for (const task of tasks) {
      this.tasks.set(task.id, task);
    }
    this.draw();
  }

  // Every task of the project, page by page.
  async allTasks() {
    const base = "/api/projects/" + this.projectId + "/tasks?limit=100";
    let cursor = null;
    let tasks = [];

    do {
      const answer = await this.ctx.api("GET", base +
        (cursor ? "&cursor=" + encodeURIComponent(cursor) : ""));
      tasks = tasks.concat(answer.data.tasks);
      cursor = answer.data.next_cursor;
    } while (cursor);

    return tasks;
  }

  showLoadError(error) {
    const missing = error.status === 404;

    document.title = (missing ? "No such project" : "Board") + " \u2014 " +
      (this.ctx.tenant ? this.ctx.tenant.name : "Tenantry");
    replace(this.root,
      h("p", { class: "crumbs" }, h("a", { href: "#/projects" },
        "\u2190 All projects")),
      h("section", { class: "card notice", role: "alert" },
        h("h1", { text: missing ? "No such project"
          : "The board could not be loaded" }),
        h("p", { text: missing
          ? "This project does not exist, or it was deleted."
          : error.message })));
    this.ctx.focusHeading(this.root);
  }

  draw() {
    const project = this.project;
    const columns = COLUMNS.map((column) => this.drawColumnFrame(column));

    document.title = project.name + " \u2014 " +
      (this.ctx.tenant ? this.ctx.tenant.name : "Tenantry");
    replace(this.root,
      h("p", { class: "crumbs" }, h("a", { href: "#/projects" },
        "\u2190 All projects")),
      h("div", { class: "view-head" },
        h("h1", { text: project.name })),
      project.description
        ? h("p", { class: "lead", text: project.description })
        : null,
      this.message,
      h("div", { class: "board" }, columns));

    for (const column of COLUMNS) {
      this.drawTasks(column.status);
    }
    this.ctx.focusHeading(this.root);
  }

  drawColumnFrame(column) {
    const headingId = "column-" + column.status;
    const count = h("span", { class: "count" });
    const list = h("ol", { class: "tasks", "aria-labelledby": headingId });
    const section = h("section", { class: "column",
      "data-status": column.status, "aria-labelledby": headingId },
      h("h2", { id: headingId },
        h("span", { text: column.label }), " ", count),
      list,
      this.addTaskForm(column));

    this.columns[column.status] = { list, count, section };
    return section;
  }

  // The column's tasks in board order.
  tasksIn(status) {
    return Array.from(this.tasks.values()).filter(function (task) {
      return task.status === status;
    }).sort(function (a, b) {
      return a.position - b.position || a.id - b.id;
    });
  }

  drawTasks(status) {
    const column = this.columns[status];
    const tasks = this.tasksIn(status);

    replace(column.list, tasks.map((task) => this.taskCard(task)));
    column.count.textContent = String(tasks.length);
    column.count.setAttribute("aria-label", tasks.length === 1
      ? "1 task" : tasks.length + " tasks");
    if (tasks.length === 0) {
      column.list.append(h("li", { class: "empty muted" }, "No tasks"));
    }
  }

  userName(id) {
    const user = this.users.find(function (each) {
      return each.id === id;
    });

    if (!user) {
      return "user #" + id;
    }
    return user.id === this.ctx.me.id ? "you" : user.name || user.email;
  }

  taskCard(task) {
    const meta = [];
    const moves = COLUMNS.filter(function (column) {
      return column.status !== task.status;
    }).map((column) => {
      const forward = COLUMNS.indexOf(column) >
        COLUMNS.findIndex(function (each) {
          return each.status === task.status;
        });

      return h("button", { type: "button", class: "secondary small",
        "data-move": column.status,
        "aria-label": "Move " + quoted(task.title) + " to " + column.label,
        on: { click: () => this.move(task.id, column.status) } },
        forward ? column.label + " \u2192" : "\u2190 " + column.label);
    });

    if (task.assignee_id !== null && task.assignee_id !== undefined) {
      meta.push(h("span", { class: "assignee" },
        "Assigned to " + this.userName(task.assignee_id)));
    }
    if (task.due_date) {
      const late = task.status !== "done" && task.due_date < today();

      meta.push(h("span", { class: late ? "due overdue" : "due" },
        (late ? "Overdue: " : "Due ") + formatDay(task.due_date)));
    }

    return h("li", { class: "task", tabindex: "-1", "data-task-id": task.id },
      h("h3", { class: "task-title", text: task.title }),
      task.description
        ? h("p", { class: "task-description clamp", text: task.description })
        : null,
      meta.length ? h("p", { class: "task-meta" }, meta) : null,
      h("div", { class: "task-actions" },
        h("button", { type: "button", class: "secondary small",
          "data-edit": task.id,
          "aria-label": "Edit " + quoted(task.title),
          on: { click: () => this.edit(task.id) } }, "Edit"),
        moves));
  }

  addTaskForm(column) {
    const title = h("input", { type: "text", name: "title", maxlength: 200,
      autocomplete: "off" });
    const form = h("form", { class: "add-task", novalidate: true },
      h("div", { class: "field" },
        h("label", { for: "new-task-" + column.status,
          text: "New task in " + column.label }),
        h("div", { class: "row" },
          title,
          h("button", { type: "submit" }, "Add"))));

    title.id = "new-task-" + column.status;
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      clearErrors(form);

      const done = busy(form);
      let answer;

      try {
        answer = await this.ctx.api("POST",
          "/api/projects/" + this.projectId + "/tasks",
          { body: { title: title.value.trim(), status: column.status } });
      } catch (error) {
        done();
        if (!error.handled) {
          showError(form, error);
        }
        return;
      }

      done();
      this.tasks.set(answer.data.id, answer.data);
      this.drawTasks(answer.data.status);
      form.reset();
      title.focus();
      announce("Added " + quoted(answer.data.title) + " to " +
        columnLabel(answer.data.status) + ".");
    });

    return form;
  }

  cardOf(id) {
    return this.root.querySelector('[data-task-id="' + id + '"]');
  }

  // Moves a task to the end of another column.  The server renumbers the
  // other tasks; the board does the same so it need not reload.
  async move(id, status) {
    const task = this.tasks.get(id);
    const from = task.status;
    const position = this.tasksIn(status).length;
    let answer;

    this.message.textContent = "";
    for (const button of this.cardOf(id).querySelectorAll("button")) {
      button.disabled = true;
    }

    try {
      answer = await this.ctx.api("PATCH", "/api/tasks/" + id,
        { body: { status, position } });
    } catch (error) {
      if (error.handled) {
        return;
      }
      this.message.textContent = "Could not move " + quoted(task.title) +
        ": " + error.message;
      if (error.status === 404) {
        this.tasks.delete(id);
      }
      this.drawTasks(from);
      return;
    }

    this.place(answer.data, from);
    this.cardOf(id).focus();
    announce("Moved " + quoted(task.title) + " to " + columnLabel(status) +
      ".");
  }

  // Puts a changed task in its place and closes the gap it left.
  place(task, oldStatus) {
    const old = this.tasks.get(task.id);

    if (old && oldStatus !== task.status) {
      for (const other of this.tasksIn(oldStatus)) {
        if (other.position > old.position) {
          other.position -= 1;
        }
      }
    }
    this.tasks.set(task.id, task);
    this.drawTasks(oldStatus);
    if (oldStatus !== task.status) {
      this.drawTasks(task.status);
    }
  }

  remove(id) {
    const task = this.tasks.get(id);

    if (!task) {
      return;
    }
    for (const other of this.tasksIn(task.status)) {
      if (other.position > task.position) {
        other.position -= 1;
      }
    }
    this.tasks.delete(id);
    this.drawTasks(task.status);
  }

  // Opens the dialog for one task, with a fresh copy and its ETag so that
  // saving cannot overwrite someone else's change unseen.
  async edit(id) {
    const task = this.tasks.get(id);
    let answer;

    this.message.textContent = "";
    try {
      answer = await this.ctx.api("GET", "/api/tasks/" + id);
    } catch (error) {
      if (error.handled) {
        return;
      }
      if (error.status === 404) {
        this.remove(id);
        this.message.textContent = quoted(task.title) +
          " was deleted in the meantime.";
      } else {
        this.message.textContent = "Could not open " + quoted(task.title) +
          ": " + error.message;
      }
      return;
    }

    this.place(answer.data, task.status);
    new TaskDialog(this, answer.data, answer.etag).open();
  }
}

// The dialog that edits one task; Escape or Cancel closes it unchanged.
class TaskDialog {
  constructor(board, task, etag) {
    this.board = board;
    this.task = task;
    this.etag = etag;
    this.dialog = null;
  }

  open() {
    const board = this.board;
    const fields = {
      title: h("input", { type: "text", name: "title", maxlength: 200,
        autocomplete: "off" }),
      description: h("textarea", { name: "description", rows: 4 }),
      status: h("select", { name: "status" },
        COLUMNS.map(function (column) {
          return h("option", { value: column.status, text: column.label });
        })),
      assignee: h("select", { name: "assignee_id" }),
      due: h("input", { type: "date", name: "due_date" })
    };
    const form = h("form", { class: "stack", novalidate: true },
      h("h2", { id: "task-dialog-title", text: "Edit task" }),
      field("Title", fields.title),
      field("Description", fields.description),
      h("div", { class: "field-row" },
        field("Column", fields.status),
        field("Assignee", fields.assignee),
        field("Due date", fields.due)),
      h("div", { class: "buttons" },
        h("button", { type: "submit" }, "Save changes"),
        h("button", { type: "button", class: "secondary",
          on: { click: () => this.close() } }, "Cancel")));
    const deleteZone = h("div", { class: "delete-zone" });

    this.fields = fields;
    this.form = form;
    this.deleteZone = deleteZone;
    this.dialog = h("dialog", { class: "dialog",
      "aria-labelledby": "task-dialog-title" }, form, deleteZone);

    this.fill();
    this.showDeleteButton();

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.save();
    });
    this.dialog.addEventListener("close", () => {
      const button = board.root.querySelector(
        '[data-edit="' + this.task.id + '"]');

      this.dialog.remove();
      if (button) {
        button.focus();
      }
    });

    board.root.append(this.dialog);
    this.dialog.showModal();
    fields.title.focus();
  }

  close() {
    this.dialog.close();
  }

  // Puts the task's values into the form.
  fill() {
    const task = this.task;
    const fields = this.fields;
    const users = this.board.users.slice();

    fields.title.value = task.title;
    fields.description.value = task.description || "";
    fields.status.value = task.status;
    fields.due.value = task.due_date || "";

    if (task.assignee_id !== null && !users.some(function (user) {
      return user.id === task.assignee_id;
    })) {
      users.push({ id: task.assignee_id, name: "User #" + task.assignee_id });
    }
    replace(fields.assignee,
      h("option", { value: "", text: "Nobody" }),
      users.filter(function (user) {
        return !user.disabled || user.id === task.assignee_id;
      }).map((user) => h("option", { value: String(user.id),
        text: (user.name || user.email) +
          (user.id === this.board.ctx.me.id ? " (you)" : "") +
          (user.disabled ? " (disabled)" : "") })));
    fields.assignee.value = task.assignee_id === null ? ""
      : String(task.assignee_id);
  }

  async save() {
    const board = this.board;
    const fields = this.fields;
    const form = this.form;
    const oldStatus = this.task.status;
    const body = {
      title: fields.title.value.trim(),
      description: fields.description.value,
      assignee_id: fields.assignee.value === "" ? null
        : Number(fields.assignee.value),
      due_date: fields.due.value === "" ? null : fields.due.value
    };
    let answer;

    if (fields.status.value !== oldStatus) {
      body.status = fields.status.value;
      body.position = board.tasksIn(body.status).length;
    }

    clearErrors(form);
    const done = busy(form);

    try {
      answer = await board.ctx.api("PATCH", "/api/tasks/" + this.task.id,
        { body, ifMatch: this.etag });
    } catch (error) {
      done();
      if (error.handled) {
        return;
      }
      if (error.status === 412) {
        await this.reloadAfterConflict();
      } else if (error.status === 404) {
        board.remove(this.task.id);
        this.close();
        board.message.textContent = quoted(this.task.title) +
          " was deleted in the meantime.";
      } else {
        showError(form, error);
      }
      return;
    }

    done();
    board.place(answer.data, oldStatus);
    this.task = answer.data;
    this.close();
    announce("Saved " + quoted(answer.data.title) + ".");
  }

  // Someone saved the task first: show their version and say so.
  async reloadAfterConflict() {
    let answer;

    try {
      answer = await this.board.ctx.api("GET", "/api/tasks/" + this.task.id);
    } catch (error) {
      if (!error.handled) {
        showError(this.form, error);
      }
      return;
    }

    this.board.place(answer.data, this.task.status);
    this.task = answer.data;
    this.etag = answer.etag;
    this.fill();
    formMessage(this.form, "Someone else changed this task while you " +
      "were editing it. The form now shows their version; make your " +
      "changes again and save.", "error");
    this.fields.title.focus();
  }

  showDeleteButton() {
    replace(this.deleteZone,
      h("button", { type: "button", class: "danger-quiet",
        on: { click: () => this.confirmDelete() } }, "Delete this task"));
  }

  confirmDelete() {
    const confirm = h("button", { type: "button", class: "danger" },
      "Delete task");
    const keep = h("button", { type: "button", class: "secondary" },
      "Keep it");
    const message = h("p", { class: "form-message", role: "alert" });

    replace(this.deleteZone,
      h("p", { class: "confirm-text" }, "Delete ",
        h("strong", { text: this.task.title }), "? This cannot be undone."),
      message,
      h("div", { class: "buttons" }, confirm, keep));

    keep.addEventListener("click", () => {
      this.showDeleteButton();
      this.deleteZone.querySelector("button").focus();
    });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      keep.disabled = true;
      try {
        await this.board.ctx.api("DELETE", "/api/tasks/" + this.task.id);
      } catch (error) {
        confirm.disabled = false;
        keep.disabled = false;
        if (!error.handled && error.status !== 404) {
          message.textContent = error.message;
          message.className = "form-message error";
          return;
        }
        if (error.handled) {
          return;
        }
      }
      this.board.remove(this.task.id);
      this.close();
      announce("Deleted " + quoted(this.task.title) + ".");
      const heading = this.board.columns[this.task.status].section
        .querySelector("h2");
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    });
    confirm.focus();
  }
}
