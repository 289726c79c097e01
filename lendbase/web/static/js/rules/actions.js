// The actions editor of a rule: a card per action (set a field, add / remove a tag, create a
// task, raise an alert, send a notification, call a webhook), "Add an action" and remove.
// Every control carries data-pointer="/actions/<i>/<property>" so that the server's 422
// errors (JSON pointers) are shown next to what they concern.
//
// Several editors can share a page (the segment builder has one for on_enter and one for
// on_leave): ``pointer`` is where the list sits in the document ("/actions" by default, e.g.
// "/on_enter"), and ``idPrefix`` goes in front of every element id the editor makes
// ("on-enter" -> #on-enter-add-action, #on-enter-action-0-first; none by default, so the rule
// editor keeps #add-action, #action-0-first).

import {el, icon} from '../builder/dom.js';

export const ACTION_TYPES = ['add_tag', 'remove_tag', 'create_task', 'raise_alert', 'set_field',
  'notify', 'webhook'];
const TASK_KINDS = ['follow_up', 'phone_collection', 'escalation', 'sop', 'review', 'other'];
const PRIORITIES = ['low', 'normal', 'high', 'urgent'];
const SEVERITIES = ['info', 'warning', 'high', 'critical'];
const ICONS = {add_tag: 'tag', remove_tag: 'tag-fill', create_task: 'check2-square',
  raise_alert: 'exclamation-triangle', set_field: 'pencil-square', notify: 'chat-text',
  webhook: 'box-arrow-up-right', start_flow: 'diagram-3'};

/** The document of a new action of ``type``. */
export function newAction(type, ctx) {
  const form = ctx.form();
  switch (type) {
    case 'add_tag':
    case 'remove_tag':
      return {type, tag: ctx.boot.tags.find((x) => x.active)?.key || ''};
    case 'create_task':
      return {type, title: '', kind: 'follow_up', priority: 'normal', due_in_days: 3,
        ...(form.users.length ? {assignee: {rule: 'field', field: form.users[0].key}} : {})};
    case 'raise_alert':
      return {type, title: '', severity: 'warning'};
    case 'set_field':
      return {type, field: form.writable[0]?.key || '', value: null};
    case 'notify':
      return {type, template: ctx.templates()[0]?.key || '',
        recipient_field: form.recipients[0]?.key || ''};
    case 'webhook':
      return {type, url: 'https://', secret: '', timeout_s: 10};
    default:
      return {type};
  }
}

export class ActionsEditor {
  /**
   * ``ctx``: {boot, t, form() -> the form's boot entry, templates() -> templates for the form}.
   * ``onChange(actions)`` after every edit. ``idPrefix``: put in front of the element ids
   * (``${idPrefix}-add-action``); ``pointer``: the JSON pointer of the list ("/actions").
   */
  constructor(root, {value, ctx, onChange, idPrefix = '', pointer = '/actions'}) {
    this.root = root;
    this.idPrefix = idPrefix;
    this.pointer = pointer;
    this.ctx = ctx;
    this.t = ctx.t;
    this.actions = JSON.parse(JSON.stringify(value || []));
    this.onChange = onChange;
    this.render();
  }

  set(actions) {
    this.actions = JSON.parse(JSON.stringify(actions || []));
    this.render();
  }

  changed() { this.onChange(JSON.parse(JSON.stringify(this.actions))); }

