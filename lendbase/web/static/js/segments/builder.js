// The segment builder page: the document (label, form, condition, schedule, actions) edited
// in place, the condition with the shared visual condition builder, the on-enter / on-leave
// actions with the rule editor's visual actions editor, and the toolbar talking to
// the metadata API (save the draft with its lock_version, publish, versions) and the segments
// API (simulate the unsaved document, as of a day if asked). Errors (422) show next to the
// part of the document their JSON pointer names.

import {errorMessage, request} from '../builder/api.js';
import {el, format, pickLabel} from '../builder/dom.js';
import {ConditionBuilder} from '../condition_builder.js';
import {SegmentActions} from './actions_editor.js';
import {renderSimulation} from './simulation.js';

const boot = JSON.parse(document.getElementById('segment-boot').textContent);
const t = boot.strings;
const $ = (sel) => document.querySelector(sel);
const Modal = window.bootstrap?.Modal;
const metaUrl = `${boot.urls.meta}/${encodeURIComponent(boot.key)}`;
const segmentUrl = `${boot.urls.segments}/${encodeURIComponent(boot.key)}`;

let doc = structuredClone(boot.doc);
let lockVersion = boot.lock_version;
let publishedVersion = boot.published_version;
let dirty = false;
let builder = null;

for (const node of document.querySelectorAll('[data-t]')) node.textContent = t[node.dataset.t] ?? node.dataset.t;

// --- status and errors ------------------------------------------------------------------------

function status(text, kind = 'secondary') {
  const node = $('#save-state');
  node.className = `small text-${kind}`;
  node.textContent = text;
}

function changed() {
  dirty = true;
  status(t.unsaved, 'warning-emphasis');
  $('#publish-result').hidden = true;
}

/** The visible element of an actions editor nearest to ``pointer`` (/on_enter/0/tag, else the
 * card /on_enter/0); null for the list itself and for the other parts of the document. */
function actionHolder(pointer) {
  if (!/^\/on_(enter|leave)\/\d/.test(pointer)) return null;
  for (let p = pointer; p.split('/').length > 2; p = p.slice(0, p.lastIndexOf('/'))) {
    const found = [...document.querySelectorAll(`[data-pointer="${CSS.escape(p)}"]`)]
      .find((node) => node.offsetParent !== null);
    if (found) return found;
  }
  return null;
}

/** Show ``fields`` ({pointer: [messages]}) next to the parts they concern; the rest on top. */
function showErrors(fields, message) {
  for (const node of document.querySelectorAll('[data-errors-for]')) node.replaceChildren();
  for (const node of document.querySelectorAll('[data-error-for]')) node.remove();
  for (const node of document.querySelectorAll('[data-pointer].is-invalid')) node.classList.remove('is-invalid');
  const slots = [...document.querySelectorAll('[data-errors-for]')]
    .flatMap((node) => node.dataset.errorsFor.split(' ').map((prefix) => ({prefix, node})))
    .sort((a, b) => b.prefix.length - a.prefix.length);
  const unplaced = [];
  let count = 0;
  for (const [pointer, messages] of Object.entries(fields || {})) {
    count += messages.length;
    const holder = actionHolder(pointer);
    if (holder) {  // an action's control (or card): the message right there
      const note = el('div', {class: 'invalid-feedback d-block', 'data-error-for': pointer}, messages.join(' '));
      if (['INPUT', 'SELECT', 'TEXTAREA'].includes(holder.tagName)) {
        holder.classList.add('is-invalid');
        holder.insertAdjacentElement('afterend', note);
      } else {
        note.classList.add('col-12');
        holder.prepend(note);
      }
      continue;
    }
    const slot = slots.find((s) => pointer === s.prefix || pointer.startsWith(`${s.prefix}/`));
    const input = document.querySelector(`[data-pointer="${pointer}"]`)
      || document.querySelector(`[data-pointer="${pointer.split('/').slice(0, 2).join('/')}"]`);
    input?.classList.add('is-invalid');
    const text = `${pointer === slot?.prefix ? '' : `${pointer}: `}${messages.join(' ')}`;
    if (slot) slot.node.append(el('div', {'data-error-pointer': pointer}, text));
    else unplaced.push(el('li', {}, `${pointer || '/'}: ${messages.join(' ')}`));
  }
  const box = $('#error-summary');
  box.hidden = !message && !count;
  box.replaceChildren(...(message || count ? [el('div', {class: 'fw-semibold'},
    count ? format(t.errors, {n: count}) : '', count && message ? ' · ' : '', message || '')] : []),
  ...(unplaced.length ? [el('ul', {class: 'mb-0'}, unplaced)] : []));
}

