// The record form: visible_when evaluated on every change, sub-table rows added, removed and
// reordered, cascading region selects, reference pickers and searchable selects, and the error
// summary's links (which open the right tab).
import { evaluate, coerceLiteral } from "./conditions.js";
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
                   "aria-activedescendant", "data-error-for"];

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

// --- wiring -------------------------------------------------------------------------------

function openTabOf(element) {
  const pane = element.closest(".tab-pane");
  if (!pane || pane.classList.contains("active")) return;
  const button = document.querySelector(`[data-bs-target="#${pane.id}"]`);
  if (button && window.bootstrap) window.bootstrap.Tab.getOrCreateInstance(button).show();
}

if (form) {
  const types = JSON.parse(form.dataset.fieldTypes || "{}");
  const refresh = () => refreshVisibility(types);
  form.addEventListener("change", (event) => {
    if (event.target.matches("select[data-region-part]")) loadChildren(event.target).then(refresh);
    refresh();
  });
  form.addEventListener("input", refresh);
  form.addEventListener("click", (event) => {
    const add = event.target.closest("[data-add-row]");
    if (add) {
      addRow(add.closest("[data-subtable]"));
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
    submitting = true;
    const save = form.querySelector("#save");
    if (save) save.classList.add("disabled");
  });
}

const summary = document.getElementById("error-summary");
if (summary) {
  summary.addEventListener("click", (event) => {
    const link = event.target.closest("a[href^='#']");
    if (!link) return;
    const target = document.getElementById(link.getAttribute("href").slice(1));
    if (!target) return;
    event.preventDefault();
    openTabOf(target);
    setTimeout(() => {
      target.scrollIntoView({ block: "center" });
      const focusable = target.matches("input, select, textarea") ? target
        : target.querySelector("input:not([type=hidden]), select, textarea");
      if (focusable) focusable.focus({ preventScroll: true });
    }, 160);
  });
  summary.focus();
}
