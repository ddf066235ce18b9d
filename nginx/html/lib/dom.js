// Small DOM helpers shared by the tenant app and the admin page: building
// elements, labelled form fields, errors next to fields, announcements.

let idCounter = 0;

// A fresh id for pairing labels, hints and errors with their fields.
export function uid(prefix) {
  idCounter += 1;
  return (prefix || "el") + "-" + idCounter;
}

// Builds an element.  props: class, text, on ({event: handler}), and any
// other key as an attribute (true for a bare attribute, false or null to
// leave it out).  Children are nodes or strings; null and false are skipped.
export function h(tag, props, ...children) {
  const node = document.createElement(tag);

  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) {
      continue;
    }
    if (key === "class") {
      node.className = value;
    } else if (key === "text") {
      node.textContent = value;
    } else if (key === "on") {
      for (const [event, handler] of Object.entries(value)) {
        node.addEventListener(event, handler);
      }
    } else if (key === "value") {
      node.value = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }

  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) {
      continue;
    }
    node.append(child instanceof Node ? child : String(child));
  }
}

// Empties a node and fills it with the children.
export function replace(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

// A labelled form field: label, control, optional hint, and a slot for
// the field's error.  control is an input, select or textarea; its name
// is the API's field name, which is how errors find it.
export function field(labelText, control, hint) {
  const id = control.id || uid("field");
  const hintNode = hint
    ? h("p", { class: "hint", id: id + "-hint", text: hint })
    : null;

  control.id = id;
  if (hintNode) {
    control.setAttribute("aria-describedby", hintNode.id);
  }

  return h("div", { class: "field" },
    h("label", { for: id, text: labelText }),
    control,
    hintNode);
}

// The form's message slot (errors and confirmations for the whole form),
// made on first use just before the form's buttons.
function messageSlot(form) {
  let slot = form.querySelector(":scope > .form-message");

  if (!slot) {
    slot = h("p", { class: "form-message", role: "status" });
    const buttons = form.querySelector(":scope > .buttons");
    form.insertBefore(slot, buttons);
  }
  return slot;
}

// Removes every error and message that showError put into the form.
export function clearErrors(form) {
  for (const error of form.querySelectorAll(".field-error")) {
    const control = form.querySelector("#" + CSS.escape(error.dataset.for));

    if (control) {
      control.removeAttribute("aria-invalid");
      unlinkDescription(control, error.id);
    }
    error.remove();
  }

  const slot = form.querySelector(":scope > .form-message");
  if (slot) {
    slot.textContent = "";
    slot.className = "form-message";
  }
}

function unlinkDescription(control, id) {
  const ids = (control.getAttribute("aria-describedby") || "")
    .split(/\s+/).filter(function (each) {
      return each !== "" && each !== id;
    });

  if (ids.length) {
    control.setAttribute("aria-describedby", ids.join(" "));
  } else {
    control.removeAttribute("aria-describedby");
  }
}

// Puts one error under a form control and links it for screen readers.
export function fieldError(control, text) {
  const wrapper = control.closest(".field") || control.parentNode;
  const id = control.id + "-error";
  let error = wrapper.querySelector("#" + CSS.escape(id));

  if (!error) {
    error = h("p", { class: "field-error", id, "data-for": control.id });
    wrapper.append(error);
    control.setAttribute("aria-describedby",
      ((control.getAttribute("aria-describedby") || "") + " " + id).trim());
  }

  error.textContent = error.textContent
    ? error.textContent + " " + text
    : text;
  control.setAttribute("aria-invalid", "true");
}

// A message for the whole form; kind is "error" or "ok".
export function formMessage(form, text, kind) {
  const slot = messageSlot(form);

  slot.textContent = text;
  slot.className = "form-message " + (kind || "error");
  slot.setAttribute("role", kind === "ok" ? "status" : "alert");
}

const SEE_FIELDS =
  "Some values need correcting; see the messages at the fields.";

// Shows an ApiError on a form: each 422 field error next to its control
// (aliases maps an API field name to a control name), everything else in
// the form's message.  Focuses the first field in error.  fieldFor, when
// given, names the control that a problem without field errors is about
// (a taken e-mail address, say).
export function showError(form, error, options = {}) {
  const aliases = options.aliases || {};
  const unplaced = [];
  let first = null;

  clearErrors(form);

  for (const each of error.fieldErrors || []) {
    const name = aliases[each.field] || each.field;
    const control = form.elements.namedItem(name);

    if (control && control.nodeType === 1) {
      fieldError(control, sentenceCase(each.detail));
      first = first || control;
    } else {
      unplaced.push(each.field + ": " + each.detail);
    }
  }

  if (first === null && options.fieldFor &&
      form.elements.namedItem(options.fieldFor)) {
    first = form.elements.namedItem(options.fieldFor);
    fieldError(first, error.message);
  } else if (first && unplaced.length === 0) {
    formMessage(form, SEE_FIELDS, "error");
  } else {
    const extra = unplaced.length ? " " + unplaced.join("; ") + "." : "";
    formMessage(form, (first ? SEE_FIELDS : error.message) + extra +
      requestNote(error), "error");
  }

  if (first) {
    first.focus();
  }
}

function sentenceCase(text) {
  const value = String(text || "");
  return value ? value[0].toUpperCase() + value.slice(1) : value;
}

// " (request id …)" for errors the operator may need to look up in logs.
export function requestNote(error) {
  return error.requestId && (error.status === 0 || error.status >= 500)
    ? " (request id " + error.requestId + ")"
    : "";
}

// Disables a form's controls while a request runs; returns a function that
// enables them again.
export function busy(form) {
  const controls = Array.from(form.elements).filter(function (control) {
    return !control.disabled;
  });

  form.setAttribute("aria-busy", "true");
  for (const control of controls) {
    control.disabled = true;
  }

  return function done() {
    form.removeAttribute("aria-busy");
    for (const control of controls) {
      control.disabled = false;
    }
  };
}

// Says something to screen readers through the page's live region.
export function announce(text) {
  const region = document.getElementById("announcer");

  if (!region) {
    return;
  }
  region.textContent = "";
  window.setTimeout(function () {
    region.textContent = text;
  }, 50);
}

// "4 Dec 2026, 15:34" for an API timestamp; the text itself when unreadable.
export function formatTime(text) {
  const when = new Date(text);

  if (!text || isNaN(when.getTime())) {
    return text || "";
  }
  return when.toLocaleString(undefined,
    { dateStyle: "medium", timeStyle: "short" });
}

// "4 Dec 2026" for a YYYY-MM-DD date, read as a calendar day (no time zone).
export function formatDay(text) {
  const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text || "");

  if (!match) {
    return text || "";
  }
  return new Date(Date.UTC(+match[1], +match[2] - 1, +match[3]))
    .toLocaleDateString(undefined, { dateStyle: "medium", timeZone: "UTC" });
}

// Today as YYYY-MM-DD in the visitor's time zone.
export function today() {
  const now = new Date();
  const pad = function (n) {
    return String(n).padStart(2, "0");
  };

  return now.getFullYear() + "-" + pad(now.getMonth() + 1) + "-" +
    pad(now.getDate());
}
