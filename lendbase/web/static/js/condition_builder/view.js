// The condition builder component: nested boxes of rows for groups, comparisons and related
// records, the summary sentence under them and the "Edit as JSON" view. The model, checks and
// summary live in model.js / summary.js; the value editors in editors.js.

import {el, format, icon, pickLabel} from '../builder/dom.js';
import {commitBeforeTab, optionToggles, valueEditor} from './editors.js';
import {
  canonical, checkCondition, clone, comparisonOf, countRows, emitTree, isObject, leafProblem, makeScope,
  newGroup, newLeaf, newRelated, nodeProblem, relatedOwnProblem, sameTree, toModel,
} from './model.js';
import {
  AGGREGATE_TYPES, LIMITS, SYMBOLS, aggregateField, aggregateOperators, convertValue, operatorsFor,
  opWord, optionsFor,
} from './operators.js';
import {relatedLabel, summarizeCondition} from './summary.js';

let instances = 0;
const AGG_CHOICES = ['exists', 'not_exists', 'count', 'sum', 'min', 'max'];

/**
 * new ConditionBuilder(root, options) renders into ``root`` (an empty element) and calls
 * ``onChange(tree | undefined)`` once per user change of the emitted tree; ``root`` also gets a
 * bubbling "condition-change" event ({detail: {value}}). See condition_builder.js for options.
 */
export class ConditionBuilder {
  constructor(root, options = {}) {
    this.root = root;
    this.t = options.strings || {};
    this.lang = options.lang || 'zh';
    this.language = options.language === 'full' ? 'full' : 'visibility';
    this.scope = makeScope({fields: options.fields, fieldGroups: options.fieldGroups, language: this.language});
    this.fields = this.scope.fields;
    this.fieldGroups = this.scope.plainGroups;
    this.fieldOf = this.scope.fieldOf;
    this.idPrefix = options.idPrefix || `cb${++instances}`;
    this.emptyText = options.emptyText || this.t.empty;
    this.limits = {...LIMITS, ...(options.limits || {})};
    this.onChange = options.onChange || (() => {});
    this.ctx = {scope: this.scope, strings: this.t, lang: this.lang, limits: this.limits};
    root.classList.add('cb');
    root.classList.toggle('cb-full', this.language === 'full');
    // Delete / Backspace on a button here must not reach page shortcuts (delete the selection).
    root.addEventListener('keydown', (evt) => {
      if (evt.key === 'Delete' || evt.key === 'Backspace') evt.stopPropagation();
    });
    this.load(options.value, options.draft);
  }

  /** The emitted tree (undefined: no condition). */
  get value() { return this.current; }

  /** Replace the condition (from outside: undo, another record...); does not call onChange. */
  setValue(tree) { this.load(tree); }

  /** The editor's state, to hand to a later instance as ``draft``. */
  get draft() {
    return {model: clone(this.model), mode: this.mode, jsonText: this.jsonText, value: clone(this.current)};
  }

  /** The plain-language reading of the current condition ('' when there is none). */
  get summary() { return summarizeCondition(this.current, this.ctx); }

  load(value, draft) {
    this.current = isObject(value) && Object.keys(value).length ? clone(value) : undefined;
    this.jsonText = null;
    this.problems = [];
    this.notice = '';
    if (draft && sameTree(draft.value, this.current)
        && (draft.mode === 'json' || sameTree(emitTree(draft.model, this.scope), this.current))) {
      this.model = clone(draft.model);
      this.mode = draft.mode;
      this.jsonText = draft.jsonText;
      if (this.mode === 'json' && this.jsonText !== null) this.checkJson(this.jsonText, false);
    } else {
      const problems = this.current ? checkCondition(this.current, this.ctx) : [];
      const model = problems.length ? null : toModel(this.current, this.scope);
      this.model = model || newGroup();
      this.mode = model ? 'visual' : 'json';
      this.problems = problems;
      if (!model) this.notice = this.t.not_showable;
    }
    this.render();
  }

