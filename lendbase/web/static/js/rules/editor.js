// The rule editor: the rule document in the page, its basics, trigger, condition (the shared
// visual condition builder) and actions; save the draft (with its lock version: 409 when
// someone else saved meanwhile), simulate it (now or as of a past day), publish it, and show
// the versions and the run log. 422 errors (JSON pointers) are shown next to what they concern.

import {ConditionBuilder} from '../condition_builder.js';
import {el, format, icon} from '../builder/dom.js';
import {request} from '../builder/api.js';
import {ActionsEditor} from './actions.js';
import {renderRuns, renderSimulation, renderVersions} from './results.js';

const $ = (selector) => document.querySelector(selector);
const boot = JSON.parse($('#rule-boot').textContent);
const t = boot.strings;
const TRIGGERS = ['record_created', 'record_updated', 'field_changed', 'stage_changed', 'schedule',
  'external'];
const ONCE = ['record', 'day', 'week', 'month', 'every_time'];

let doc = JSON.parse(JSON.stringify(boot.doc));
let lockVersion = boot.lock_version;
let dirty = false;
let builder = null;
let actions = null;

const emptyForm = {label: '', fields: [], fieldGroups: [], all_fields: [], writable: [], selects: [],
  users: [], recipients: []};
const formOf = () => boot.forms[doc.form] || emptyForm;
const templatesOf = () => boot.templates.filter((x) => !x.form || x.form === doc.form);

// --- state ---------------------------------------------------------------------------------

function setState(text, kind = 'secondary') {
  const box = $('#save-state');
  box.textContent = text;
  box.className = `small text-${kind}`;
}

function changed() {
  dirty = true;
  setState(t.unsaved, 'warning-emphasis');
}

// --- errors next to what they concern --------------------------------------------------------

function clearErrors() {
  for (const node of document.querySelectorAll('[data-error-for]')) node.remove();
  for (const node of document.querySelectorAll('.is-invalid')) node.classList.remove('is-invalid');
  $('#error-summary').hidden = true;
}

function holderOf(pointer) {
  let p = pointer;
  while (p) {
    const found = document.querySelector(`[data-pointer="${CSS.escape(p)}"]`);
    if (found) return found;
    p = p.slice(0, Math.max(0, p.lastIndexOf('/')));
  }
  return null;
}

function showErrors(error) {
  clearErrors();
  const fields = (error && error.fields) || {};
  const summary = $('#error-summary');
  const items = [];
  for (const [pointer, messages] of Object.entries(fields)) {
    const holder = holderOf(pointer);
    const text = messages.join(' ');
    items.push(el('li', {}, pointer ? el('code', {class: 'me-1'}, pointer) : '', text));
    if (!holder) continue;
    const note = el('div', {class: 'invalid-feedback d-block', 'data-error-for': pointer}, text);
    if (['INPUT', 'SELECT', 'TEXTAREA'].includes(holder.tagName)) {
      holder.classList.add('is-invalid');
      holder.insertAdjacentElement('afterend', note);
    } else {
      holder.prepend(note);
    }
  }
  summary.replaceChildren(el('strong', {}, t.errors_title), ' ', (error && error.message) || '',
    items.length ? el('ul', {class: 'mb-0 mt-1'}, items) : '');
  summary.hidden = false;
  summary.focus();
}

function failed(result) {
  if (result.status === 409 && result.data?.error?.code === 'conflict') {
    $('#conflict').hidden = false;
    setState(t.conflict, 'danger');
    return;
  }
  showErrors(result.data?.error || {message: `HTTP ${result.status}`});
  setState('', 'secondary');
}

// --- basics ----------------------------------------------------------------------------------

function labelled(id, label, control, cols = 'col-md-6') {
  return el('div', {class: cols}, el('label', {class: 'form-label small mb-1', for: id}, label), control);
}