  render(focusId) {
    const t = this.t;
    const cards = this.actions.map((action, i) => this.card(action, i));
    const menu = el('div', {class: 'dropdown'},
      el('button', {class: 'btn btn-sm btn-outline-primary dropdown-toggle', type: 'button',
        id: this.uid('add-action'), 'data-bs-toggle': 'dropdown', 'aria-expanded': 'false'},
      icon('plus-lg'), ' ', t.add_action),
      el('ul', {class: 'dropdown-menu', 'aria-labelledby': this.uid('add-action')},
        ACTION_TYPES.map((type) => {
          const item = el('button', {class: 'dropdown-item', type: 'button', 'data-add': type},
            icon(ICONS[type]), ' ', t[`action_${type}`]);
          item.addEventListener('click', () => {
            this.actions.push(newAction(type, this.ctx));
            this.changed();
            this.render(this.id(this.actions.length - 1, 'first'));
          });
          return el('li', {}, item);
        })));
    this.root.replaceChildren(
      ...(cards.length ? cards : [el('p', {class: 'small text-body-secondary', id: this.uid('no-actions')},
        t.no_actions)]), menu);
    if (focusId) this.root.querySelector(`#${CSS.escape(focusId)}`)?.focus();
  }

  card(action, i) {
    const t = this.t;
    const remove = el('button', {class: 'btn btn-sm btn-link text-danger ms-auto', type: 'button',
      'aria-label': `${t.remove_action} ${i + 1}`, title: t.remove_action}, icon('trash'));
    remove.addEventListener('click', () => {
      this.actions.splice(i, 1);
      this.changed();
      this.render();
    });
    const head = el('div', {class: 'd-flex align-items-center gap-2 px-3 py-2 re-action-head'},
      el('span', {class: 'badge text-bg-light border'}, i + 1),
      el('strong', {}, icon(ICONS[action.type] || 'gear'), ' ',
        t[`action_${action.type}`] || action.type), remove);
    const body = el('div', {class: 'card-body py-2 row g-2', 'data-pointer': this.at(i)},
      ...this.fields(action, i));
    return el('div', {class: 'card mb-2 re-action', 'data-action': i, 'data-type': action.type},
      head, body);
  }

  // --- small controls --------------------------------------------------------------------
  /** An element id, after the editor's ``idPrefix``. */
  uid(name) { return this.idPrefix ? `${this.idPrefix}-${name}` : name; }

  id(i, name) { return this.uid(`action-${i}-${name}`); }

  /** The JSON pointer of action ``i`` (or of its property ``name``). */
  at(i, name) { return name === undefined ? `${this.pointer}/${i}` : `${this.pointer}/${i}/${name}`; }

  wrap(i, name, label, control, {cols = 'col-md-6', hint} = {}) {
    return el('div', {class: cols}, el('label', {class: 'form-label small mb-1', for: control.id}, label),
      control, hint ? el('div', {class: 'form-text small'}, hint) : '');
  }

  input(action, i, name, label, {type = 'text', cols, hint, first, number, placeholder} = {}) {
    const value = action[name];
    const control = el('input', {class: 'form-control form-control-sm', type,
      id: first ? this.id(i, 'first') : this.id(i, name), value: value ?? '',
      'data-pointer': this.at(i, name), placeholder});
    control.addEventListener('input', () => {
      if (number) {
        const n = control.value === '' ? undefined : Number(control.value);
        if (n === undefined || Number.isNaN(n)) delete action[name]; else action[name] = n;
      } else {
        action[name] = control.value;
      }
      this.changed();
    });
    return this.wrap(i, name, label, control, {cols, hint});
  }

  select(action, i, name, label, choices, {cols, first, onPick, empty} = {}) {
    const control = el('select', {class: 'form-select form-select-sm',
      id: first ? this.id(i, 'first') : this.id(i, name), 'data-pointer': this.at(i, name)},
    empty ? el('option', {value: ''}, empty) : '',
    choices.map((c) => el('option', {value: c.value, selected: c.value === action[name]}, c.label)));
    if (action[name] && !choices.some((c) => c.value === action[name])) {
      control.prepend(el('option', {value: action[name], selected: true}, action[name]));
    }
    control.addEventListener('change', () => {
      action[name] = control.value;
      if (onPick) onPick(control.value);
      this.changed();
    });
    return this.wrap(i, name, label, control, {cols});
  }

