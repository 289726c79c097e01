// The form's own settings in the property panel: what the list page shows (columns in order,
// default sort, filters) and what each role may do (actions, row scope, unmask, and per field:
// editable / read-only / hidden). Each change is one undo step through state.setFormProp.

import Sortable from 'sortablejs';

import {el, icon, pickLabel} from './dom.js';

const ACTIONS = ['create', 'read', 'update', 'delete', 'export'];
const SCOPES = ['own', 'team', 'all'];
const MAX_COLUMNS = 20;  // the meta-schema's list.columns maxItems
// System columns a list may sort by besides the fields (lendbase.forms.compile system columns).
const SYSTEM_SORTS = ['created_at', 'updated_at', 'id'];

const clone = (v) => JSON.parse(JSON.stringify(v ?? null));

/** Fields that can be list columns, sort keys and filters (no sub-tables or files). */
function listable(doc) {
  return doc.fields.filter((f) => !['subtable', 'file', 'textarea'].includes(f.type));
}

export class FormSettings {
  constructor(state, strings, roles) {
    this.state = state;
    this.t = strings;
    this.roles = roles || [];
    this.sortables = [];
    this.opened = new Set();  // which collapsible blocks are open, kept across redraws
  }

  /** A <details> block that stays open (or closed) when the panel is drawn again. */
  details(id, attrs, ...children) {
    const box = el('details', {...attrs, 'data-settings-block': id, open: this.opened.has(id)}, ...children);
    box.addEventListener('toggle', () => {
      if (box.open) this.opened.add(id); else this.opened.delete(id);
    });
    return box;
  }

  destroy() {
    this.sortables.forEach((s) => s.destroy());
    this.sortables = [];
  }

  label(f) { return pickLabel(f.label, this.state.boot.lang, f.key); }

  setList(prop, value) {
    const list = {...clone(this.state.doc.list || {})};
    if (value === undefined || (Array.isArray(value) && value.length === 0)) delete list[prop];
    else list[prop] = value;
    this.state.setFormProp('list', Object.keys(list).length ? list : undefined);
  }