function renderBasics() {
  const input = (id, pointer, value, onInput) => {
    const node = el('input', {class: 'form-control form-control-sm', id, value: value ?? '',
      'data-pointer': pointer});
    node.addEventListener('input', () => { onInput(node.value); changed(); });
    return node;
  };
  const form = el('select', {class: 'form-select form-select-sm', id: 'rule-form', 'data-pointer': '/form'},
    Object.entries(boot.forms).map(([key, f]) => el('option', {value: key, selected: key === doc.form},
      `${f.label} (${key})`)));
  if (!boot.forms[doc.form]) form.prepend(el('option', {value: doc.form, selected: true}, doc.form));
  form.addEventListener('change', () => {
    doc.form = form.value;
    delete doc.condition;
    if (doc.trigger.type === 'field_changed') doc.trigger.fields = [];
    if (doc.trigger.type === 'stage_changed') doc.trigger = {type: 'stage_changed', field: formOf().selects[0]?.key || ''};
    changed();
    renderTrigger();
    mountCondition();
    actions.render();
  });
  const once = el('select', {class: 'form-select form-select-sm', id: 'rule-once', 'data-pointer': '/once'},
    ONCE.map((o) => el('option', {value: o, selected: o === (doc.once || 'record')}, t[`once_${o}`])));
  once.addEventListener('change', () => { doc.once = once.value; changed(); });
  const enabled = el('input', {class: 'form-check-input', type: 'checkbox', id: 'rule-enabled',
    role: 'switch', checked: doc.enabled !== false, 'data-pointer': '/enabled'});
  enabled.addEventListener('change', () => { doc.enabled = enabled.checked; changed(); });
  const description = el('textarea', {class: 'form-control form-control-sm', id: 'rule-description',
    rows: 2, 'data-pointer': '/description'});
  description.value = doc.description?.[boot.lang] || '';
  description.addEventListener('input', () => {
    doc.description = {...(doc.description || {}), [boot.lang]: description.value};
    if (!description.value) delete doc.description[boot.lang];
    if (!Object.keys(doc.description).length) delete doc.description;
    changed();
  });
  doc.label = doc.label || {zh: '', en: ''};
  $('#basics').replaceChildren(el('div', {class: 'row g-2', 'data-pointer': '/label'},
    labelled('label-zh', t.label_zh, input('label-zh', '/label/zh', doc.label.zh, (v) => { doc.label.zh = v; })),
    labelled('label-en', t.label_en, input('label-en', '/label/en', doc.label.en, (v) => { doc.label.en = v; })),
    labelled('rule-form', t.form, form),
    labelled('rule-once', t.once, once),
    el('div', {class: 'col-12 form-text small mt-0'}, t.once_hint),
    labelled('rule-description', t.description, description, 'col-12'),
    el('div', {class: 'col-12'}, el('div', {class: 'form-check form-switch'}, enabled,
      el('label', {class: 'form-check-label', for: 'rule-enabled'}, t.col_enabled)))));
}

// --- trigger ---------------------------------------------------------------------------------

function checkList(id, pointer, choices, selected, onChange) {
  const box = el('div', {class: 'd-flex flex-wrap gap-3 re-checks border rounded p-2', id, 'data-pointer': pointer});
  choices.forEach((c, i) => {
    const box_id = `${id}-${i}`;
    const check = el('input', {class: 'form-check-input', type: 'checkbox', id: box_id, value: c.value,
      checked: selected.includes(c.value)});
    check.addEventListener('change', () => {
      onChange([...box.querySelectorAll('input:checked')].map((x) => x.value));
      changed();
    });
    box.append(el('div', {class: 'form-check mb-0'}, check,
      el('label', {class: 'form-check-label small', for: box_id}, c.label)));
  });
  return box;
}