  /** A notification's quiet hours: on / off, the window, and the field naming the zone. */
  quietHours(action, i, form) {
    const t = this.t;
    const box = el('input', {class: 'form-check-input', type: 'checkbox', id: this.id(i, 'quiet'),
      checked: Boolean(action.quiet_hours), 'data-pointer': this.at(i, 'quiet_hours')});
    const parts = [el('div', {class: 'col-12 form-check ms-2'}, box,
      el('label', {class: 'form-check-label small', for: box.id}, t.quiet_hours))];
    box.addEventListener('change', () => {
      if (box.checked) action.quiet_hours = {from: '22:00', to: '08:00'}; else delete action.quiet_hours;
      this.changed();
      this.render();
    });
    const quiet = action.quiet_hours;
    if (!quiet) return parts;
    const time = (name, label) => {
      const control = el('input', {class: 'form-control form-control-sm', type: 'time',
        id: this.id(i, `quiet-${name}`), value: quiet[name] || '',
        'data-pointer': `${this.at(i, 'quiet_hours')}/${name}`});
      control.addEventListener('input', () => { quiet[name] = control.value; this.changed(); });
      return el('div', {class: 'col-md-3'}, el('label', {class: 'form-label small mb-1', for: control.id},
        label), control);
    };
    const zone = el('select', {class: 'form-select form-select-sm', id: this.id(i, 'quiet-zone'),
      'data-pointer': `${this.at(i, 'quiet_hours')}/timezone_field`},
    el('option', {value: ''}, t.quiet_zone_default),
    (form.zones || []).map((f) => el('option', {value: f.key, selected: f.key === quiet.timezone_field},
      f.label)));
    zone.addEventListener('change', () => {
      if (zone.value) quiet.timezone_field = zone.value; else delete quiet.timezone_field;
      this.changed();
    });
    parts.push(time('from', t.quiet_from), time('to', t.quiet_to),
      el('div', {class: 'col-md-6'}, el('label', {class: 'form-label small mb-1', for: zone.id},
        t.quiet_zone), zone));
    return parts;
  }

  json(action, i, name, label) {
    const t = this.t;
    const control = el('textarea', {class: 'form-control form-control-sm font-monospace', rows: 2,
      id: this.id(i, name), 'data-pointer': this.at(i, name), spellcheck: 'false'});
    control.value = action[name] && Object.keys(action[name]).length
      ? JSON.stringify(action[name]) : '';
    const problem = el('div', {class: 'invalid-feedback'}, t.json_invalid);
    control.addEventListener('input', () => {
      const text = control.value.trim();
      let parsed;
      try { parsed = text ? JSON.parse(text) : {}; } catch { parsed = undefined; }
      const ok = parsed !== undefined && parsed !== null && typeof parsed === 'object'
        && !Array.isArray(parsed);
      control.classList.toggle('is-invalid', !ok);
      if (!ok) return;
      if (Object.keys(parsed).length) action[name] = parsed; else delete action[name];
      this.changed();
    });
    const box = this.wrap(i, name, label, control, {cols: 'col-12'});
    box.append(problem);
    return box;
  }