function fail(result) {
  if (result.status === 409) {
    $('#conflict').hidden = false;
    status(t.conflict, 'danger');
    return;
  }
  const error = result.data && result.data.error;
  showErrors(error?.fields, errorMessage(result));
  status(errorMessage(result), 'danger');
}

// --- the document's parts ---------------------------------------------------------------------

function fillForms() {
  const select = $('#form-key');
  const forms = Object.entries(boot.forms)
    .sort((a, b) => pickLabel(a[1].label, boot.lang, a[0]).localeCompare(pickLabel(b[1].label, boot.lang, b[0])));
  select.replaceChildren(...forms.map(([key, f]) => el('option', {value: key, selected: key === doc.form},
    `${pickLabel(f.label, boot.lang, key)} (${key})`)));
  if (!boot.forms[doc.form]) select.prepend(el('option', {value: doc.form, selected: true}, doc.form));
}

function mountCondition() {
  const form = boot.forms[doc.form] || {fields: [], fieldGroups: []};
  const root = $('#condition');
  root.replaceChildren();
  root.className = '';
  const value = doc.condition && !(Array.isArray(doc.condition.and) && !doc.condition.and.length)
    ? doc.condition : undefined;
  builder = new ConditionBuilder(root, {
    value, language: 'full', fields: form.fields, fieldGroups: form.fieldGroups, lang: boot.lang,
    strings: boot.condition_strings, idPrefix: 'seg',
    onChange: (tree) => { doc.condition = tree || {and: []}; changed(); },
  });
}

function fillBasics() {
  $('#label-zh').value = doc.label?.zh || '';
  $('#label-en').value = doc.label?.en || '';
  $('#description').value = doc.description?.[boot.lang] || '';
  const schedule = doc.schedule || boot.default_schedule;
  $('#cron').value = schedule.cron || '';
  $('#timezone').value = schedule.timezone || boot.default_schedule.timezone;
  $('#schedule-enabled').checked = schedule.enabled !== false;
}

const emptyForm = {fields: [], fieldGroups: [], writable: [], users: [], recipients: []};
const actionsCtx = {
  boot: boot.actions, t: boot.actions.strings,
  form: () => ({...emptyForm, ...boot.forms[doc.form]}),
  templates: () => boot.actions.templates.filter((x) => !x.form || x.form === doc.form),
};

const editors = {};
function mountActions() {
  for (const [name, id] of [['on_enter', '#on-enter'], ['on_leave', '#on-leave']]) {
    editors[name] = new SegmentActions($(id), {name, title: t[name], value: doc[name], ctx: actionsCtx,
      strings: t, jsonStrings: boot.condition_strings,
      onChange: (actions) => {
        if (actions) doc[name] = actions; else delete doc[name];
        changed();
      }});
  }
}

function bindInputs() {
  const label = () => {
    doc.label = {zh: $('#label-zh').value.trim(), en: $('#label-en').value.trim()};
    $('#segment-title').textContent = pickLabel(doc.label, boot.lang, boot.key);
    changed();
  };
  $('#label-zh').addEventListener('input', label);
  $('#label-en').addEventListener('input', label);
  $('#description').addEventListener('input', () => {
    const text = $('#description').value.trim();
    const other = {...(doc.description || {})};
    if (text) other[boot.lang] = text; else delete other[boot.lang];
    if (Object.keys(other).length) doc.description = other; else delete doc.description;
    changed();
  });
  $('#form-key').addEventListener('change', () => {
    doc.form = $('#form-key').value;
    doc.condition = {and: []};
    mountCondition();
    for (const editor of Object.values(editors)) editor.refresh();
    changed();
  });
  const schedule = () => {
    doc.schedule = {cron: $('#cron').value.trim(), timezone: $('#timezone').value.trim()};
    if (!$('#schedule-enabled').checked) doc.schedule.enabled = false;
    changed();
  };
  for (const id of ['#cron', '#timezone']) $(id).addEventListener('input', schedule);
  $('#schedule-enabled').addEventListener('change', schedule);
}