  // --- changes ---------------------------------------------------------------------------
  /**
   * After a change of the model: emit the new tree, then re-render (focusing ``focusId``), or,
   * ``inPlace`` (typing in an input), only refresh the markers and the summary so the input
   * keeps its place and the focus.
   */
  changed(focusId, inPlace) {
    const next = emitTree(this.model, this.scope);
    this.problems = next === undefined ? [] : checkCondition(next, this.ctx);
    if (!this.problems.length) this.emit(next);
    if (inPlace) {
      this.refreshMarkers();
      this.refreshSummary();
    } else {
      this.render(focusId);
    }
  }

  emit(next) {
    if (sameTree(next, this.current)) return;
    this.current = clone(next);
    this.onChange(clone(next));
    this.root.dispatchEvent(new CustomEvent('condition-change', {bubbles: true, detail: {value: clone(next)}}));
  }

  /** The id of a control: ``<prefix>-<path, "_"-joined, "w" entering a where>-<part>``. */
  id(path, part) { return `${this.idPrefix}-${path.length ? path.join('_') : 'top'}-${part}`; }

  nodeAt(path) {
    return path.reduce((node, step) => (step === 'w' ? node.where : node.children[step]), this.model);
  }

  /** The scope at ``path``: each "w" step enters a related node's where. */
  scopeAt(path) {
    let node = this.model;
    let scope = this.scope;
    for (const step of path) {
      if (step === 'w') {
        scope = scope.childScope(scope.relatedOf(node.form, node.link));
        node = node.where;
      } else {
        node = node.children[step];
      }
    }
    return scope;
  }

  // --- rendering -------------------------------------------------------------------------
  render(focusId) {
    const active = this.root.contains(document.activeElement) ? document.activeElement.id : '';
    const body = this.mode === 'json' ? this.jsonView() : this.groupView(this.model, [], 1, this.scope);
    this.refreshSummary();
    this.root.replaceChildren(this.toolbar(), body, this.summaryBox);
    if (this.mode === 'visual') this.refreshMarkers();
    const target = focusId || active;
    if (target) this.root.querySelector(`#${CSS.escape(target)}`)?.focus();
  }

  toolbar() {
    const t = this.t;
    const json = this.mode === 'json';
    const toggle = el('button', {type: 'button', class: 'btn btn-link btn-sm cb-mode',
      id: `${this.idPrefix}-mode`, 'aria-pressed': String(json)},
    icon(json ? 'ui-checks-grid' : 'braces'), ' ', json ? t.edit_visual : t.edit_json);
    toggle.addEventListener('click', () => (json ? this.toVisual() : this.switchTo('json')));
    return el('div', {class: 'cb-bar'}, toggle);
  }

  /** The sentence under the editor; one lasting live region, so screen readers hear changes. */
  refreshSummary() {
    const t = this.t;
    if (!this.summaryBox) {
      this.summaryBox = el('div', {class: 'cb-summary', id: `${this.idPrefix}-summary`,
        role: 'status', 'aria-label': t.summary});
    }
    const readable = !this.current || !checkCondition(this.current, this.ctx).length;
    const text = readable ? summarizeCondition(this.current, this.ctx) || this.emptyText : t.summary_invalid;
    const missing = this.mode === 'visual' ? countRows(this.model, this.scope, (n, s) => (n.kind === 'leaf'
      ? leafProblem(n, s) : relatedOwnProblem(n, s))) : 0;
    this.summaryBox.replaceChildren(el('span', {class: 'cb-summary-text'}, text),
      missing ? el('div', {class: 'cb-summary-incomplete'}, icon('exclamation-triangle'), ' ',
        format(t.incomplete_n, {n: missing})) : '',
      this.mode === 'visual' && this.problems.length
        ? el('div', {class: 'text-danger'}, this.problems.join('; ')) : '');
  }

  /** Every row's "incomplete" marker, as the model says now. */
  refreshMarkers() {
    const t = this.t;
    for (const box of this.root.querySelectorAll('.cb-leaf[data-cb-path], .cb-related[data-cb-path]')) {
      const path = box.dataset.cbPath.split('.').map((s) => (s === 'w' ? s : Number(s)));
      const node = this.nodeAt(path);
      const problem = node ? nodeProblem(node, this.scopeAt(path.slice(0, -1))) : '';
      box.classList.toggle('cb-incomplete', Boolean(problem));
      box.querySelector(':scope > .cb-problem')?.remove();
      if (problem) {
        const marker = el('div', {class: 'cb-problem', 'data-cb-problem': problem},
          icon('exclamation-triangle'), ' ', el('strong', {}, t.incomplete), ' · ', t[problem] || problem);
        const where = box.querySelector(':scope > .cb-where-box');
        if (where) box.insertBefore(marker, where);
        else box.append(marker);
      }
    }
  }

