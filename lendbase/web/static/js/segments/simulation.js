// The result of a simulation (POST /api/v1/segments/<key>/simulate): counts, samples linking
// to the records, and what the on-enter actions would do.

import {el, format, icon} from '../builder/dom.js';

function stat(value, caption, cls, id) {
  return el('div', {class: 'col-4 sg-stat text-center', id},
    el('div', {class: `display-6 fw-semibold ${cls}`}, value.toLocaleString()),
    el('div', {class: 'small text-body-secondary'}, caption));
}

function samples(title, list, recordUrl, t, id) {
  const items = list.length ? list.map((s) => el('li', {},
    s.deleted ? el('span', {}, s.title, ' ', el('span', {class: 'text-body-secondary'}, `(${t.deleted})`))
      : el('a', {href: recordUrl(s.id), target: '_blank', rel: 'noopener'}, s.title),
    el('span', {class: 'text-body-secondary small'}, `#${s.id}`)))
    : [el('li', {class: 'text-body-secondary'}, t.sim_none)];
  return el('div', {class: 'mt-2', id},
    el('div', {class: 'small fw-semibold'}, title),
    el('ul', {class: 'list-unstyled small mb-0 sg-samples'}, items));
}

/** Render ``sim`` (the API's JSON) into ``root``. */
export function renderSimulation(root, sim, {strings: t, recordUrl}) {
  const parts = [
    el('div', {class: 'row g-1 mb-2'},
      stat(sim.members, t.sim_cap_members, 'text-primary', 'sim-members'),
      stat(sim.entering, t.sim_cap_entering, 'text-success', 'sim-entering'),
      stat(sim.leaving, t.sim_cap_leaving, 'text-danger', 'sim-leaving')),
    el('p', {class: 'small mb-1', id: 'sim-sentence'},
      format(t.sim_members, {n: sim.members.toLocaleString()}),
      sim.current_members === null ? '' : ` (${format(t.sim_current, {n: sim.current_members.toLocaleString()})})`,
      ' · ', format(t.sim_entering, {n: sim.entering.toLocaleString()}),
      ' · ', format(t.sim_leaving, {n: sim.leaving.toLocaleString()})),
  ];
  if (sim.published_version === null) parts.push(el('p', {class: 'small text-body-secondary mb-1'}, t.sim_unpublished));
  if (sim.note) parts.push(el('p', {class: 'small text-warning-emphasis mb-1'}, icon('info-circle'), ' ', sim.note));
  parts.push(samples(t.sim_sample_entering, sim.sample_entering, recordUrl, t, 'sim-sample-entering'));
  parts.push(samples(t.sim_sample_leaving, sim.sample_leaving, recordUrl, t, 'sim-sample-leaving'));
  parts.push(samples(t.sim_sample_members, sim.sample_members, recordUrl, t, 'sim-sample-members'));
  const actions = sim.enter_actions && sim.enter_actions.actions;
  if (actions && actions.length) {
    parts.push(el('div', {class: 'mt-2', id: 'sim-actions'},
      el('div', {class: 'small fw-semibold'}, t.sim_actions),
      el('ul', {class: 'small mb-0'}, actions.map((a) => el('li', {},
        format(t.sim_action, {i: a.index + 1, type: a.type, n: a.affected.toLocaleString()}))))));
  }
  root.replaceChildren(...parts);
}
