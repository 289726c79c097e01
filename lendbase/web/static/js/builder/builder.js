// The form builder page: wires the state to the palette, canvas and property panel, and the
// toolbar to the server (save, preview, compare, dry-run + publish, versions + restore).

import {errorMessage, formApi, request} from './api.js';
import {Canvas} from './canvas.js';
import {el, format, icon, pickLabel} from './dom.js';
import {renderPalette} from './palette.js';
import {PropertyPanel} from './properties.js';
import {BuilderState, locateErrors} from './state.js';

const boot = JSON.parse(document.getElementById('builder-boot').textContent);
const t = boot.strings;
const state = new BuilderState(boot);
const api = formApi(boot.urls.api, boot.key, boot.lang);
const $ = (sel) => document.querySelector(sel);
const Modal = window.bootstrap?.Modal;

const canvas = new Canvas($('#canvas'), state, t);
renderPalette($('#palette'), state, t, () => canvas.activeTab,
  (evt, original) => canvas.allowPaletteMove(evt, original));
const panel = new PropertyPanel($('#props'), state, t);

// --- status, undo/redo buttons ----------------------------------------------------------------

function status(text, kind = 'secondary') {
  const node = $('#save-state');
  node.className = `small text-${kind}`;
  node.textContent = text;
}

function refreshToolbar() {
  $('#undo').disabled = !state.undoStack.length;
  $('#redo').disabled = !state.redoStack.length;
  if (state.dirty) status(t.unsaved, 'warning-emphasis');
  else status(t.all_saved, 'success');
}

function showErrors() {
  const box = $('#error-summary');
  if (!state.errors.length) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  const lang = boot.lang;
  const items = state.errors.map((e) => {
    const f = e.fieldKey ? state.field(e.fieldKey) : null;
    const sub = f && e.subKey ? (f.fields || []).find((c) => c.key === e.subKey) : null;
    let where = t.form;
    if (f) where = pickLabel(f.label, lang, f.key) + (sub ? ` › ${pickLabel(sub.label, lang, sub.key)}` : '');
    else if (e.section !== null) where = `${t.section} ${state.tabs()[e.tab]?.sections[e.section]?.key || e.section}`;
    const link = el('a', {href: '#', class: 'alert-link', 'data-pointer': e.pointer}, where);
    link.addEventListener('click', (evt) => {
      evt.preventDefault();
      if (f) state.select({type: 'field', key: f.key, sub: sub ? sub.key : null});
      else if (e.section !== null) state.select({type: 'section', tab: e.tab, section: e.section});
      else state.select({type: 'form'});
      const target = document.querySelector(`#props [data-prop-group="${e.prop}"] input, #props [data-prop-group="${e.prop}"] select, #props [data-prop-group="${e.prop}"] textarea, #props [data-prop-group="${e.prop}"] button`);
      target?.focus();
    });
    return el('li', {}, link, e.prop ? ` (${e.prop})` : '', `: ${e.message}`);
  });
  box.replaceChildren(el('strong', {}, format(t.errors_n, {n: state.errors.length})), el('ul', {class: 'mb-0'}, items));
  box.hidden = false;
}

state.subscribe((_s, source) => {
  refreshToolbar();
  if (source !== 'props') showErrors();
  schedulePreview();
});

// --- save ----------------------------------------------------------------------------------------

async function save() {
  const doc = JSON.parse(JSON.stringify(state.doc));
  status(t.saving);
  let result;
  try {
    result = await api.save(doc, state.lockVersion);
  } catch (err) {
    status(format(t.network_error, {error: err.message}), 'danger');
    return false;
  }
  $('#conflict').hidden = true;
  if (result.ok) {
    state.markSaved(result.data.doc, result.data.lock_version);
    status(format(t.saved, {n: result.data.lock_version}), 'success');
    return true;
  }
  if (result.status === 409) {
    $('#conflict').hidden = false;
    status(errorMessage(result), 'danger');
    return false;
  }
  if (result.status === 422) {
    state.errors = locateErrors(doc, result.data.error?.fields || {'': [errorMessage(result)]});
    state.notify('errors');
    status(format(t.errors_n, {n: state.errors.length}), 'danger');
    return false;
  }
  status(errorMessage(result), 'danger');
  return false;
}

