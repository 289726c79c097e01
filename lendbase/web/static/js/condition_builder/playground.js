// The condition playground page (/admin/conditions/try): the builder in the full language over
// one published form, the emitted JSON, a shareable link, and how many records match now
// (POST /admin/conditions/count; the server's refusal is shown as it words it).

import {el, format} from '../builder/dom.js';
import {ConditionBuilder} from '../condition_builder.js';

const boot = JSON.parse(document.getElementById('pg-boot').textContent);
const T = boot.text;
const $ = (id) => document.getElementById(id);
const csrfToken = () => document.querySelector('meta[name="csrf-token"]')?.content || '';
let counted = false;

function linkFor(value) {
  const params = new URLSearchParams({form: boot.form});
  if (value) params.set('value', JSON.stringify(value));
  return `${boot.urls.page}?${params}`;
}

function showValue(value) {
  $('pg-json').textContent = value ? JSON.stringify(value, null, 2) : T.no_condition_json;
  $('pg-link').href = linkFor(value);
  history.replaceState(null, '', linkFor(value));
  if (counted) {
    $('pg-result').replaceChildren(el('div', {class: 'text-warning-emphasis small', id: 'pg-stale'}, T.stale));
    $('pg-sample').replaceChildren();
  }
}

const builder = new ConditionBuilder($('pg-builder'), {
  language: 'full', value: boot.value ?? undefined, fields: boot.fields, fieldGroups: boot.fieldGroups,
  lang: boot.lang, strings: boot.strings, idPrefix: 'cp', emptyText: T.every_record, onChange: showValue,
});
window.lbConditionPlayground = builder;  // for scripts and tests: .value, .summary
showValue(builder.value);

async function countMatches() {
  const button = $('pg-count');
  const result = $('pg-result');
  button.disabled = true;
  result.replaceChildren(el('span', {class: 'text-body-secondary'}, T.counting));
  $('pg-sample').replaceChildren();
  const where = builder.value ?? null;
  try {
    const response = await fetch(boot.urls.count, {method: 'POST', credentials: 'same-origin',
      headers: {'Content-Type': 'application/json', Accept: 'application/json',
        'X-CSRFToken': csrfToken(), 'X-Requested-With': 'fetch'},
      body: JSON.stringify({form: boot.form, where})});
    const data = await response.json().catch(() => null);
    counted = true;
    if (!response.ok) {
      result.replaceChildren(el('div', {class: 'alert alert-danger py-2 small mb-0', id: 'pg-error'},
        el('strong', {}, T.refused), ' ', data?.error?.message || format(T.failed, {status: response.status})));
      return;
    }
    const incomplete = builder.root.querySelector('.cb-incomplete');
    const [before, after = ''] = format(where ? T.result : T.result_all, {form: boot.formLabel}).split('{n}');
    result.replaceChildren(
      el('div', {class: 'pg-count'}, before, el('strong', {class: 'pg-count-n', id: 'pg-count-n'}, String(data.count)), after),
      incomplete ? el('div', {class: 'small text-warning-emphasis'}, T.incomplete) : '');
    $('pg-sample').replaceChildren(...(data.sample.length ? [el('li', {class: 'text-body-secondary'}, T.latest)] : []),
      ...data.sample.map((r) => el('li', {}, el('a', {href: r.url}, r.title))));
  } catch (err) {
    result.replaceChildren(el('div', {class: 'alert alert-danger py-2 small mb-0', id: 'pg-error'}, String(err)));
  } finally {
    button.disabled = false;
  }
}

$('pg-count').addEventListener('click', countMatches);
$('pg-copy').addEventListener('click', async () => {
  const label = $('pg-copy').querySelector('span');
  try {
    await navigator.clipboard.writeText($('pg-json').textContent);
    label.textContent = T.copied;
    setTimeout(() => { label.textContent = T.copy; }, 1500);
  } catch {
    window.getSelection().selectAllChildren($('pg-json'));
  }
});
