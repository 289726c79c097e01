// The record form: visible_when evaluated on every change, sub-table rows added, removed and
// reordered, cascading region selects, reference pickers and searchable selects, files uploaded
// as soon as they are chosen, the server's checks run in the browser (validation.js) on blur,
// change and submit, and the error summary's links (which open the right tab).
import { evaluate, coerceLiteral } from "./conditions.js";
import { fieldError, messageFormatter, pyFormat, pyStrip, rowsError } from "./validation.js";
import { FileUploads } from "./widgets/file_upload.js";
import { enhanceReferencePickers } from "./widgets/reference_picker.js";
import { enhanceSearchableSelects } from "./widgets/searchable_select.js";

const form = document.getElementById("record-form");

function fieldValue(wrapper, type) {
  const key = wrapper.dataset.lbField;
  if (wrapper.dataset.value !== undefined) { // a read-only field: its value, as JSON
    const value = JSON.parse(wrapper.dataset.value);
    if (typeof value !== "string") return value;
    return value === "" ? null : coerceLiteral(type, value);
  }
  if (type === "boolean") {
    const box = wrapper.querySelector(`input[type=checkbox][name="${key}"]`);
    return box ? box.checked : null;
  }
  if (type === "multiselect") {
    return [...wrapper.querySelectorAll(`input[type=checkbox][name="${key}"]:checked`)]
      .map((box) => box.value);
  }
  if (type === "region") {
    const parts = [...wrapper.querySelectorAll("select[data-region-part]")]
      .map((s) => s.value).filter(Boolean);
    return parts.length ? parts[parts.length - 1] : null;
  }
  if (type === "subtable") {
    return [...wrapper.querySelectorAll("tbody [data-row]")];
  }
  const input = wrapper.querySelector(`[name="${key}"]`);
  if (!input) return null;
  const raw = input.value.trim();
  if (raw === "") return null;
  return coerceLiteral(type, raw);
}

function readRecord(types) {
  const record = {};
  for (const wrapper of form.querySelectorAll("[data-lb-field]")) {
    const type = wrapper.dataset.lbType;
    if (type === "subtable") continue;
    record[wrapper.dataset.lbField] = fieldValue(wrapper, type);
  }
  return record;
}

function refreshVisibility(types) {
  const record = readRecord(types);
  for (const el of form.querySelectorAll("[data-visible-when]")) {
    let shown = true;
    try {
      shown = evaluate(JSON.parse(el.dataset.visibleWhen), record, types);
    } catch (error) {
      console.warn("visible_when could not be evaluated; showing the field", error);
    }
    el.hidden = !shown;
  }
  // A section whose every field is hidden by its condition is an empty box: hide it too.
  for (const section of form.querySelectorAll("section[data-section]")) {
    const fields = [...section.querySelectorAll("[data-lb-field]")];
    section.classList.toggle("lb-all-hidden", fields.every((f) => f.hidden));  // none: empty too
  }
}

// --- sub-tables ---------------------------------------------------------------------------

function renumber(table) {
  const rows = [...table.querySelectorAll("tbody[data-rows] > tr[data-row]")];
  rows.forEach((row, i) => {
    const cell = row.querySelector(".lb-rownum");
    const label = cell.querySelector("[data-rownum]");
    if (label) label.textContent = String(i + 1);
    else if (cell.firstChild && cell.firstChild.nodeType === Node.TEXT_NODE) {
      cell.firstChild.textContent = String(i + 1);
    }
  });
  rows.forEach((row, i) => {
    for (const move of row.querySelectorAll("[data-move-row]")) {
      move.disabled = Number(move.dataset.moveRow) < 0 ? i === 0 : i === rows.length - 1;
    }
  });
  const empty = table.querySelector("tr[data-empty-row]");
  if (empty) empty.hidden = rows.length > 0;
  const add = table.querySelector("[data-add-row]");
  if (add && add.dataset.maxRows) add.disabled = rows.length >= Number(add.dataset.maxRows);
}

function nextIndex(table) {
  let max = -1;
  const key = table.dataset.subtable;
  const pattern = new RegExp(`^${key}\\.(\\d+)\\.`);
  for (const input of table.querySelectorAll("[name]")) {
    const match = pattern.exec(input.name);
    if (match) max = Math.max(max, Number(match[1]));
  }
  return max + 1;
}