async function reload() {
  const result = await api.load();
  if (result.ok) {
    state.reset(result.data.doc, result.data.lock_version);
    $('#conflict').hidden = true;
  } else {
    status(errorMessage(result), 'danger');
  }
}

// --- preview -------------------------------------------------------------------------------------

let previewLang = boot.lang;
let previewTimer = null;

function previewOpen() { return $('#preview-modal').classList.contains('show'); }

function schedulePreview() {
  if (!previewOpen()) return;
  clearTimeout(previewTimer);
  previewTimer = setTimeout(renderPreview, 400);
}

async function renderPreview() {
  const url = `${boot.urls.preview}?lang=${previewLang}`;
  const result = await request('POST', url, {doc: state.doc}, {accept: 'text/html'});
  $('#preview-frame').srcdoc = typeof result.data === 'string' ? result.data : JSON.stringify(result.data);
}

// --- compare, dry-run, publish -------------------------------------------------------------------

function backfillFrom(box) {
  const backfill = {};
  box.querySelectorAll('[data-backfill]').forEach((group) => {
    const path = group.dataset.backfill;
    const entry = {};
    const map = group.querySelector('[data-bf="map"]')?.value.trim();
    if (map) {
      entry.map = {};
      for (const line of map.split('\n')) {
        const [from, ...to] = line.split('=>');
        if (from && to.length) {
          const value = to.join('=>').trim();
          entry.map[from.trim()] = value === '' ? null : value;
        }
      }
    }
    const other = group.querySelector('[data-bf="else"]');
    if (other && other.dataset.touched) entry.else = other.value.trim() === '' ? null : other.value.trim();
    const fill = group.querySelector('[data-bf="fill"]')?.value.trim();
    if (fill) entry.fill = fill;
    if (Object.keys(entry).length) backfill[path] = entry;
  });
  return backfill;
}

const capitalised = (text) => (text ? text.charAt(0).toUpperCase() + text.slice(1) : text);

function planView(plan, backfill) {
  const ops = plan.plan.operations;
  const parts = [];
  if (plan.unchanged) return el('p', {id: 'plan-unchanged'}, t.plan_empty);
  const list = el('ol', {class: 'list-group list-group-numbered mb-3', id: 'plan-ops'});
  for (const op of ops) {
    const item = el('li', {class: `list-group-item ${op.blocking ? 'list-group-item-danger' : op.risk === 'confirm' ? 'list-group-item-warning' : ''}`,
      'data-op': op.kind},
    el('div', {class: 'fw-semibold d-inline'}, capitalised(op.summary || op.description)),
    // a new empty field "affects" every row only in name: say nothing unless they get a value
    op.rows_affected && !(op.kind === 'add_field' && !backfill[op.path])
      ? el('span', {class: 'badge text-bg-light border ms-2'}, format(t.rows_affected, {n: op.rows_affected})) : '');
    if (op.kind === 'add_field' && !op.path.includes('.') && Object.keys(state.doc.permissions || {}).length) {
      item.append(el('div', {class: 'small text-body-secondary mt-1', 'data-new-field-access': op.path},
        icon('shield-lock'), ' ', t.new_field_access));
    }
    if (op.samples && op.samples.length) {
      item.append(el('div', {class: 'small mt-1'}, t.samples, ': ',
        op.samples.map((s) => el('span', {class: 'me-2 d-inline-block', 'data-sample-record': s.record_id},
          s.record_id ? el('a', {href: `${boot.urls.records}/${s.record_id}`, target: '_blank', rel: 'noopener'}, s.title ? `${s.title} (#${s.record_id})` : `#${s.record_id}`) : '',
          ' ', el('code', {}, `${JSON.stringify(s.value)}${s.rows > 1 ? ` ×${s.rows}` : ''}`), s.reason ? ` (${s.reason})` : ''))));
    }
    if (op.rows_not_converting || op.blocking || ['add_field', 'make_required', 'restore_field'].includes(op.kind) && op.path) {
      item.append(backfillEditor(op, backfill[op.path] || {}));
    }
    list.append(item);
  }
  if (plan.plan.operations.some((o) => o.kind === 'create_form')) parts.push(el('p', {class: 'text-body-secondary'}, t.first_publish));
  parts.push(list);
  if (plan.plan.blocking) parts.push(el('div', {class: 'alert alert-danger', id: 'plan-blocking'}, t.blocking));
  else if (plan.plan.needs_confirmation) parts.push(el('div', {class: 'alert alert-warning'}, t.needs_confirm));
  else parts.push(el('div', {class: 'alert alert-success py-2', id: 'plan-ok'}, t.plan_ok));
  return el('div', {}, parts);
}

