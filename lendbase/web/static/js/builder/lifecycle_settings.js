// The form's lifecycle in the property panel (docs/lifecycle.md): the select field holding the
// stage (its options are the stages), the stages in order, per stage the initial / final flags,
// the target days, the stages it may move to and its SOP tasks (title zh/en, due in days,
// priority, assignee). Each change is one undo step through state.setFormProp('lifecycle').
// Ticks and typing change the document in place (source 'props': the panel is not redrawn);
// changes of structure redraw it (source 'lifecycle'), and `opened` keeps the open blocks open.

import {el, format, icon, pickLabel} from './dom.js';

const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const ASSIGNEE_KINDS = ['field', 'round_robin', 'user'];
// A new SOP task: titles in both languages, as the meta-schema requires.
const NEW_TASK = {zh: '新任务', en: 'New task'};

const clone = (v) => JSON.parse(JSON.stringify(v ?? null));
// Element ids from stage values (any text): stable across redraws, so focus comes back.
const idPart = (key) => String(key).replace(/[^A-Za-z0-9_-]/g, '_');

const instances = new WeakMap();

/** The Lifecycle block of the form panel (``panel`` is the PropertyPanel drawing it). */
export function lifecycleBlock(panel) {
  let block = instances.get(panel.state);
  if (!block) {
    block = new LifecycleSettings(panel.state, panel.state.boot.lifecycle || {});
    instances.set(panel.state, block);
  }
  return block.render(panel.feedback('lifecycle'));
}

export class LifecycleSettings {
  constructor(state, boot) {
    this.state = state;
    this.t = boot.strings || {};
    this.users = boot.users || [];
    this.opened = new Set();  // which collapsible blocks are open, kept across redraws
  }

  get lc() { return this.state.doc.lifecycle; }

  details(id, attrs, ...children) {
    const box = el('details', {...attrs, 'data-settings-block': id, open: this.opened.has(id)}, ...children);
    box.addEventListener('toggle', () => {
      if (box.open) this.opened.add(id); else this.opened.delete(id);
    });
    return box;
  }

  label(f) { return pickLabel(f.label, this.state.boot.lang, f.key); }

  selects() { return this.state.doc.fields.filter((f) => f.type === 'select'); }

  stageField() { return this.state.doc.fields.find((f) => f.key === this.lc?.field && f.type === 'select'); }

  options() { return (this.stageField()?.options || []).map((o) => o.value); }

  stageLabel(key) {
    const option = (this.stageField()?.options || []).find((o) => o.value === key);
    return option ? pickLabel(option.label, this.state.boot.lang, key) : key;
  }

  /** One undo step: ``mutate`` a copy of the lifecycle; ``redraw`` for changes of structure. */
  edit(mutate, redraw = false) {
    const next = clone(this.lc);
    mutate(next);
    for (const prop of ['transitions', 'terminal']) if (next[prop] && !next[prop].length) delete next[prop];
    this.state.setFormProp('lifecycle', next, redraw ? 'lifecycle' : 'props');
  }

  render(errors) {
    const t = this.t;
    if (errors.length) this.opened.add('lifecycle');
    const box = this.details('lifecycle', {class: 'bc-settings mb-2', id: 'lifecycle-settings'},
      el('summary', {class: 'fw-semibold small'}, icon('signpost-split'), ' ', t.title),
      el('div', {class: 'form-text mb-2'}, t.hint), errors, this.fieldChoice());
    if (this.lc) box.append(this.syncNotice(), this.stageList());
    return box;
  }