function addRow(table) {
  const template = table.querySelector("template[data-row-template]");
  const index = String(nextIndex(table));
  const fragment = template.content.cloneNode(true);
  for (const el of fragment.querySelectorAll("[name], [id], [for], [aria-labelledby]")) {
    for (const attr of ["name", "id", "for", "aria-labelledby"]) {
      const value = el.getAttribute(attr);
      if (value && value.includes("__i__")) el.setAttribute(attr, value.replaceAll("__i__", index));
    }
  }
  const body = table.querySelector("tbody[data-rows]");
  const row = fragment.querySelector("tr");
  body.insertBefore(fragment, body.querySelector("tr[data-empty-row]"));
  enhance(row);
  renumber(table);
  const first = row.querySelector("input:not([type=hidden]), select, textarea");
  if (first) first.focus();
}

// Row inputs are named <sub>.<n>.<field> and the server reads rows in the order of n, so after
// a move or a removal every row is renamed to its position: names (and the ids, labels and
// error anchors built from them) always run 0, 1, 2... down the table.
const ROW_ATTRS = ["name", "id", "for", "aria-labelledby", "aria-controls",
                   "aria-activedescendant", "aria-describedby", "data-error-for"];

function rowIndex(row, key) {
  const marker = row.querySelector(`input[type=hidden][name^="${key}."][name$=".id"]`);
  const match = marker && new RegExp(`^${key}\\.(\\d+)\\.id$`).exec(marker.name);
  return match ? match[1] : null;
}

function reindex(table) {
  const key = table.dataset.subtable;
  const rows = [...table.querySelectorAll("tbody[data-rows] > tr[data-row]")];
  rows.forEach((row, position) => {
    const old = rowIndex(row, key);
    const now = String(position);
    if (old === null || old === now) return;
    const names = [`${key}.${old}.`, `${key}.${now}.`];
    const ids = [`fld-${key}-${old}-`, `fld-${key}-${now}-`];
    for (const el of [row, ...row.querySelectorAll("*")]) {
      for (const attr of ROW_ATTRS) {
        const value = el.getAttribute(attr);
        if (!value) continue;
        const renamed = value.replace(names[0], names[1]).replace(ids[0], ids[1]);
        if (renamed !== value) el.setAttribute(attr, renamed);
      }
    }
  });
  renumber(table);
}

function moveRow(button) {
  const row = button.closest("tr[data-row]");
  const table = row.closest("[data-subtable]");
  const step = Number(button.dataset.moveRow);
  const sibling = step < 0 ? row.previousElementSibling : row.nextElementSibling;
  if (!sibling || !sibling.matches("tr[data-row]")) return;
  if (step < 0) sibling.before(row);
  else sibling.after(row);
  reindex(table);
  // keep the focus on the same button, now in the row's new place
  const again = row.querySelector(`[data-move-row="${button.dataset.moveRow}"]`);
  if (again && !again.disabled) again.focus();
  else row.querySelector("[data-move-row]:not(:disabled)")?.focus();
}

function enhance(root) {
  enhanceReferencePickers(root);
  enhanceSearchableSelects(root);
}

// --- regions ------------------------------------------------------------------------------