  // --- per type --------------------------------------------------------------------------
  fields(action, i) {
    const t = this.t;
    const form = this.ctx.form();
    const opt = (values, prefix) => values.map((v) => ({value: v, label: t[`${prefix}_${v}`] || v}));
    switch (action.type) {
      case 'add_tag':
      case 'remove_tag':
        return [
          this.select(action, i, 'tag', t.tag, this.ctx.boot.tags
            .filter((x) => x.active || action.type === 'remove_tag')
            .map((x) => ({value: x.key, label: x.label})), {first: true, empty: t.choose}),
          this.input(action, i, 'reason', t.reason)];
      case 'create_task':
        return [
          this.input(action, i, 'title', t.title_field, {cols: 'col-12', first: true}),
          this.select(action, i, 'kind', t.task_kind, opt(TASK_KINDS, 'kind'), {cols: 'col-md-4'}),
          this.select(action, i, 'priority', t.priority, opt(PRIORITIES, 'priority'), {cols: 'col-md-4'}),
          this.input(action, i, 'due_in_days', t.due_in_days, {type: 'number', cols: 'col-md-4', number: true}),
          ...this.assignee(action, i, form),
          this.input(action, i, 'description', t.description_text, {cols: 'col-12'}),
          this.json(action, i, 'payload', t.script)];
      case 'raise_alert':
        return [
          this.input(action, i, 'title', t.title_field, {cols: 'col-md-8', first: true}),
          this.select(action, i, 'severity', t.severity, opt(SEVERITIES, 'severity'), {cols: 'col-md-4'}),
          this.json(action, i, 'detail', t.detail)];
      case 'set_field':
        return this.setField(action, i, form);
      case 'notify': {
        const templates = this.ctx.templates();
        return [
          this.select(action, i, 'template', t.template, templates.map((x) => ({value: x.key,
            label: `${x.label} (${x.channel})`})), {first: true, empty: templates.length ? t.choose : t.no_templates}),
          this.select(action, i, 'recipient_field', t.recipient_field, form.recipients.map((f) => ({
            value: f.key, label: f.label})), {empty: t.choose}),
          ...this.quietHours(action, i, form)];
      }
      case 'webhook':
        return [
          this.input(action, i, 'url', t.url, {type: 'url', cols: 'col-12', first: true,
            placeholder: 'https://crm.example.com/hooks/lendbase'}),
          this.input(action, i, 'secret', t.secret, {cols: 'col-md-8'}),
          this.input(action, i, 'timeout_s', t.timeout, {type: 'number', cols: 'col-md-4', number: true}),
          this.json(action, i, 'payload', t.payload)];
      case 'start_flow':
        return [el('p', {class: 'small text-warning-emphasis mb-0', 'data-pointer': this.at(i, 'type')},
          t.flows_later)];
      default:
        return [];
    }
  }

  assignee(action, i, form) {
    const t = this.t;
    const rule = action.assignee && !Array.isArray(action.assignee) ? action.assignee : null;
    const mode = !rule ? '' : rule.rule;
    const modes = [
      {value: '', label: t.assignee_none},
      {value: 'field', label: t.assignee_field},
      {value: 'department_head', label: t.assignee_head},
      {value: 'round_robin', label: t.assignee_round_robin},
      {value: 'user', label: t.assignee_user},
    ];
    const holder = {mode};
    const pick = this.select(holder, i, 'mode', t.assignee, modes, {
      cols: 'col-md-6',
      onPick: (value) => {
        const userField = form.users[0]?.key || 'owner_id';
        action.assignee = {
          '': undefined,
          field: {rule: 'field', field: userField},
          department_head: {rule: 'department_head', field: userField},
          round_robin: {rule: 'round_robin', role: this.ctx.boot.roles[0]?.key || ''},
          user: {rule: 'user', user_id: 1},
        }[value];
        if (!action.assignee) delete action.assignee;
        this.render();
      }});
    pick.querySelector('select').dataset.pointer = this.at(i, 'assignee');
    if (!rule) return [pick];
    const set = (key, value) => {
      action.assignee = {...action.assignee, [key]: value};
      this.changed();
    };
    let detail;
    if (rule.rule === 'field' || rule.rule === 'department_head') {
      const choices = [...form.users.map((f) => ({value: f.key, label: f.label})),
        {value: 'owner_id', label: t.assignee_owner}];
      detail = el('select', {class: 'form-select form-select-sm', id: this.id(i, 'assignee-field')},
        choices.map((c) => el('option', {value: c.value, selected: c.value === (rule.field || 'owner_id')}, c.label)));
      detail.addEventListener('change', () => set('field', detail.value));
      return [pick, this.wrap(i, 'assignee-field', t.field, detail)];
    }
    if (rule.rule === 'round_robin') {
      detail = el('select', {class: 'form-select form-select-sm', id: this.id(i, 'assignee-role')},
        this.ctx.boot.roles.map((r) => el('option', {value: r.key, selected: r.key === rule.role}, r.label)));
      detail.addEventListener('change', () => set('role', detail.value));
      return [pick, this.wrap(i, 'assignee-role', t.role, detail)];
    }
    detail = el('input', {class: 'form-control form-control-sm', type: 'number', min: 1,
      id: this.id(i, 'assignee-user'), value: rule.user_id ?? ''});
    detail.addEventListener('input', () => set('user_id', Number(detail.value)));
    return [pick, this.wrap(i, 'assignee-user', t.user_id, detail)];
  }