  /** The stage field: choosing one starts a lifecycle over its options, moving forward. */
  fieldChoice() {
    const t = this.t;
    const selects = this.selects();
    const current = this.lc?.field || '';
    const choices = selects.map((f) => [f.key, `${this.label(f)} (${f.key})`]);
    if (current && !selects.some((f) => f.key === current)) choices.push([current, current]);
    const select = el('select', {class: 'form-select form-select-sm', id: 'lc-field', 'aria-label': t.field},
      el('option', {value: ''}, t.none),
      choices.map(([v, text]) => el('option', {value: v, selected: v === current}, text)));
    select.addEventListener('change', () => {
      if (!select.value) {
        this.state.setFormProp('lifecycle', undefined, 'lifecycle');
        return;
      }
      const f = selects.find((x) => x.key === select.value);
      const keys = (f?.options || []).map((o) => o.value);
      const next = {field: select.value, stages: keys.map((key) => ({key}))};
      if (keys.length) next.initial = keys[0];
      const moves = keys.slice(1).map((key, i) => ({from: keys[i], to: key}));
      if (moves.length) next.transitions = moves;
      this.opened.add('lifecycle');
      this.state.setFormProp('lifecycle', next, 'lifecycle');
    });
    return el('div', {class: 'mb-2', 'data-prop-group': 'lifecycle'},
      el('label', {class: 'form-label small mb-1', for: 'lc-field'}, t.field), select,
      selects.length ? '' : el('div', {class: 'form-text'}, t.no_selects));
  }

  /** The stages no longer match the field's options (an option added, removed or renamed). */
  syncNotice() {
    const options = this.options();
    const keys = this.lc.stages.map((s) => s.key);
    const same = options.length === keys.length && options.every((o) => keys.includes(o));
    if (same || !this.stageField()) return '';
    const button = el('button', {type: 'button', class: 'btn btn-sm btn-warning ms-2', id: 'lc-sync'}, icon('arrow-repeat'), ' ', this.t.sync_button);
    button.addEventListener('click', () => this.edit((lc) => {
      const kept = lc.stages.filter((s) => options.includes(s.key));
      const known = new Set(kept.map((s) => s.key));
      lc.stages = [...kept, ...options.filter((o) => !known.has(o)).map((key) => ({key}))];
      const valid = new Set(options);
      lc.transitions = (lc.transitions || []).filter((m) => valid.has(m.from) && valid.has(m.to));
      lc.terminal = (lc.terminal || []).filter((k) => valid.has(k));
      if (lc.initial && !valid.has(lc.initial)) delete lc.initial;
    }, true));
    return el('div', {class: 'alert alert-warning py-1 px-2 small d-flex align-items-center', id: 'lc-sync-notice'}, this.t.sync, button);
  }

  stageList() {
    const list = el('div', {class: 'bc-lifecycle-stages', id: 'lc-stages'},
      el('div', {class: 'form-label small mb-1 mt-1'}, this.t.stages));
    this.lc.stages.forEach((stage, i) => list.append(this.stageEntry(stage, i)));
    return list;
  }