function renderTrigger() {
  const form = formOf();
  doc.trigger = doc.trigger || {type: 'record_updated'};
  const trigger = doc.trigger;
  const type = el('select', {class: 'form-select form-select-sm', id: 'trigger-type', 'data-pointer': '/trigger/type'},
    TRIGGERS.map((k) => el('option', {value: k, selected: k === trigger.type}, t[`trigger_${k}`])));
  type.addEventListener('change', () => {
    const fresh = {
      field_changed: {type: 'field_changed', fields: []},
      stage_changed: {type: 'stage_changed', field: form.selects[0]?.key || ''},
      schedule: {type: 'schedule', cron: '0 9 * * *', timezone: 'Asia/Shanghai'},
      external: {type: 'external', event: ''},
    }[type.value] || {type: type.value};
    doc.trigger = fresh;
    changed();
    renderTrigger();
    $('#trigger-type').focus();
  });
  const parts = [labelled('trigger-type', t.trigger_type, type)];
  if (trigger.type === 'field_changed') {
    parts.push(el('div', {class: 'col-12'}, el('div', {class: 'form-label small mb-1'}, t.fields_changed),
      checkList('trigger-fields', '/trigger/fields', form.all_fields.filter((f) => f.type !== 'computed')
        .map((f) => ({value: f.key, label: f.label})), trigger.fields || [], (v) => { trigger.fields = v; })));
    const onCreate = el('input', {class: 'form-check-input', type: 'checkbox', id: 'trigger-on-create',
      checked: Boolean(trigger.on_create), 'data-pointer': '/trigger/on_create'});
    onCreate.addEventListener('change', () => {
      if (onCreate.checked) trigger.on_create = true; else delete trigger.on_create;
      changed();
    });
    parts.push(el('div', {class: 'col-12 form-check ms-2'}, onCreate,
      el('label', {class: 'form-check-label small', for: 'trigger-on-create'}, t.on_create)));
  } else if (trigger.type === 'stage_changed') {
    const stage = el('select', {class: 'form-select form-select-sm', id: 'trigger-stage', 'data-pointer': '/trigger/field'},
      form.selects.map((f) => el('option', {value: f.key, selected: f.key === trigger.field}, f.label)));
    stage.addEventListener('change', () => {
      doc.trigger = {type: 'stage_changed', field: stage.value};
      changed();
      renderTrigger();
    });
    const options = (form.selects.find((f) => f.key === trigger.field) || {options: []}).options;
    const list = (name, label) => el('div', {class: 'col-md-6'}, el('div', {class: 'form-label small mb-1'}, label),
      checkList(`trigger-${name}`, `/trigger/${name}`, options, trigger[name] || [], (v) => {
        if (v.length) trigger[name] = v; else delete trigger[name];
      }));
    parts.push(labelled('trigger-stage', t.stage_field, stage), list('from', t.from_stages), list('to', t.to_stages));
  } else if (trigger.type === 'schedule') {
    const cron = el('input', {class: 'form-control form-control-sm font-monospace', id: 'trigger-cron',
      value: trigger.cron || '', 'data-pointer': '/trigger/cron', 'aria-describedby': 'cron-hint'});
    cron.addEventListener('input', () => { trigger.cron = cron.value; changed(); });
    const zone = el('input', {class: 'form-control form-control-sm', id: 'trigger-timezone',
      value: trigger.timezone || 'Asia/Shanghai', 'data-pointer': '/trigger/timezone'});
    zone.addEventListener('input', () => { trigger.timezone = zone.value; changed(); });
    parts.push(labelled('trigger-cron', t.cron, cron, 'col-md-3'), labelled('trigger-timezone', t.timezone, zone, 'col-md-3'),
      el('div', {class: 'col-12 form-text small mt-0', id: 'cron-hint'}, t.cron_hint));
  } else if (trigger.type === 'external') {
    const name = el('input', {class: 'form-control form-control-sm', id: 'trigger-event',
      value: trigger.event || '', 'data-pointer': '/trigger/event', placeholder: 'bureau.report_ready'});
    name.addEventListener('input', () => { trigger.event = name.value; changed(); });
    parts.push(labelled('trigger-event', t.event_name, name),
      el('div', {class: 'col-12 form-text small mt-0'}, t.event_hint));
  }
  $('#trigger').replaceChildren(el('div', {class: 'row g-2'}, parts));
}

// --- condition and actions -------------------------------------------------------------------

function mountCondition() {
  const form = formOf();
  const root = $('#condition');
  root.replaceChildren();
  root.className = '';
  builder = new ConditionBuilder(root, {
    value: doc.condition, language: 'full', fields: form.fields, fieldGroups: form.fieldGroups,
    lang: boot.lang, strings: boot.condition_strings, idPrefix: 'rc', emptyText: t.always,
    onChange: (tree) => {
      if (tree) doc.condition = tree; else delete doc.condition;
      changed();
    },
  });
}