function backfillEditor(op, current) {
  const id = `bf-${op.path.replace(/\W/g, '_')}`;
  // named by the field's label, as the admin knows it; a new field's fill is optional
  const [top, sub] = op.path.split('.');
  const f = state.field(top);
  const column = sub ? (f?.fields || []).find((c) => c.key === sub) : null;
  const name = [f ? pickLabel(f.label, boot.lang, top) : top, column ? pickLabel(column.label, boot.lang, sub) : '']
    .filter(Boolean).join(' › ');
  const title = op.kind === 'add_field' ? t.backfill_new : t.backfill;
  const group = el('details', {class: 'mt-2', 'data-backfill': op.path, open: op.blocking ? true : undefined},
    el('summary', {class: 'small'}, `${title}: `, el('strong', {}, name)));
  const mapText = Object.entries(current.map || {}).map(([k, v]) => `${k} => ${v ?? ''}`).join('\n');
  group.append(
    el('label', {class: 'form-label small mb-0', for: `${id}-map`}, t.backfill_map),
    el('textarea', {class: 'form-control form-control-sm font-monospace', id: `${id}-map`, rows: 2, 'data-bf': 'map'}, mapText),
    el('label', {class: 'form-label small mb-0 mt-1', for: `${id}-else`}, t.backfill_else),
    el('input', {class: 'form-control form-control-sm', id: `${id}-else`, 'data-bf': 'else',
      value: current.else ?? '', 'data-touched': 'else' in current ? '1' : undefined}),
    el('label', {class: 'form-label small mb-0 mt-1', for: `${id}-fill`}, t.backfill_fill),
    el('input', {class: 'form-control form-control-sm', id: `${id}-fill`, 'data-bf': 'fill', value: current.fill ?? ''}));
  group.querySelector('[data-bf="else"]').addEventListener('input', (evt) => { evt.target.dataset.touched = '1'; });
  return group;
}

let lastPlan = null;

async function dryRun(backfill = {}) {
  if (state.dirty && !(await save())) return;
  const body = $('#plan-body');
  body.replaceChildren(el('div', {class: 'spinner-border spinner-border-sm'}));
  $('#publish-now').disabled = true;
  showModal('#plan-modal');
  const result = await request('POST', boot.urls.plan, {backfill});
  if (!result.ok) {
    if (result.status === 422 && result.data.error?.fields) {
      state.errors = locateErrors(state.doc, result.data.error.fields);
      state.notify('errors');
    }
    body.replaceChildren(el('div', {class: 'alert alert-danger', id: 'plan-error'}, errorMessage(result)));
    return;
  }
  lastPlan = result.data;
  for (const again of ['#publish-note-box', '#publish-now']) $(again).hidden = false;
  body.replaceChildren(planView(result.data, backfill));
  $('#check-again').hidden = !body.querySelector('[data-backfill]');
  const confirmBox = $('#confirm-box');
  confirmBox.hidden = !result.data.plan.needs_confirmation;
  $('#confirm-publish').checked = false;
  $('#publish-now').disabled = result.data.unchanged || result.data.plan.blocking;
}