  groupView(group, path, level, scope, where = false) {
    const t = this.t;
    const top = path.length === 0;
    const box = el('div', {class: `cb-group${group.not ? ' cb-negated' : ''}${top ? ' cb-top' : ''}${where ? ' cb-where' : ''}`,
      role: 'group', 'aria-label': top ? t.conditions : where ? t.where_group
        : format(t.group_n, {n: path.filter((s) => s !== 'w').map((i) => i + 1).join('.')}),
      'data-cb-path': path.join('.'), 'data-cb-op': group.op});
    if (!(top || where) || group.children.length) box.append(this.groupHead(group, path, where));
    // an empty top group says nothing: the summary under it already reads this.emptyText
    if (where && !group.children.length) box.append(el('p', {class: 'cb-empty'}, t.where_empty));
    group.children.forEach((child, i) => {
      if (i > 0) box.append(el('div', {class: 'cb-connector', 'aria-hidden': 'true'}, t[group.op]));
      const childLevel = level + 1 + (child.not ? 1 : 0);
      const childPath = [...path, i];
      if (child.kind === 'group') box.append(this.groupView(child, childPath, childLevel, scope));
      else if (child.kind === 'related') box.append(this.relatedView(child, childPath, childLevel, scope));
      else box.append(this.leafView(child, childPath, scope));
    });
    box.append(this.addButtons(group, path, level, scope));
    return box;
  }