  /** The "List page" block: columns (check and drag to order), default sort, filters. */
  listBlock() {
    const t = this.t;
    const doc = this.state.doc;
    const list = doc.list || {};
    const fields = listable(doc);
    const chosen = (list.columns || []).filter((k) => fields.some((f) => f.key === k));
    const ordered = [...chosen.map((k) => fields.find((f) => f.key === k)),
      ...fields.filter((f) => !chosen.includes(f.key))];
    const columns = el('div', {class: 'bc-list-columns', id: 'list-columns'});
    const emit = () => {
      const keys = [...columns.querySelectorAll('input:checked')].map((i) => i.value);
      this.setList('columns', keys);
    };
    for (const f of ordered) {
      const id = `list-col-${f.key}`;
      const box = el('input', {class: 'form-check-input', type: 'checkbox', id, value: f.key,
        checked: chosen.includes(f.key)});
      box.addEventListener('change', () => {
        if (box.checked && columns.querySelectorAll('input:checked').length > MAX_COLUMNS) {
          box.checked = false;
          box.setCustomValidity(t.list_columns_max);
          box.reportValidity();
          return;
        }
        // A newly shown column goes after the shown ones; a hidden one below them.
        const row = box.closest('.bc-list-column');
        row.remove();
        const shown = [...columns.querySelectorAll('input:checked')].map((i) => i.closest('.bc-list-column'));
        if (shown.length) shown[shown.length - 1].after(row);
        else columns.prepend(row);
        box.focus();
        emit();
      });
      columns.append(el('div', {class: 'form-check bc-list-column d-flex align-items-center gap-1', 'data-key': f.key},
        el('span', {class: 'bc-handle text-body-secondary', title: t.drag_to_order}, icon('grip-vertical')),
        box, el('label', {class: 'form-check-label small text-truncate', for: id}, this.label(f))));
    }
    this.sortables.push(Sortable.create(columns, {
      handle: '.bc-handle', animation: 120, forceFallback: true,
      onEnd: () => setTimeout(emit, 0),
    }));

    const sort = (list.default_sort || [])[0] || '';
    const desc = sort.startsWith('-');
    const sortKey = desc ? sort.slice(1) : sort;
    const sortChoices = [...fields.map((f) => [f.key, this.label(f)]),
      ...SYSTEM_SORTS.map((k) => [k, t[`sys_${k}`] || k])];
    const sortField = el('select', {class: 'form-select form-select-sm', id: 'list-sort-field',
      'aria-label': t.list_sort},
    el('option', {value: ''}, t.list_sort_default),
    sortChoices.map(([v, text]) => el('option', {value: v, selected: v === sortKey}, text)));
    const sortDir = el('select', {class: 'form-select form-select-sm', id: 'list-sort-dir',
      'aria-label': t.list_sort_dir},
    el('option', {value: 'asc', selected: !desc}, t.ascending),
    el('option', {value: 'desc', selected: desc}, t.descending));
    const emitSort = () => this.setList('default_sort', sortField.value
      ? [`${sortDir.value === 'desc' ? '-' : ''}${sortField.value}`] : undefined);
    sortField.addEventListener('change', emitSort);
    sortDir.addEventListener('change', emitSort);

    const filters = el('div', {class: 'bc-list-filters', id: 'list-filters'});
    for (const f of fields) {
      const id = `list-filter-${f.key}`;
      const box = el('input', {class: 'form-check-input', type: 'checkbox', id, value: f.key,
        checked: (list.filters || []).includes(f.key)});
      box.addEventListener('change', () => this.setList('filters',
        fields.map((x) => x.key).filter((k) => filters.querySelector(`#list-filter-${k}`).checked)));
      filters.append(el('div', {class: 'form-check'}, box,
        el('label', {class: 'form-check-label small', for: id}, this.label(f))));
    }
    return this.details('list', {class: 'bc-settings mb-2', id: 'list-settings'},
      el('summary', {class: 'fw-semibold small'}, icon('table'), ' ', t.list_settings),
      el('div', {class: 'form-text mb-1'}, t.list_columns_hint),
      el('div', {class: 'form-label small mb-1 mt-2'}, t.list_columns), columns,
      el('div', {class: 'form-label small mb-1 mt-2'}, t.list_sort),
      el('div', {class: 'input-group input-group-sm'}, sortField, sortDir),
      el('div', {class: 'form-label small mb-1 mt-2'}, t.list_filters), filters);
  }

  setRole(role, value) {
    const perms = clone(this.state.doc.permissions || {});
    if (value === undefined) delete perms[role];
    else perms[role] = value;
    this.state.setFormProp('permissions', Object.keys(perms).length ? perms : undefined);
  }

  /** The "Permissions" block: one collapsible entry per role of the organisation. */
  permissionsBlock() {
    const t = this.t;
    const perms = this.state.doc.permissions || {};
    const known = this.roles.filter((r) => !r.is_superuser).map((r) => r.key);
    // roles named in the document but missing from the organisation stay editable (and visible)
    const keys = [...known, ...Object.keys(perms).filter((k) => !known.includes(k))];
    const box = this.details('permissions', {class: 'bc-settings mb-2', id: 'permission-settings'},
      el('summary', {class: 'fw-semibold small'}, icon('shield-lock'), ' ', t.permissions),
      el('div', {class: 'form-text mb-2'}, t.permissions_hint));
    if (!keys.length) box.append(el('p', {class: 'small text-body-secondary'}, t.no_roles));
    for (const key of keys) box.append(this.roleEntry(key, perms[key]));
    return box;
  }