async function publish() {
  const backfill = backfillFrom($('#plan-body'));
  const needsConfirm = lastPlan?.plan.needs_confirmation;
  if (needsConfirm && !$('#confirm-publish').checked) {
    $('#confirm-publish').classList.add('is-invalid');
    $('#confirm-publish').focus();
    return;
  }
  $('#publish-now').disabled = true;
  const result = await api.publish(backfill, $('#publish-note').value.trim(), needsConfirm);
  if (result.ok) {
    const n = result.data.version;
    $('#plan-body').replaceChildren(el('div', {class: 'alert alert-success', id: 'publish-ok'},
      icon('check-circle'), ' ', format(t.published_ok, {n}), ' ',
      el('a', {class: 'alert-link', href: boot.urls.records_new, id: 'open-entry-form'}, t.open_form)));
    $('#confirm-box').hidden = true;
    for (const done of ['#publish-note-box', '#check-again', '#publish-now']) $(done).hidden = true;
    status(format(t.published_ok, {n}), 'success');
    boot.published_version = n;
    boot.published_keys = state.doc.fields.flatMap((x) => [x.key, ...(x.fields || []).map((c) => `${x.key}.${c.key}`)]);
    $('#published-badge').textContent = format(t.published_v, {n});
    $('#published-badge').className = 'badge text-bg-success';
    return;
  }
  $('#plan-body').prepend(el('div', {class: 'alert alert-danger', id: 'publish-error'}, errorMessage(result)));
  $('#publish-now').disabled = false;
}

async function showDiff() {
  const body = $('#history-body');
  if (!boot.published_version) {
    body.replaceChildren(el('p', {}, t.no_versions));
  } else {
    if (state.dirty && !(await save())) return;
    const result = await api.diff(boot.published_version);
    if (!result.ok) {
      body.replaceChildren(el('div', {class: 'alert alert-danger'}, errorMessage(result)));
    } else if (!result.data.changes.length) {
      body.replaceChildren(el('p', {id: 'diff-empty'}, t.no_changes));
    } else {
      body.replaceChildren(el('p', {}, format(t.diff_intro, {n: boot.published_version})),
        el('ul', {class: 'list-unstyled bc-diff', id: 'diff-list'}, result.data.changes.map((c) => el('li', {class: `bc-diff-${c.op}`},
          el('span', {class: 'badge text-bg-light border me-2'}, t[`diff_${c.op}`] || c.op), el('code', {}, c.path),
          c.op === 'change' ? el('span', {class: 'small ms-2'}, `${JSON.stringify(c.old)} → ${JSON.stringify(c.new)}`) : ''))));
    }
  }
  $('#history-title').textContent = t.compare;
  showModal('#history-modal');
}

async function showVersions() {
  const body = $('#history-body');
  $('#history-title').textContent = t.history;
  const result = await api.versions();
  if (!result.ok) {
    body.replaceChildren(el('div', {class: 'alert alert-danger'}, errorMessage(result)));
  } else if (!result.data.length) {
    body.replaceChildren(el('p', {}, t.no_versions));
  } else {
    const table = el('table', {class: 'table table-sm align-middle', id: 'versions-table'},
      el('thead', {}, el('tr', {}, el('th', {}, 'v'), el('th', {}, t.published_at), el('th', {}, t.published_by),
        el('th', {}, t.note), el('th', {}))),
      el('tbody', {}, result.data.map((v) => {
        const restore = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary', 'data-restore': v.version},
          icon('arrow-counterclockwise'), ' ', t.restore);
        restore.addEventListener('click', async () => {
          if (!window.confirm(format(t.restore_confirm, {n: v.version}))) return;
          const done = await api.restore(v.version);
          if (done.ok) {
            state.reset(done.data.doc, done.data.lock_version);
            status(format(t.restored, {n: v.version}), 'success');
            hideModal('#history-modal');
          } else {
            body.prepend(el('div', {class: 'alert alert-danger'}, errorMessage(done)));
          }
        });
        return el('tr', {}, el('td', {}, `v${v.version}`), el('td', {class: 'small'}, localTime(v.published_at)),
          el('td', {class: 'small'}, v.published_by_name || ''),
          el('td', {class: 'small'}, v.note || ''), el('td', {class: 'text-end'}, restore));
      })));
    body.replaceChildren(table);
  }
  showModal('#history-modal');
}