  setField(action, i, form) {
    const t = this.t;
    const field = form.writable.find((f) => f.key === action.field);
    const pickField = this.select(action, i, 'field', t.field, form.writable.map((f) => ({
      value: f.key, label: f.label})), {first: true, empty: t.choose,
      onPick: () => {
        delete action.formula;
        action.value = null;
        this.render(this.id(i, 'first'));
      }});
    const mode = 'formula' in action ? 'formula' : 'value';
    const modeSelect = el('select', {class: 'form-select form-select-sm', id: this.id(i, 'mode')},
      el('option', {value: 'value', selected: mode === 'value'}, t.mode_value),
      el('option', {value: 'formula', selected: mode === 'formula'}, t.mode_formula));
    modeSelect.addEventListener('change', () => {
      if (modeSelect.value === 'formula') {
        delete action.value;
        action.formula = '';
      } else {
        delete action.formula;
        action.value = null;
      }
      this.changed();
      this.render(this.id(i, 'mode'));
    });
    const parts = [pickField, this.wrap(i, 'mode', t.value_mode, modeSelect, {cols: 'col-md-6'})];
    if (mode === 'formula') {
      parts.push(this.input(action, i, 'formula', t.formula, {cols: 'col-12', hint: t.formula_hint}));
      return parts;
    }
    parts.push(this.valueInput(action, i, field));
    return parts;
  }

  valueInput(action, i, field) {
    const t = this.t;
    const type = field?.type || 'text';
    const id = this.id(i, 'value');
    let control;
    if (type === 'select' || type === 'boolean') {
      const choices = type === 'boolean'
        ? [{value: 'true', label: t.yes}, {value: 'false', label: t.no}]
        : field.options;
      const current = action.value === null || action.value === undefined ? '' : String(action.value);
      control = el('select', {class: 'form-select form-select-sm', id, 'data-pointer': this.at(i, 'value')},
        el('option', {value: ''}, t.empty_value),
        choices.map((c) => el('option', {value: c.value, selected: c.value === current}, c.label)));
      control.addEventListener('change', () => {
        const raw = control.value;
        action.value = raw === '' ? null : (type === 'boolean' ? raw === 'true' : raw);
        this.changed();
      });
    } else {
      const inputType = {integer: 'number', decimal: 'number', money: 'number', percent: 'number',
        date: 'date', datetime: 'datetime-local', reference: 'number', user: 'number'}[type] || 'text';
      control = el('input', {class: 'form-control form-control-sm', type: inputType, id,
        step: inputType === 'number' ? 'any' : undefined, value: action.value ?? '',
        'data-pointer': this.at(i, 'value'), placeholder: t.empty_value});
      control.addEventListener('input', () => {
        const raw = control.value;
        if (raw === '') action.value = null;
        else if (['integer', 'reference', 'user'].includes(type)) action.value = Number.parseInt(raw, 10);
        else if (['decimal', 'money', 'percent'].includes(type)) action.value = raw;
        else action.value = raw;
        this.changed();
      });
    }
    return this.wrap(i, 'value', t.value, control, {cols: 'col-12'});
  }
}