  roleEntry(key, current) {
    const t = this.t;
    const lang = this.state.boot.lang;
    const role = this.roles.find((r) => r.key === key);
    const granted = current || {};
    const describe = (entry) => ((entry.actions || []).length
      ? entry.actions.map((a) => t[`action_${a}`] || a).join(' · ') : t.no_access);
    const summary = el('div', {class: 'small text-body-secondary text-truncate', 'data-role-summary': key},
      describe(granted));
    // Read the role's entry afresh on every change: the panel is not redrawn between edits.
    const update = (patch) => {
      const next = {...clone((this.state.doc.permissions || {})[key] || {}), ...patch};
      for (const [k, v] of Object.entries(patch)) if (v === undefined) delete next[k];
      const empty = !(next.actions || []).length && !next.hidden_fields?.length &&
        !next.readonly_fields?.length && !next.unmask && !next.scope;
      this.setRole(key, empty ? undefined : next);
      summary.textContent = describe(next);
    };
    const entry = this.details(`role:${key}`, {class: 'bc-role border rounded px-2 py-1 mb-1', 'data-role': key},
      el('summary', {class: 'small'}, el('span', {class: 'fw-semibold'}, pickLabel(role?.label, lang, key)),
        ' ', el('code', {class: 'small'}, key), role ? '' : el('span', {class: 'badge text-bg-warning ms-1'}, t.role_unknown),
        summary));
    const scope = el('select', {class: 'form-select form-select-sm', id: `perm-${key}-scope`,
      'aria-label': t.scope},
    SCOPES.map((s) => el('option', {value: s, selected: (granted.scope || 'own') === s}, t[`scope_${s}`] || s)));
    scope.addEventListener('change', () => update({scope: scope.value}));
    const row = el('div', {class: 'd-flex flex-wrap gap-2 my-1'});
    for (const action of ACTIONS) {
      const id = `perm-${key}-${action}`;
      const box = el('input', {class: 'form-check-input', type: 'checkbox', id, checked: (granted.actions || []).includes(action),
        'data-action': action});
      box.addEventListener('change', () => {
        const next = ACTIONS.filter((a) => row.querySelector(`[data-action="${a}"]`).checked);
        update({actions: next, scope: next.length ? scope.value : undefined});
      });
      row.append(el('div', {class: 'form-check form-check-inline m-0'}, box,
        el('label', {class: 'form-check-label small', for: id}, t[`action_${action}`] || action)));
    }
    const unmaskId = `perm-${key}-unmask`;
    const unmask = el('input', {class: 'form-check-input', type: 'checkbox', id: unmaskId, checked: Boolean(granted.unmask)});
    unmask.addEventListener('change', () => update({unmask: unmask.checked}));
    entry.append(row,
      el('div', {class: 'input-group input-group-sm mb-1'}, el('label', {class: 'input-group-text', for: `perm-${key}-scope`}, t.scope), scope),
      el('div', {class: 'form-check mb-1'}, unmask, el('label', {class: 'form-check-label small', for: unmaskId}, t.unmask)),
      this.fieldAccess(key, granted, update));
    return entry;
  }

  /** Per field: editable, read-only or hidden for this role (hidden wins over read-only). */
  fieldAccess(role, granted, update) {
    const t = this.t;
    const hidden = new Set(granted.hidden_fields || []);
    const readonly = new Set(granted.readonly_fields || []);
    const table = el('div', {class: 'bc-field-access'});
    for (const f of this.state.doc.fields) {
      const now = hidden.has(f.key) ? 'hidden' : readonly.has(f.key) ? 'readonly' : 'edit';
      const select = el('select', {class: 'form-select form-select-sm', 'data-field-access': f.key,
        'aria-label': `${this.label(f)}: ${t.field_access}`},
      ['edit', 'readonly', 'hidden'].map((v) => el('option', {value: v, selected: v === now}, t[`access_${v}`])));
      select.addEventListener('change', () => {
        hidden.delete(f.key);
        readonly.delete(f.key);
        if (select.value === 'hidden') hidden.add(f.key);
        if (select.value === 'readonly') readonly.add(f.key);
        const order = this.state.doc.fields.map((x) => x.key);
        const sorted = (set) => (set.size ? order.filter((k) => set.has(k)) : undefined);
        update({hidden_fields: sorted(hidden), readonly_fields: sorted(readonly)});
      });
      table.append(el('div', {class: 'd-flex align-items-center gap-1 mb-1'},
        el('span', {class: 'small flex-grow-1 text-truncate'}, this.label(f)), el('span', {class: 'bc-access-select'}, select)));
    }
    return this.details(`fields:${role}`, {class: 'mb-1'}, el('summary', {class: 'small'}, t.field_access), table);
  }
}