async function loadChildren(select) {
  const box = select.closest("[data-region]");
  const selects = [...box.querySelectorAll("select[data-region-part]")];
  const level = Number(select.dataset.regionPart);
  for (const lower of selects.slice(level + 1)) {
    lower.length = 1; // keep the placeholder
    lower.value = "";
  }
  for (const lower of selects.slice(level + 2)) lower.disabled = true;
  const child = selects[level + 1];
  if (!child) return;
  child.disabled = true;
  if (!select.value) return;
  let count = 0;
  try {
    const response = await fetch(box.dataset.regionsUrl + encodeURIComponent(select.value), {
      headers: { Accept: "application/json", "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
    if (!response.ok) return;
    for (const item of await response.json()) {
      child.add(new Option(item.name, item.code));
      count += 1;
    }
  } finally {
    // A municipality's districts hang straight off it: the last select then stays off.
    child.disabled = count === 0;
  }
}

// --- client-side validation ----------------------------------------------------------------
// The same rules and messages as the server (see validation.js). Errors go where the server
// puts its own: an .invalid-feedback under the input (data-error-for = the input's name), the
// input marked is-invalid, and the summary above the form listing them all. A server error
// stays until its field's value changes (the browser cannot check unique values).

const ROW_NAME = /^([A-Za-z0-9_]+)\.(\d{1,6})\.([A-Za-z0-9_]+)$/;
const domId = (name) => `fld-${name.replace(/[^A-Za-z0-9_-]/g, "-")}`;
const byName = (root, name) => root.querySelector(`[name="${CSS.escape(name)}"]`);

class FormChecks {
  constructor(formEl, config, types) {
    this.form = formEl;
    this.config = config;
    this.types = types;
    this.msg = messageFormatter(config.catalog);
    this.touched = new Set(); // names the user has typed into
    this.uploadErrors = new Map(); // name -> the files API's (or the size check's) refusal
    this.initial = new Map();
    for (const slot of this.slots()) this.initial.set(slot.name, this.snapshot(slot));
    const summary = document.getElementById("error-summary");
    // errors the server reported without a field to show them at (e.g. a stale version)
    this.loose = summary ? [...summary.querySelectorAll("li")]
      .filter((li) => !li.querySelector("a[href^='#']")).map((li) => li.textContent) : [];
  }

  rulesFor(name) {
    const row = ROW_NAME.exec(name);
    if (!row) return this.config.fields[name] || null;
    const table = this.config.fields[row[1]];
    return (table && table.fields && table.fields[row[3]]) || null;
  }

  labelFor(name) {
    const row = ROW_NAME.exec(name);
    if (!row) return (this.config.fields[name] || {}).label || (name === "_" ? "" : name);
    const table = this.config.fields[row[1]];
    const sub = this.rulesFor(name);
    if (!table) return name;
    return `${table.label} #${Number(row[2]) + 1} ${sub ? sub.label : row[3]}`;
  }

  // Every input the user can write, as {name, rules, box (where its errors go), row?}.
  * slots() {
    for (const wrapper of this.form.querySelectorAll("[data-lb-field]")) {
      const key = wrapper.dataset.lbField;
      const rules = this.config.fields[key];
      if (!rules || wrapper.dataset.value !== undefined) continue; // read-only: nothing posted
      if (rules.type === "subtable") {
        const table = wrapper.querySelector("[data-subtable]");
        if (!table || !byName(table, `${key}.__present`)) continue;
        yield { name: key, rules, box: wrapper, table };
        for (const row of table.querySelectorAll("tbody[data-rows] > tr[data-row]")) {
          for (const [sub, subRules] of Object.entries(rules.fields || {})) {
            if (["boolean", "computed", "auto_number"].includes(subRules.type)) continue;
            const input = row.querySelector(`[name^="${CSS.escape(key)}."][name$=".${sub}"],` +
              `[name^="${CSS.escape(key)}."][name$=".${sub}.p"],` +
              `[name^="${CSS.escape(key)}."][name$=".${sub}.upload"]`);
            const match = input && /^([^.]+\.\d+\.[^.]+)/.exec(input.name);
            if (!match) continue;
            yield { name: match[1], rules: subRules, box: input.closest("td"), row };
          }
        }
      } else if (rules.type !== "boolean" && rules.type !== "computed" &&
                 rules.type !== "auto_number") {
        if (!wrapper.querySelector("[name]")) continue;
        yield { name: key, rules, box: wrapper };
      }
    }
  }

  slotOf(name) {
    for (const slot of this.slots()) if (slot.name === name) return slot;
    return null;
  }

  // What the form would post for the slot, as the server reads it (widgets.parse_submission).
  raw(slot) {
    const { name, rules, box } = slot;
    const t = rules.type;
    if (t === "subtable") return slot.table.querySelectorAll("tbody[data-rows] > tr[data-row]").length;
    if (t === "multiselect") {
      return [...box.querySelectorAll(`input[type=checkbox][name="${CSS.escape(name)}"]:checked`)]
        .map((b) => b.value).filter(Boolean);
    }
    if (t === "region") {
      const parts = ["p", "c", "d"].map((p) => byName(box, `${name}.${p}`))
        .map((s) => (s ? pyStrip(s.value) : ""));
      return parts.reverse().find(Boolean) || "";
    }
    if (t === "file") {
      if (this.uploads && this.uploads.isPending(name)) return "…";
      const chosen = byName(box, `${name}.upload`);
      if (chosen && chosen.files && chosen.files.length) return chosen.files[0].name;
      const clear = byName(box, `${name}.clear`);
      if (clear && clear.checked) return "";
      const hidden = byName(box, name);
      return hidden ? pyStrip(hidden.value) : "";
    }
    const input = byName(box, name);
    if (!input) return null;
    if (t === "textarea") return input.value.replace(/\r\n|\r|\n/g, "\r\n"); // as posted
    return pyStrip(input.value);
  }

  snapshot(slot) {
    const value = this.raw(slot);
    return Array.isArray(value) ? value.join("\u0000") : String(value);
  }

  shown(slot) {
    if (slot.box.closest("[hidden]")) return false;
    if (!slot.row || !slot.rules.visible_when) return true;
    const record = {};
    const table = this.rulesFor(slot.name.split(".")[0]) || { fields: {} };
    const types = {};
    for (const [sub, subRules] of Object.entries(table.fields || {})) {
      types[sub] = subRules.type;
      if (subRules.type === "boolean") {
        const box = slot.row.querySelector(`input[type=checkbox][name$=".${sub}"]`);
        record[sub] = box ? box.checked : null;
        continue;
      }
      const cell = slot.row.querySelector(`[name$=".${sub}"]:not([type=checkbox])`);
      const value = cell ? pyStrip(cell.value) : "";
      record[sub] = value === "" ? null : coerceLiteral(subRules.type, value);
    }
    try {
      return evaluate(slot.rules.visible_when, record, types);
    } catch {
      return true;
    }
  }

  // The browser's findings for one slot (the server's words), [] when none.
  check(slot) {
    const { name, rules, box } = slot;
    if (!this.shown(slot)) return [];
    const extra = this.uploadErrors.has(name) ? [this.uploadErrors.get(name)] : [];
    if (rules.type === "subtable") {
      const error = rowsError(rules, this.raw(slot), this.msg);
      return error ? [error] : [];
    }
    const input = byName(box, name);
    if (input && input.dataset.maskedValue !== undefined &&
        pyStrip(input.value) === pyStrip(input.dataset.maskedValue)) {
      return extra; // a masked value sent back unchanged is not checked (RecordService)
    }
    if (input && (input.type === "date" || input.type === "datetime-local") &&
        input.validity.badInput) {
      return [this.msg(input.type === "date" ? "not_date" : "not_datetime", { value: "" })];
    }
    const today = new Date();
    const error = fieldError(rules, this.raw(slot), this.msg, {
      years: this.config.years,
      today: [today.getFullYear(), today.getMonth() + 1, today.getDate()],
    });
    return error ? [error, ...extra] : extra;
  }

  controls(slot) {
    const { name, rules, box } = slot;
    if (rules.type === "subtable") return [...box.querySelectorAll(".table-responsive")];
    if (rules.type === "multiselect") return [...box.querySelectorAll(".lb-checks")];
    if (rules.type === "region") return [...box.querySelectorAll("select[data-region-part]")];
    if (rules.type === "file") return [...box.querySelectorAll("input[type=file]")];
    const own = document.getElementById(domId(name));
    const input = byName(box, name);
    return [own, input && input.type !== "hidden" ? input : null].filter(Boolean);
  }

  errorNodes(slot) {
    return [...slot.box.querySelectorAll(`:scope > [data-error-for="${CSS.escape(slot.name)}"]`)];
  }

  // Show `messages` for the slot; the server's own stay while the value is what it judged.
  render(slot, messages) {
    const changed = this.initial.get(slot.name) !== this.snapshot(slot) || !this.shown(slot);
    for (const node of this.errorNodes(slot)) {
      if (node.dataset.origin === "client" || changed) node.remove();
    }
    const kept = this.errorNodes(slot).map((node) => node.textContent);
    let anchor = this.errorNodes(slot).pop() || null;
    for (const text of messages) {
      if (kept.includes(text)) continue;
      kept.push(text);
      const node = document.createElement("div");
      node.className = "invalid-feedback d-block";
      node.dataset.errorFor = slot.name;
      node.dataset.origin = "client";
      node.textContent = text;
      if (anchor) anchor.after(node);
      else {
        const help = slot.box.querySelector(":scope > [data-lb-help]");
        if (help) help.before(node);
        else slot.box.append(node);
      }
      anchor = node;
    }
    const invalid = kept.length > 0;
    const ids = this.errorNodes(slot).map((node, i) => {
      if (!node.id) node.id = `${domId(slot.name)}-error-c${i + 1}`;
      return node.id;
    }).join(" ");
    for (const control of this.controls(slot)) {
      if (invalid && slot.rules.type !== "subtable") control.setAttribute("aria-describedby", ids);
      else control.removeAttribute("aria-describedby");
      if (slot.rules.type === "subtable") control.classList.toggle("border-danger", invalid);
      else if (slot.rules.type === "multiselect") {
        control.classList.toggle("is-invalid", invalid);
        control.classList.toggle("border-danger", invalid);
      } else control.classList.toggle("is-invalid", invalid);
      if (invalid) control.setAttribute("aria-invalid", "true");
      else control.removeAttribute("aria-invalid");
    }
    return invalid;
  }

  /** Check one input by name (on blur or change); the summary follows when it is shown. */
  validateName(name) {
    const slot = this.slotOf(name);
    if (!slot) return;
    this.render(slot, this.check(slot));
    if (document.getElementById("error-summary")) this.summarize();
  }

  /** Check everything; true when the browser found nothing that blocks the post. */
  validateAll() {
    let clean = true;
    for (const slot of this.slots()) {
      const messages = this.check(slot);
      const blocking = messages.filter((m) => m !== this.uploadErrors.get(slot.name));
      if (blocking.length) clean = false;
      this.render(slot, messages);
    }
    return clean;
  }

  items() {
    const items = [];
    for (const node of this.form.querySelectorAll(".invalid-feedback[data-error-for]")) {
      if (node.closest("[hidden]")) continue;
      const name = node.dataset.errorFor;
      const target = document.getElementById(domId(name)) ? domId(name) : "";
      const pane = node.closest(".tab-pane");
      const tab = pane ? document.querySelector(`[data-bs-target="#${pane.id}"]`) : null;
      items.push({ name, label: this.labelFor(name), message: node.textContent, target,
        tab: tab ? tab.dataset.tabKey : "" });
    }
    return items;
  }

  /** The summary above the form, the same markup as form.html's, and the tabs' counts. */
  summarize() {
    const items = this.items();
    const count = items.length + this.loose.length;
    let summary = document.getElementById("error-summary");
    const tabs = {};
    for (const item of items) tabs[item.tab] = (tabs[item.tab] || 0) + 1;
    for (const button of document.querySelectorAll("[data-tab-key]")) {
      let badge = button.querySelector(".badge");
      const n = tabs[button.dataset.tabKey] || 0;
      if (!n) {
        if (badge) badge.remove();
        continue;
      }
      if (!badge) {
        badge = document.createElement("span");
        badge.className = "badge rounded-pill text-bg-danger";
        button.append(" ", badge);
      }
      badge.textContent = String(n);
    }
    if (!count) {
      if (summary) summary.remove();
      return null;
    }
    if (!summary) {
      summary = document.createElement("div");
      summary.className = "alert alert-danger lb-error-summary";
      summary.id = "error-summary";
      summary.setAttribute("role", "alert");
      summary.tabIndex = -1;
      this.form.before(summary);
    }
    const heading = document.createElement("h2");
    heading.className = "h6 mb-2";
    const icon = document.createElement("i");
    icon.className = "bi bi-exclamation-octagon-fill";
    heading.append(icon, ` ${pyFormat(this.config.texts.error_summary, { n: count })}`);
    const list = document.createElement("ul");
    list.className = "mb-0";
    for (const item of items) {
      const li = document.createElement("li");
      if (item.target) {
        const link = document.createElement("a");
        link.className = "alert-link";
        link.href = `#${item.target}`;
        link.dataset.tab = item.tab;
        link.textContent = item.label;
        li.append(link);
      } else li.append(item.label);
      li.append(`${this.config.separator}${item.message}`);
      list.append(li);
    }
    for (const text of this.loose) {
      const li = document.createElement("li");
      li.textContent = text;
      list.append(li);
    }
    summary.replaceChildren(heading, list);
    return items;
  }
}

// --- wiring -------------------------------------------------------------------------------

function openTabOf(element) {
  const pane = element.closest(".tab-pane");
  if (!pane || pane.classList.contains("active")) return Promise.resolve();
  const button = document.querySelector(`[data-bs-target="#${pane.id}"]`);
  if (!button || !window.bootstrap) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 600); // in case the transition event never comes
    button.addEventListener("shown.bs.tab", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
    window.bootstrap.Tab.getOrCreateInstance(button).show();
  });
}

function focusable(target) {
  if (target.matches("input:not([type=hidden]), select, textarea")) return target;
  return target.querySelector("input[type=file]") ||
    target.querySelector("input:not([type=hidden]), select, textarea");
}

async function goTo(target, options = {}) {
  await openTabOf(target);
  target.scrollIntoView({ block: "center" });
  const control = focusable(target);
  if (control) control.focus({ preventScroll: true });
  else if (options.fallback) options.fallback.focus();
}

function readConfig() {
  const script = document.getElementById("record-form-rules");
  try {
    return script ? JSON.parse(script.textContent) : null;
  } catch (error) {
    console.warn("the form's rules could not be read; only the server checks", error);
    return null;
  }
}

if (form) {
  const types = JSON.parse(form.dataset.fieldTypes || "{}");
  const config = readConfig();
  const checks = config ? new FormChecks(form, config, types) : null;
  let pressed = false; // a pointer is down (see checkSoon)
  const refresh = () => {
    refreshVisibility(types);
    if (checks && !pressed && document.getElementById("error-summary")) checks.summarize();
  };
  if (checks) {
    checks.uploads = new FileUploads(form, config, {
      rulesFor: (name) => checks.rulesFor(name),
      message: checks.msg,
      setUploadError: (name, text) => {
        if (text) checks.uploadErrors.set(name, text);
        else checks.uploadErrors.delete(name);
        checks.validateName(name);
      },
      uploaded: (name) => checks.validateName(name),
    });
  }
  // A message shown on blur moves what is below it. When the blur comes from pressing a
  // button (Save, a tab, add row), showing it at once would slide the button away between
  // mousedown and mouseup and the click would be lost: wait for the release.
  const deferred = new Set();
  const blurCheck = (name) => {
    const slot = checks.slotOf(name);
    // an untouched empty field is not "required" yet: only after an edit, or to clear an error
    if (slot && (checks.touched.has(name) || checks.errorNodes(slot).length)) {
      checks.validateName(name);
    }
  };
  const checkSoon = (name) => {
    if (pressed) deferred.add(name);
    else blurCheck(name);
  };
  document.addEventListener("pointerdown", () => { pressed = true; }, true);
  document.addEventListener("pointerup", () => {
    pressed = false;
    setTimeout(() => { // after the click this release makes
      for (const name of deferred) blurCheck(name);
      deferred.clear();
    }, 0);
  }, true);
  const nameOf = (el) => {
    const name = el && el.name ? el.name.replace(/\.(p|c|d|upload|clear)$/, "") : "";
    return name.endsWith(".__present") ? "" : name;
  };
  form.addEventListener("change", (event) => {
    if (event.target.matches("select[data-region-part]")) loadChildren(event.target).then(refresh);
    refresh();
    const name = nameOf(event.target);
    if (checks && name && !event.target.matches("input[type=file]")) {
      checks.touched.add(name);
      checkSoon(name);
    }
  });
  form.addEventListener("input", (event) => {
    refresh();
    const name = nameOf(event.target);
    if (checks && name) checks.touched.add(name);
  });
  form.addEventListener("focusout", (event) => {
    const name = nameOf(event.target);
    if (!checks || !name || event.target.matches("input[type=file]")) return;
    // a date typed in part sends no input event (its value stays empty) but is an edit
    if (event.target.validity && event.target.validity.badInput) checks.touched.add(name);
    checkSoon(name);
  });
  form.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      addRow(add.closest("[data-subtable]"));
      if (checks) checks.validateName(add.closest("[data-subtable]").dataset.subtable);
      return;
    }
    const move = event.target.closest("[data-move-row]");
    if (move) {
      moveRow(move);
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) {
      const table = remove.closest("[data-subtable]");
      remove.closest("tr").remove();
      reindex(table);
      if (checks) checks.validateName(table.dataset.subtable);
    }
  });
  enhance(form);
  for (const table of form.querySelectorAll("[data-subtable]")) renumber(table);
  refresh();

  let submitting = false;
  form.addEventListener("submit", (event) => {
    if (submitting) {
      event.preventDefault();
      return;
    }
    if (checks) {
      const uploading = checks.uploads.pending();
      const clean = checks.validateAll();
      if (uploading) {
        event.preventDefault();
        const slot = checks.slotOf(uploading);
        if (slot) checks.render(slot, [config.texts.fv_upload_pending]);
      }
      if (!clean || uploading) {
        event.preventDefault();
        const items = checks.summarize() || [];
        const first = items.find((item) => item.target);
        const summary = document.getElementById("error-summary");
        if (first) goTo(document.getElementById(first.target), { fallback: summary });
        else if (summary) summary.focus();
        return;
      }
    }
    submitting = true;
    const save = form.querySelector("#save");
    if (save) save.classList.add("disabled");
  });
}

document.addEventListener("click", (event) => {
  const link = event.target.closest("#error-summary a[href^='#']");
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  event.preventDefault();
  goTo(target);
});

const summary = document.getElementById("error-summary");
if (summary) summary.focus();