  stageEntry(stage, index) {
    const t = this.t;
    const lc = this.lc;
    const key = stage.key;
    const part = idPart(key);
    const terminal = (lc.terminal || []).includes(key);
    const tasks = stage.sop || [];
    const badges = [
      lc.initial === key ? el('span', {class: 'badge text-bg-primary ms-1'}, t.badge_initial) : '',
      terminal ? el('span', {class: 'badge text-bg-secondary ms-1'}, t.badge_terminal) : '',
      stage.target_days ? el('span', {class: 'badge text-bg-light border ms-1'}, format(t.days, {n: stage.target_days})) : '',
      tasks.length ? el('span', {class: 'badge text-bg-info ms-1'}, format(t.n_tasks, {n: tasks.length})) : '',
    ];
    const entry = this.details(`stage:${key}`, {class: 'bc-role border rounded px-2 py-1 mb-1', 'data-stage': key},
      el('summary', {class: 'small'}, el('span', {class: 'fw-semibold'}, this.stageLabel(key)), ' ',
        el('code', {class: 'small'}, key), badges));

    const move = (delta) => this.edit((next) => {
      const to = index + delta;
      if (to < 0 || to >= next.stages.length) return;
      const [item] = next.stages.splice(index, 1);
      next.stages.splice(to, 0, item);
    }, true);
    const up = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary', id: `lc-up-${part}`,
      title: t.up, 'aria-label': `${t.up}: ${this.stageLabel(key)}`, disabled: index === 0}, icon('arrow-up'));
    const down = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary', id: `lc-down-${part}`,
      title: t.down, 'aria-label': `${t.down}: ${this.stageLabel(key)}`, disabled: index === lc.stages.length - 1}, icon('arrow-down'));
    up.addEventListener('click', () => move(-1));
    down.addEventListener('click', () => move(1));

    const initial = el('input', {class: 'form-check-input', type: 'radio', name: 'lc-initial', id: `lc-initial-${part}`,
      checked: lc.initial === key});
    initial.addEventListener('change', () => this.edit((next) => { next.initial = key; }, true));
    const final = el('input', {class: 'form-check-input', type: 'checkbox', id: `lc-terminal-${part}`, checked: terminal});
    final.addEventListener('change', () => this.edit((next) => {
      const set = new Set(next.terminal || []);
      if (final.checked) {
        set.add(key);
        next.transitions = (next.transitions || []).filter((m) => m.from !== key);
        const s = next.stages.find((x) => x.key === key);
        if (s) delete s.target_days;
      } else {
        set.delete(key);
      }
      next.terminal = next.stages.map((s) => s.key).filter((k) => set.has(k));
    }, true));

    const target = el('input', {class: 'form-control form-control-sm', type: 'number', min: 1, max: 3650, step: 1,
      id: `lc-target-${part}`, value: stage.target_days ?? '', disabled: terminal, 'aria-label': `${t.target_days}: ${this.stageLabel(key)}`});
    target.addEventListener('change', () => {
      const n = Number(target.value);
      if (target.value !== '' && !(Number.isInteger(n) && n >= 1 && n <= 3650)) {
        target.classList.add('is-invalid');
        return;
      }
      target.classList.remove('is-invalid');
      this.edit((next) => {
        const s = next.stages.find((x) => x.key === key);
        if (target.value === '') delete s.target_days; else s.target_days = n;
      }, true);
    });

    entry.append(
      el('div', {class: 'd-flex flex-wrap align-items-center gap-2 my-1'},
        el('div', {class: 'btn-group btn-group-sm'}, up, down),
        el('div', {class: 'form-check form-check-inline m-0', title: t.initial_hint}, initial,
          el('label', {class: 'form-check-label small', for: `lc-initial-${part}`}, t.initial)),
        el('div', {class: 'form-check form-check-inline m-0', title: t.terminal_hint}, final,
          el('label', {class: 'form-check-label small', for: `lc-terminal-${part}`}, t.terminal))),
      el('div', {class: 'input-group input-group-sm mb-1'},
        el('label', {class: 'input-group-text', for: `lc-target-${part}`}, t.target_days), target),
      el('div', {class: 'form-text mt-0 mb-1'}, t.target_hint),
      this.moves(key, part, terminal),
      this.sopTasks(stage, part));
    return entry;
  }

  /** "Can move to": one checkbox per other stage. */
  moves(key, part, terminal) {
    const t = this.t;
    const box = el('div', {class: 'mb-1', 'data-moves-from': key},
      el('div', {class: 'form-label small mb-0'}, t.moves));
    if (terminal) {
      box.append(el('div', {class: 'form-text mt-0'}, t.no_moves));
      return box;
    }
    const row = el('div', {class: 'd-flex flex-wrap gap-2'});
    const allowed = new Set((this.lc.transitions || []).filter((m) => m.from === key).map((m) => m.to));
    for (const other of this.lc.stages.map((s) => s.key).filter((k) => k !== key)) {
      const id = `lc-move-${part}-${idPart(other)}`;
      const tick = el('input', {class: 'form-check-input', type: 'checkbox', id, checked: allowed.has(other),
        'data-move-to': other});
      tick.addEventListener('change', () => this.edit((next) => {
        const order = next.stages.map((s) => s.key);
        const moves = (next.transitions || []).filter((m) => !(m.from === key && m.to === other));
        if (tick.checked) moves.push({from: key, to: other});
        // keep the list readable: by the stages' order of where a move starts, then ends
        moves.sort((a, b) => (order.indexOf(a.from) - order.indexOf(b.from)) || (order.indexOf(a.to) - order.indexOf(b.to)));
        next.transitions = moves;
      }));
      row.append(el('div', {class: 'form-check form-check-inline m-0'}, tick,
        el('label', {class: 'form-check-label small', for: id}, this.stageLabel(other))));
    }
    box.append(row);
    return box;
  }

  /** The stage's SOP tasks, each with its titles, due days, priority and assignee. */
  sopTasks(stage, part) {
    const t = this.t;
    const key = stage.key;
    const box = el('div', {class: 'mb-1', 'data-sop-of': key},
      el('div', {class: 'form-label small mb-0'}, t.sop), el('div', {class: 'form-text mt-0 mb-1'}, t.sop_hint));
    const editTask = (n, mutate, redraw = false) => this.edit((next) => {
      const s = next.stages.find((x) => x.key === key);
      mutate(s.sop[n], s);
      if (!s.sop.length) delete s.sop;
    }, redraw);
    (stage.sop || []).forEach((task, n) => {
      const base = `lc-sop-${part}-${n}`;
      const text = (lang) => {
        const input = el('input', {class: 'form-control form-control-sm', id: `${base}-${lang}`, value: task.title?.[lang] ?? '',
          maxlength: 200, 'aria-label': lang === 'zh' ? t.task_title_zh : t.task_title_en, placeholder: lang === 'zh' ? t.task_title_zh : t.task_title_en});
        input.addEventListener('change', () => {
          const v = input.value.trim();
          if (!v) {
            input.classList.add('is-invalid');
            return;
          }
          input.classList.remove('is-invalid');
          editTask(n, (x) => { x.title = {...(x.title || {}), [lang]: v}; });
        });
        return input;
      };
      const due = el('input', {class: 'form-control form-control-sm', type: 'number', min: 0, max: 365, step: 1,
        id: `${base}-due`, value: task.due_in_days ?? ''});
      due.addEventListener('change', () => {
        const v = Number(due.value);
        if (due.value !== '' && !(Number.isInteger(v) && v >= 0 && v <= 365)) {
          due.classList.add('is-invalid');
          return;
        }
        due.classList.remove('is-invalid');
        editTask(n, (x) => { if (due.value === '') delete x.due_in_days; else x.due_in_days = v; });
      });
      const priority = el('select', {class: 'form-select form-select-sm', id: `${base}-priority`, 'aria-label': t.priority},
        PRIORITIES.map((p) => el('option', {value: p, selected: (task.priority || 'normal') === p}, t[`priority_${p}`] || p)));
      priority.addEventListener('change', () => editTask(n, (x) => {
        if (priority.value === 'normal') delete x.priority; else x.priority = priority.value;
      }));
      const remove = el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger', id: `${base}-remove`,
        title: t.remove_task, 'aria-label': t.remove_task}, icon('trash'));
      remove.addEventListener('click', () => editTask(n, (_x, s) => { s.sop.splice(n, 1); }, true));
      box.append(el('div', {class: 'border rounded p-2 mb-1 bg-body-tertiary', 'data-sop-task': n},
        el('div', {class: 'd-flex gap-1 mb-1'}, text('zh'), remove),
        el('div', {class: 'mb-1'}, text('en')),
        el('div', {class: 'd-flex gap-1 mb-1'},
          el('div', {class: 'input-group input-group-sm'},
            el('label', {class: 'input-group-text', for: `${base}-due`}, t.due_in_days), due),
          el('div', {class: 'input-group input-group-sm'},
            el('label', {class: 'input-group-text', for: `${base}-priority`}, t.priority), priority)),
        this.assignee(task, base, (mutate, redraw) => editTask(n, mutate, redraw))));
    });
    const add = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary', id: `lc-add-task-${part}`},
      icon('plus-lg'), ' ', t.add_task);
    add.addEventListener('click', () => {
      this.opened.add(`stage:${key}`);
      this.edit((next) => {
        const s = next.stages.find((x) => x.key === key);
        s.sop = [...(s.sop || []), {title: {...NEW_TASK}, due_in_days: 1,
          assignee: {rule: 'field', field: this.userFields()[0]?.[0] || 'owner_id'}}];
      }, true);
    });
    box.append(add);
    return box;
  }

  /** [value, text] of the user fields a task may go to: the form's user fields, the owner. */
  userFields() {
    return [...this.state.doc.fields.filter((f) => f.type === 'user').map((f) => [f.key, `${this.label(f)} (${f.key})`]),
      ['owner_id', this.t.owner]];
  }

  /** The assignee rule: a user field of the record, a role in turn, or a fixed user. */
  assignee(task, base, editTask) {
    const t = this.t;
    const lang = this.state.boot.lang;
    const rule = task.assignee;
    const simple = rule && !Array.isArray(rule) && ASSIGNEE_KINDS.includes(rule.rule);
    const kindNow = !rule ? '' : simple ? rule.rule : 'custom';
    const kind = el('select', {class: 'form-select form-select-sm', id: `${base}-assignee-kind`, 'aria-label': t.assignee},
      el('option', {value: '', selected: kindNow === ''}, t.assign_none),
      ASSIGNEE_KINDS.map((k) => el('option', {value: k, selected: kindNow === k}, t[`assign_${k}`])),
      kindNow === 'custom' ? el('option', {value: 'custom', selected: true, disabled: true}, t.assign_custom) : '');
    const choices = {
      field: this.userFields(),
      round_robin: (this.state.boot.roles || []).filter((r) => !r.is_superuser).map((r) => [r.key, `${pickLabel(r.label, lang, r.key)} (${r.key})`]),
      user: this.users.map((u) => [String(u.id), u.name]),
    };
    const valueOf = (r) => (!r ? '' : r.rule === 'field' ? (r.field || 'owner_id') : r.rule === 'round_robin' ? r.role : String(r.user_id));
    const ruleFor = (k, v) => (k === 'field' ? {rule: 'field', field: v} : k === 'round_robin' ? {rule: 'round_robin', role: v}
      : {rule: 'user', user_id: Number(v)});
    kind.addEventListener('change', () => editTask((x) => {
      if (!kind.value) {
        delete x.assignee;
        return;
      }
      const first = choices[kind.value][0];
      x.assignee = first ? ruleFor(kind.value, first[0]) : {rule: kind.value};
    }, true));
    const row = el('div', {},
      el('div', {class: 'input-group input-group-sm mb-1'},
        el('label', {class: 'input-group-text', for: `${base}-assignee-kind`}, t.assignee), kind));
    if (simple) {
      const current = valueOf(rule);
      const list = choices[rule.rule];
      const value = el('select', {class: 'form-select form-select-sm', id: `${base}-assignee`, 'aria-label': t[`assign_${rule.rule}`]},
        list.some(([v]) => v === current) ? '' : el('option', {value: current, selected: true}, current || t.choose),
        list.map(([v, text]) => el('option', {value: v, selected: v === current}, text)));
      value.addEventListener('change', () => editTask((x) => { x.assignee = ruleFor(rule.rule, value.value); }));
      row.append(value);
    } else if (kindNow === 'custom') {
      row.append(el('code', {class: 'small d-block text-truncate', title: JSON.stringify(rule)}, JSON.stringify(rule)));
    }
    return row;
  }
}