function mountActions() {
  actions = new ActionsEditor($('#actions'), {
    value: doc.actions || [],
    ctx: {boot, t, form: formOf, templates: templatesOf},
    onChange: (list) => { doc.actions = list; changed(); },
  });
}

// --- server round trips ----------------------------------------------------------------------

async function save() {
  setState(t.saving);
  const result = await request('PUT', boot.urls.meta, {doc, lock_version: lockVersion})
    .catch(() => ({ok: false, status: 0, data: {error: {message: t.network_error}}}));
  if (!result.ok) {
    failed(result);
    return false;
  }
  lockVersion = result.data.lock_version;
  dirty = false;
  clearErrors();
  setState(t.saved, 'success');
  updateBadge();
  return true;
}

async function simulate() {
  const button = $('#simulate');
  button.disabled = true;
  $('#sim-result').replaceChildren(el('div', {class: 'small text-body-secondary'}, t.simulating));
  const asOf = $('#as-of').value;
  const result = await request('POST', `${boot.urls.rules}/simulate`,
    {doc, lang: boot.lang, ...(asOf ? {as_of: asOf} : {})})
    .catch(() => ({ok: false, status: 0, data: {error: {message: t.network_error}}}));
  button.disabled = false;
  if (!result.ok) {
    $('#sim-result').replaceChildren();
    failed(result);
    return;
  }
  clearErrors();
  renderSimulation($('#sim-result'), result.data, {t, boot, form: formOf()});
}

async function publish() {
  if (dirty && !(await save())) return;
  const button = $('#publish');
  button.disabled = true;
  setState(t.publishing);
  const result = await request('POST', `${boot.urls.meta}/publish?lang=${boot.lang}`, {})
    .catch(() => ({ok: false, status: 0, data: {error: {message: t.network_error}}}));
  button.disabled = false;
  if (!result.ok) {
    failed(result);
    return;
  }
  clearErrors();
  const data = result.data;
  boot.published_version = data.version;
  boot.published_same = true;
  updateBadge();
  const box = $('#publish-result');
  const next = data.schedule && data.schedule.next_run_at
    ? ` · ${t.next_run}: ${new Date(data.schedule.next_run_at).toLocaleString(boot.lang === 'zh' ? 'zh-CN' : 'en')}` : '';
  box.replaceChildren(icon('check-circle'), ' ',
    data.unchanged ? t.unchanged : format(t.published_now, {n: data.version}), next);
  box.hidden = false;
  setState('', 'secondary');
  loadVersions();
  loadRuns();
}

function updateBadge() {
  const badge = $('#published-badge');
  const n = boot.published_version;
  badge.textContent = n ? format(t.published_v, {n}) : t.draft_only;
  badge.className = `badge ${n ? 'text-bg-success' : 'text-bg-secondary'}`;
}

async function loadVersions() {
  const result = await request('GET', `${boot.urls.meta}/versions`).catch(() => null);
  if (!result || !result.ok) return;
  renderVersions($('#versions'), result.data, {t, boot, restore: async (version) => {
    const answer = await request('POST', `${boot.urls.meta}/restore`, {version});
    if (answer.ok) window.location.reload(); else failed(answer);
  }});
}

async function loadRuns() {
  const result = await request('GET', `${boot.urls.rules}/runs?limit=10`).catch(() => null);
  if (!result || !result.ok) return;
  renderRuns($('#runs'), result.data.items, {t, boot, form: doc.form});
}

// --- start -----------------------------------------------------------------------------------

renderBasics();
renderTrigger();
mountCondition();
mountActions();
updateBadge();
loadVersions();
loadRuns();
$('#save').addEventListener('click', save);
$('#simulate').addEventListener('click', simulate);
$('#publish').addEventListener('click', publish);
$('#show-versions').addEventListener('click', () => {
  $('#versions-card').scrollIntoView({behavior: 'smooth'});
  loadVersions();
});
$('#reload').addEventListener('click', () => window.location.reload());
document.addEventListener('keydown', (evt) => {
  if ((evt.ctrlKey || evt.metaKey) && evt.key === 's') {
    evt.preventDefault();
    save();
  }
});
window.addEventListener('beforeunload', (evt) => {
  if (dirty) evt.preventDefault();
});