// --- save, publish, simulate, versions ----------------------------------------------------------

async function save() {
  if (Object.values(editors).some((e) => e.invalid)) {
    showErrors({}, format(t.actions_json_bad, {problem: 'JSON'}));
    return false;
  }
  status(t.saving);
  let result;
  try {
    result = await request('PUT', metaUrl, {doc, lock_version: lockVersion});
  } catch {
    status(t.network, 'danger');
    return false;
  }
  if (!result.ok) {
    fail(result);
    return false;
  }
  lockVersion = result.data.lock_version;
  dirty = false;
  showErrors({});
  status(t.saved, 'success');
  return true;
}

async function publish() {
  if (dirty && !(await save())) return;
  status(t.saving);
  let result;
  try {
    result = await request('POST', `${metaUrl}/publish?lang=${boot.lang}`, {});
  } catch {
    status(t.network, 'danger');
    return;
  }
  if (!result.ok) {
    fail(result);
    return;
  }
  showErrors({});
  publishedVersion = result.data.version;
  const badge = $('#published-badge');
  badge.className = 'badge text-bg-success';
  badge.textContent = format(t.published_v, {n: publishedVersion});
  const link = $('#members-link');
  link.classList.remove('disabled');
  link.removeAttribute('aria-disabled');
  const box = $('#publish-result');
  box.hidden = false;
  box.replaceChildren(result.data.unchanged ? t.unchanged : format(t.published, {n: publishedVersion}), ' ',
    el('a', {href: boot.urls.members, class: 'alert-link', id: 'see-members'}, t.members_page));
  status(t.saved, 'success');
}

const recordUrl = (id) => `${boot.urls.records}/${encodeURIComponent(doc.form)}/${id}`;

async function simulate() {
  const root = $('#simulation');
  root.replaceChildren(el('div', {class: 'small text-body-secondary'}, t.simulating));
  const body = {doc, lang: boot.lang, sample: 10};
  if ($('#as-of').value) body.as_of = $('#as-of').value;
  let result;
  try {
    result = await request('POST', `${segmentUrl}/simulate`, body);
  } catch {
    root.replaceChildren(el('div', {class: 'small text-danger'}, t.network));
    return;
  }
  if (!result.ok) {
    root.replaceChildren(el('div', {class: 'small text-danger', id: 'sim-error'}, errorMessage(result)));
    fail(result);
    return;
  }
  showErrors({});
  renderSimulation(root, result.data, {strings: t, recordUrl});
}

async function versions() {
  const body = $('#versions-body');
  body.replaceChildren();
  if (Modal) Modal.getOrCreateInstance($('#versions-modal')).show();
  const result = await request('GET', `${metaUrl}/versions`);
  if (!result.ok) {
    body.append(el('div', {class: 'text-danger'}, errorMessage(result)));
    return;
  }
  if (!result.data.length) {
    body.append(el('p', {class: 'text-body-secondary mb-0'}, t.no_versions));
    return;
  }
  body.append(el('ul', {class: 'list-group', id: 'versions-list'}, result.data.map((v) => el('li', {class: 'list-group-item d-flex justify-content-between'},
    el('span', {}, format(t.version_row, {n: v.version, at: new Date(v.published_at).toLocaleString(boot.lang === 'zh' ? 'zh-CN' : 'en')})),
    el('span', {class: 'small text-body-secondary'}, v.published_by_name || v.note || '')))));
}

$('#save').addEventListener('click', save);
$('#publish').addEventListener('click', publish);
$('#simulate').addEventListener('click', simulate);
$('#versions').addEventListener('click', versions);
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

fillForms();
fillBasics();
mountCondition();
mountActions();
bindInputs();