  groupHead(group, path, where) {
    const t = this.t;
    const top = path.length === 0 || where;
    const logic = el('select', {class: 'form-select form-select-sm cb-logic', id: this.id(path, 'logic'),
      'aria-label': t.group_logic},
    ['and', 'or'].map((op) => el('option', {value: op, selected: group.op === op}, t[`group_${op}`])));
    logic.addEventListener('change', () => {
      group.op = logic.value;
      this.changed();
    });
    const label = path.length === 0 ? t.clear : where ? t.clear_where : t.delete_group;
    const remove = el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger cb-icon-btn',
      id: this.id(path, 'delete'), 'aria-label': label, title: label}, icon(top ? 'x-circle' : 'trash'));
    remove.addEventListener('click', () => this.remove(path));
    return el('div', {class: 'cb-group-head'},
      this.notToggle(group, path, t.negate_group), logic, remove);
  }

  notToggle(node, path, label) {
    const button = el('button', {type: 'button', id: this.id(path, 'not'),
      class: `btn btn-sm cb-not ${node.not ? 'btn-danger' : 'btn-outline-secondary'}`,
      'aria-pressed': String(node.not), 'aria-label': label, title: label}, this.t.not);
    button.addEventListener('click', () => {
      node.not = !node.not;
      this.changed();
    });
    return button;
  }

  addButtons(group, path, level, scope) {
    const t = this.t;
    const full = countRows(this.model, this.scope) >= this.limits.maxLeaves;
    const add = (id, cls, iconName, text, disabled, make, focus) => {
      const button = el('button', {type: 'button', class: `btn btn-sm ${cls}`, id: this.id(path, id), disabled},
        icon(iconName), ' ', text);
      button.addEventListener('click', () => {
        group.children.push(make());
        this.changed(this.id([...path, group.children.length - 1, ...focus[0]], focus[1]));
      });
      return button;
    };
    return el('div', {class: 'cb-add'},
      add('add', 'btn-outline-primary', 'plus-lg', t.add_condition, full, newLeaf, [[], 'field']),
      add('add-group', 'btn-outline-secondary', 'plus-square', t.add_group,
        full || level + 2 > this.limits.maxDepth,
        () => newGroup(group.op === 'and' ? 'or' : 'and', [newLeaf()]), [[0], 'field']),
      scope.related.length ? add('add-related', 'btn-outline-secondary', 'diagram-3', t.add_related,
        full || level + 2 > this.limits.maxDepth, newRelated, [[], 'rel']) : '');
  }

  /** Delete the node at ``path`` (a top or where group: clear it); focus its group's "add". */
  remove(path) {
    if (!path.length) {
      this.model = newGroup();
      this.changed(this.id([], 'add'));
    } else if (path.at(-1) === 'w') {
      this.nodeAt(path.slice(0, -1)).where = newGroup();
      this.changed(this.id(path, 'add'));
    } else {
      const parentPath = path.slice(0, -1);
      this.nodeAt(parentPath).children.splice(path.at(-1), 1);
      this.changed(this.id(parentPath, 'add'));
    }
  }

  rowLabel(path) { return path.filter((s) => s !== 'w').map((i) => i + 1).join('.'); }

  deleteButton(path, label) {
    const remove = el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger cb-icon-btn',
      id: this.id(path, 'delete'), 'aria-label': label, title: label}, icon('trash'));
    remove.addEventListener('click', () => this.remove(path));
    return remove;
  }

  leafView(leaf, path, scope) {
    const t = this.t;
    leaf.options = leaf.options || {};  // a draft of an older version has none
    const box = el('div', {class: `cb-leaf${leaf.not ? ' cb-negated' : ''}`, role: 'group',
      'aria-label': format(t.condition_n, {n: this.rowLabel(path)}), 'data-cb-path': path.join('.')},
    el('div', {class: 'cb-row'}, this.fieldSelect(leaf, path, scope), this.notToggle(leaf, path, t.negate_condition),
      this.deleteButton(path, t.delete_condition)));
    if (scope.fieldOf(leaf.field)) box.append(...this.comparisonRows(leaf, path, scope));
    return box;
  }

  /**
   * The operator and value of a leaf or an aggregate (after ``lead``: the aggregate's own
   * selects), then the check boxes of its operator's options.
   */
  comparisonRows(node, path, scope, lead = []) {
    const found = comparisonOf(node, scope);
    if (!found) return lead.length ? [el('div', {class: 'cb-row cb-row-wrap'}, lead)] : [];
    const kind = found.ops[node.op];
    const editor = kind ? valueEditor(this, node, found.field, kind, path, scope) : null;
    const wide = kind && (kind.endsWith('_pair') || ['options', 'tokens', 'datetime'].includes(kind));
    const rows = [el('div', {class: 'cb-row cb-row-wrap'}, lead, this.opSelect(node, found, path, scope),
      editor ? el('div', {class: `cb-value${wide ? ' cb-value-wide' : ''}`}, editor) : '')];
    const toggles = this.language === 'full' ? optionToggles(this, node, path) : null;
    return toggles ? [...rows, toggles] : rows;
  }

  fieldSelect(leaf, path, scope) {
    const t = this.t;
    const option = (f) => el('option', {value: f.key, selected: f.key === leaf.field},
      pickLabel(f.label, this.lang, f.key));
    const groups = scope.plainGroups;
    const select = el('select', {class: 'form-select form-select-sm cb-field', id: this.id(path, 'field'),
      'aria-label': t.field},
    el('option', {value: ''}, t.choose_field),
    groups.length && scope.fields.length
      ? el('optgroup', {label: pickLabel(scope.label, this.lang, t.this_form)}, scope.fields.map(option))
      : scope.fields.map(option),
    groups.map((g) => el('optgroup', {label: pickLabel(g.label, this.lang, g.key)}, g.fields.map(option))));
    select.addEventListener('change', () => {
      const field = scope.fieldOf(select.value);
      const before = scope.fieldOf(leaf.field);
      leaf.field = select.value;
      const ops = operatorsFor(field, this.language);
      if (!ops) {
        leaf.op = '';
        leaf.value = undefined;
      } else {
        if (!(leaf.op in ops)) leaf.op = Object.keys(ops)[0];
        // A value carries over only to a field taking the same values.
        const same = before && before.type === field.type && canonical(before.options) === canonical(field.options);
        if (!same) leaf.value = undefined;
      }
      leaf.options = {};
      this.changed();
    });
    return select;
  }

  opSelect(node, {field, ops}, path) {
    const t = this.t;
    const offered = Object.keys(node.kind === 'leaf' ? operatorsFor(field, this.language) : ops);
    if (node.op in ops && !offered.includes(node.op)) offered.push(node.op);  // an older operator
    const select = el('select', {class: 'form-select form-select-sm cb-op', id: this.id(path, 'op'),
      'aria-label': t.operator, disabled: offered.length === 1},
    node.op in ops ? '' : el('option', {value: ''}, t.choose),
    offered.map((op) => el('option', {value: op, selected: op === node.op},
      SYMBOLS[op] ? `${SYMBOLS[op]} ${opWord(field, op, t)}` : opWord(field, op, t))));
    select.addEventListener('change', () => {
      node.value = convertValue(node.value, ops[node.op] || 'none', ops[select.value]);
      node.op = select.value;
      const keep = optionsFor(node.op);
      node.options = Object.fromEntries(Object.entries(node.options || {}).filter(([k]) => keep.includes(k)));
      this.changed();
    });
    return select;
  }

  // --- related records ---------------------------------------------------------------------
  relatedView(node, path, level, scope) {
    const t = this.t;
    node.options = node.options || {};
    const group = scope.relatedOf(node.form, node.link);
    const box = el('div', {class: `cb-related${node.not ? ' cb-negated' : ''}`, role: 'group',
      'aria-label': format(t.related_n, {n: this.rowLabel(path)}), 'data-cb-path': path.join('.')},
    el('div', {class: 'cb-row'}, this.relatedSelect(node, path, scope),
      this.notToggle(node, path, t.negate_related), this.deleteButton(path, t.delete_related)));
    if (!group) return box;
    const child = scope.childScope(group);
    const lead = [this.aggSelect(node, path, child)];
    if (node.agg !== 'exists' && node.agg !== 'count') lead.push(this.aggFieldSelect(node, path, child));
    box.append(...(node.agg === 'exists' ? [el('div', {class: 'cb-row'}, lead)]
      : this.comparisonRows(node, path, scope, lead)));
    box.append(el('div', {class: 'cb-where-box'},
      el('div', {class: 'cb-where-label', id: this.id([...path, 'w'], 'label')}, t.where),
      this.groupView(node.where, [...path, 'w'], level + 1, child, true)));
    return box;
  }

  relatedSelect(node, path, scope) {
    const t = this.t;
    const current = node.form ? `${node.form}:${node.link}` : '';
    const select = el('select', {class: 'form-select form-select-sm cb-rel', id: this.id(path, 'rel'),
      'aria-label': t.related},
    el('option', {value: ''}, t.choose_related),
    scope.related.map((g) => el('option', {value: `${g.form}:${g.link}`, selected: `${g.form}:${g.link}` === current},
      relatedLabel(g, this.ctx))));
    select.addEventListener('change', () => {
      const [form = '', link = ''] = select.value.split(':');
      if (form !== node.form || link !== node.link) {
        Object.assign(node, {form, link, field: '', where: newGroup()});
        if (node.agg !== 'exists') Object.assign(node, {value: undefined, options: {}});
      }
      this.changed();
    });
    return select;
  }

  aggSelect(node, path, child) {
    const t = this.t;
    const current = node.agg === 'exists' && node.not ? 'not_exists' : node.agg;
    const choices = AGG_CHOICES.filter((a) => !AGGREGATE_TYPES[a]
      || child.allFields.some((f) => AGGREGATE_TYPES[a].has(f.type)));
    const select = el('select', {class: 'form-select form-select-sm cb-agg', id: this.id(path, 'agg'),
      'aria-label': t.agg_label},
    choices.map((a) => el('option', {value: a, selected: a === current}, t[`agg_${a}`])));
    select.addEventListener('change', () => {
      const choice = select.value;
      const wasExists = node.agg === 'exists';
      node.agg = choice === 'not_exists' ? 'exists' : choice;
      if (node.agg === 'exists') {
        node.not = choice === 'not_exists';
        Object.assign(node, {op: '', value: undefined, options: {}, field: ''});
      } else {
        if (wasExists) node.not = false;
        const field = child.fieldOf(node.field);
        if (node.agg === 'count' || !AGGREGATE_TYPES[node.agg].has(field?.type)) node.field = '';
        const left = aggregateField(node.agg, child.fieldOf(node.field));
        const ops = left ? aggregateOperators(left) : null;
        if (!ops || !(node.op in ops)) Object.assign(node, {op: ops ? Object.keys(ops)[0] : '', value: undefined, options: {}});
      }
      this.changed();
    });
    return select;
  }

  aggFieldSelect(node, path, child) {
    const t = this.t;
    const fields = child.allFields.filter((f) => AGGREGATE_TYPES[node.agg].has(f.type));
    const select = el('select', {class: 'form-select form-select-sm cb-agg-field', id: this.id(path, 'aggfield'),
      'aria-label': t.agg_field},
    el('option', {value: ''}, t.choose_field),
    fields.map((f) => el('option', {value: f.key, selected: f.key === node.field}, pickLabel(f.label, this.lang, f.key))));
    select.addEventListener('change', () => {
      const before = aggregateField(node.agg, child.fieldOf(node.field));
      node.field = select.value;
      const left = aggregateField(node.agg, child.fieldOf(node.field));
      const ops = left ? aggregateOperators(left) : null;
      if (!ops) {
        Object.assign(node, {op: '', value: undefined, options: {}});
      } else if (!before || before.type !== left.type) {
        Object.assign(node, {op: node.op in ops ? node.op : Object.keys(ops)[0], value: undefined, options: {}});
      }
      this.changed();
    });
    return select;
  }

  // --- the JSON view ---------------------------------------------------------------------
  jsonView() {
    const t = this.t;
    const text = this.jsonText ?? (this.current ? JSON.stringify(this.current, null, 2) : '');
    const errorId = `${this.idPrefix}-json-error`;
    const area = el('textarea', {class: 'form-control form-control-sm font-monospace cb-json',
      id: `${this.idPrefix}-json`, spellcheck: 'false', 'aria-label': t.json_label,
      'aria-describedby': `${errorId} ${this.idPrefix}-notice`,
      rows: Math.min(14, Math.max(4, text.split('\n').length))});
    area.value = text;
    area.addEventListener('change', () => this.jsonChanged(area.value));
    commitBeforeTab(area, () => this.jsonChanged(area.value));
    const errors = el('div', {class: 'invalid-feedback d-block', id: errorId, role: 'alert'});
    const notice = el('div', {class: 'form-text cb-notice', id: `${this.idPrefix}-notice`});
    this.jsonParts = {area, errors, notice};
    this.refreshJson();
    return el('div', {class: 'cb-json-view'}, area, errors, notice);
  }

  /** The JSON view's error and notice, in place (the textarea keeps the focus). */
  refreshJson() {
    const {area, errors, notice} = this.jsonParts;
    const invalid = this.problems.length > 0;
    area.classList.toggle('is-invalid', invalid);
    area.setAttribute('aria-invalid', String(invalid));
    errors.replaceChildren(...this.problems.map((p) => el('div', {}, p)));
    notice.textContent = this.notice;
    notice.hidden = !this.notice;
  }

  /** Parse and check the JSON text: problems -> shown, nothing saved. Returns the tree or null. */
  checkJson(raw, announce = true) {
    const text = raw.trim();
    this.problems = [];
    if (!text) return {tree: undefined};
    let tree;
    try {
      tree = JSON.parse(text);
    } catch (err) {
      this.problems = [format(this.t.bad_json, {error: err.message})];
      return null;
    }
    this.problems = checkCondition(tree, this.ctx);
    if (this.problems.length) return null;
    if (announce) this.notice = toModel(tree, this.scope) ? '' : this.t.not_showable;
    return {tree};
  }

  jsonChanged(raw) {
    this.jsonText = raw;
    const checked = this.checkJson(raw);
    if (checked) this.emit(checked.tree);
    this.refreshJson();
    this.refreshSummary();
  }

  /** Switch to ``mode`` ('json' or 'visual') with a fresh view; the toggle keeps the focus. */
  switchTo(mode) {
    Object.assign(this, {mode, jsonText: null, problems: [], notice: ''});
    this.render(`${this.idPrefix}-mode`);
  }

  toVisual() {
    if (this.jsonText !== null && !this.checkJson(this.jsonText)) {
      this.refreshJson();
      this.jsonParts.area.focus();
      return;
    }
    if (!sameTree(emitTree(this.model, this.scope), this.current)) {
      const model = toModel(this.current, this.scope);
      if (!model) {
        this.notice = this.t.not_showable;
        this.refreshJson();
        return;
      }
      this.model = model;
    }
    this.switchTo('visual');
  }
}