/** An ISO timestamp in the platform's time zone (boot.tz), as the record pages show times. */
function localTime(iso) {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso || '');
  return at.toLocaleString(boot.lang === 'zh' ? 'zh-CN' : 'en-GB', {
    timeZone: boot.tz, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'});
}

function showModal(sel) { if (Modal) Modal.getOrCreateInstance($(sel)).show(); }
function hideModal(sel) { if (Modal) Modal.getOrCreateInstance($(sel)).hide(); }

// --- wiring --------------------------------------------------------------------------------------

$('#undo').addEventListener('click', () => state.undo());
$('#redo').addEventListener('click', () => state.redo());
$('#save').addEventListener('click', () => save());
$('#reload').addEventListener('click', () => reload());
$('#add-tab').addEventListener('click', () => state.addTab());
$('#add-section').addEventListener('click', () => state.addSection(canvas.activeTab));
$('#dry-run').addEventListener('click', () => dryRun());
$('#check-again').addEventListener('click', () => dryRun(backfillFrom($('#plan-body'))));
$('#publish-now').addEventListener('click', () => publish());
$('#confirm-publish').addEventListener('change', (evt) => evt.target.classList.remove('is-invalid'));
$('#compare').addEventListener('click', () => showDiff());
$('#versions').addEventListener('click', () => showVersions());
$('#preview').addEventListener('click', () => { showModal('#preview-modal'); renderPreview(); });
document.querySelectorAll('[name="preview-lang"]').forEach((radio) => {
  radio.checked = radio.value === previewLang;
  radio.addEventListener('change', () => { previewLang = radio.value; renderPreview(); });
});
$('#refresh-preview').addEventListener('click', () => renderPreview());

const typing = (node) => node && (node.matches('input, textarea, select, [contenteditable]'));

document.addEventListener('keydown', (evt) => {
  const ctrl = evt.ctrlKey || evt.metaKey;
  if (document.querySelector('.modal.show')) return;
  if (ctrl && evt.key.toLowerCase() === 's') {
    evt.preventDefault();
    save();
    return;
  }
  if (typing(evt.target)) return;
  if (ctrl && evt.key.toLowerCase() === 'z' && !evt.shiftKey) {
    evt.preventDefault();
    state.undo();
  } else if (ctrl && (evt.key.toLowerCase() === 'y' || (evt.key.toLowerCase() === 'z' && evt.shiftKey))) {
    evt.preventDefault();
    state.redo();
  } else if ((evt.key === 'Delete' || evt.key === 'Backspace') && state.selection.type !== 'form') {
    evt.preventDefault();
    state.deleteSelected();
  } else if ((evt.key === 'ArrowUp' || evt.key === 'ArrowDown') && state.selection.type !== 'form'
             && evt.target.closest('#canvas')) {
    evt.preventDefault();  // moves the selected field, section or tab
    state.moveSelected(evt.key === 'ArrowUp' ? -1 : 1);
  } else if (evt.key === 'Escape') {
    state.select({type: 'form'});
  }
});

window.addEventListener('beforeunload', (evt) => {
  if (state.dirty) {
    evt.preventDefault();
    evt.returnValue = '';
  }
});

canvas.render();
panel.render();
refreshToolbar();
document.body.dataset.builderReady = '1';
window.lbBuilder = state;  // for the browser tests and the console
