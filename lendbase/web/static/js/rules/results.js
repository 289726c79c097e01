// What the rule editor shows beside the rule: a simulation (counts per action, a sample of the
// records with links to them, the notes), the run log and the versions.

import {el, format, icon} from '../builder/dom.js';

const recordLink = (boot, form, record) => el('a', {href: `${boot.urls.records}/${encodeURIComponent(form)}/${record.id}`,
  target: '_blank', rel: 'noopener'}, record.title ? `${record.title} ` : '', el('span', {class: 'text-body-secondary'}, `#${record.id}`));

function sampleList(boot, form, sample, total, t, id) {
  if (!sample.length) return '';
  const more = total > sample.length ? el('li', {class: 'text-body-secondary'}, format(t.more_n, {n: total})) : '';
  return el('ul', {class: 'small mb-0 ps-3 re-sample', id},
    sample.map((r) => el('li', {}, recordLink(boot, form, r))), more);
}

const when = (value, boot) => (value ? new Date(value).toLocaleString(boot.lang === 'zh' ? 'zh-CN' : 'en',
  {dateStyle: 'short', timeStyle: 'short'}) : '');

/** The answer of POST /api/v1/rules/<key>/simulate into ``root``. */
export function renderSimulation(root, data, {t, boot}) {
  const form = data.form;
  const matched = el('div', {class: 'mb-3', id: 'sim-matched'},
    el('div', {class: 'small text-body-secondary'}, t.matched),
    el('div', {class: 're-count', 'data-count': data.matched}, format(t.records_n, {n: data.matched})),
    sampleList(boot, form, data.sample, data.matched, t, 'sim-matched-sample'));
  const actions = data.actions.map((a) => el('li', {class: 'list-group-item px-0', 'data-action': a.index,
    'data-affected': a.affected},
  el('div', {class: 'd-flex align-items-center gap-2'},
    el('span', {class: 'badge text-bg-light border'}, a.index + 1),
    el('span', {class: 'flex-grow-1'}, t[`action_${a.type}`] || a.type),
    el('span', {class: `badge rounded-pill ${a.affected ? 'text-bg-primary' : 'text-bg-light border'}`,
      title: format(t.records_n, {n: a.affected})}, a.affected)),
  sampleList(boot, form, a.sample, a.affected, t, `sim-action-${a.index}-sample`)));
  const notes = (data.notes || []).map((n) => el('li', {}, n));
  root.replaceChildren(matched,
    actions.length ? el('div', {class: 'small text-body-secondary'}, t.would_per_action) : '',
    actions.length ? el('ul', {class: 'list-group list-group-flush mb-2', id: 'sim-actions'}, actions) : '',
    notes.length ? el('ul', {class: 'small text-body-secondary mb-0 ps-3', id: 'sim-notes'}, notes) : '');
}

/** The run log (newest first). */
export function renderRuns(root, runs, {t, boot, form}) {
  if (!runs.length) {
    root.replaceChildren(el('p', {class: 'card-body small text-body-secondary mb-0'}, t.no_runs));
    return;
  }
  const rows = runs.map((r) => {
    const affected = r.actions.reduce((sum, a) => sum + (a.affected || 0), 0);
    const ok = r.status === 'succeeded';
    return el('tr', {'data-run': r.id},
      el('td', {class: 'text-nowrap'}, when(r.started_at, boot), el('div', {class: 'text-body-secondary'}, `v${r.rule_version}`)),
      el('td', {}, r.trigger, r.record_id ? el('div', {}, el('a', {href: `${boot.urls.records}/${encodeURIComponent(form)}/${r.record_id}`},
        `#${r.record_id}`)) : ''),
      el('td', {}, el('span', {class: `badge ${ok ? 'text-bg-success' : 'text-bg-danger'}`}, t[`status_${r.status}`] || r.status),
        el('div', {class: 'text-body-secondary'},
          r.matched === null ? '' : `${format(t.matched_n, {n: r.matched})} · `, format(t.affected_n, {n: affected})),
        r.error ? el('div', {class: 'text-danger text-break'}, r.error) : ''));
  });
  root.replaceChildren(el('div', {class: 'table-responsive'}, el('table', {class: 'table table-sm small mb-0', id: 'runs-table'},
    el('thead', {}, el('tr', {}, el('th', {scope: 'col'}, t.run_when), el('th', {scope: 'col'}, t.run_trigger),
      el('th', {scope: 'col'}, t.run_result))),
    el('tbody', {}, rows))));
}

/** The published versions, each restorable into the draft. */
export function renderVersions(root, versions, {t, boot, restore}) {
  if (!versions.length) {
    root.replaceChildren(el('p', {class: 'card-body small text-body-secondary mb-0'}, t.no_versions));
    return;
  }
  root.replaceChildren(el('ul', {class: 'list-group list-group-flush small', id: 'versions-list'},
    versions.map((v) => {
      const button = el('button', {class: 'btn btn-sm btn-link p-0 text-nowrap', type: 'button', 'data-restore': v.version},
        icon('arrow-counterclockwise'), ' ', t.restore);
      button.addEventListener('click', () => restore(v.version));
      return el('li', {class: 'list-group-item d-flex justify-content-between align-items-center gap-2',
        'data-version': v.version},
      el('span', {}, el('strong', {}, `v${v.version}`), ' · ', when(v.published_at, boot),
        v.published_by_name ? ` · ${v.published_by_name}` : '', v.note ? el('div', {class: 'text-body-secondary'}, v.note) : ''),
      button);
    })));
}
