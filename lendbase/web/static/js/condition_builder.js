// The visual condition builder: edits one JSON condition tree of DESIGN.md (groups
// {"and": [...]} / {"or": [...]}, {"not": node} and leaves {"field", "op", "value"}) as nested
// boxes of rows, reads it back as one plain-language sentence, and offers "Edit as JSON" for
// advanced users. The form builder uses it for visible_when; rules and segments reuse it.
//
// Incomplete leaves (no field, or no valid value yet) stay in the editor with a visible
// "incomplete" marker and are kept out of the emitted tree, so the document only ever holds
// conditions the server and the browser evaluator accept.

import {el, format, icon, pickLabel} from './builder/dom.js';

/** The server's limits (lendbase/conditions/predicate.py MAX_DEPTH / MAX_LEAVES). */
export const LIMITS = {maxDepth: 20, maxLeaves: 200};

// --- the operator table --------------------------------------------------------------------
// type -> {operator -> value editor kind}, in menu order. A kind "<base>_pair" is two <base>
// values [low, high]. Extending the language (relative dates...) means adding rows here and,
// for a new kind of value, an entry in VALUE_KINDS.

const NONE = 'none';
const EMPTINESS = {is_empty: NONE, is_not_empty: NONE};
const ordered = (kind) => ({'=': kind, '!=': kind, '<': kind, '<=': kind, '>': kind, '>=': kind,
  between: `${kind}_pair`, ...EMPTINESS});
const TEXT_OPS = {'=': 'text', '!=': 'text', contains: 'text', starts_with: 'text', ends_with: 'text',
  in: 'tokens', not_in: 'tokens', ...EMPTINESS};
const ID_OPS = {'=': 'id', '!=': 'id', ...EMPTINESS};

export const OPERATORS_BY_TYPE = {
  integer: ordered('integer'), decimal: ordered('number'), money: ordered('number'),
  percent: ordered('number'), date: ordered('date'), datetime: ordered('datetime'),
  text: TEXT_OPS, textarea: TEXT_OPS, phone: TEXT_OPS, email: TEXT_OPS, id_number: TEXT_OPS,
  uscc: TEXT_OPS,
  select: {'=': 'option', '!=': 'option', in: 'options', not_in: 'options', ...EMPTINESS},
  multiselect: {in: 'options', ...EMPTINESS},
  boolean: {'=': 'boolean'},
  reference: ID_OPS, user: ID_OPS,
  region: {'=': 'text', '!=': 'text', ...EMPTINESS},
};

/** Operators a type words its own way (string keys without "cb_"); the rest are op_<name>. */
export const TYPE_OPERATOR_LABELS = {multiselect: {in: 'op_has_any'}};
const SYMBOLS = {'=': '=', '!=': '≠', '<': '<', '<=': '≤', '>': '>', '>=': '≥'};
const SYMBOL_NAMES = {'=': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge'};

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
// As predicate._UNSAFE_TEXT: C0 controls but tab / LF / CR, DEL, and lone surrogates.
const UNSAFE_TEXT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const realDate = (s, day = `${s.slice(0, 10)}T00:00:00Z`) => !Number.isNaN(Date.parse(day))
  && new Date(day).toISOString().startsWith(s.slice(0, 10));  // 2024-02-30 is not a date
const isText = (v) => typeof v === 'string' && v.trim() !== '' && !UNSAFE_TEXT.test(v);
const optionValues = (f) => (f.options || []).map((o) => o.value);

/**
 * Value kinds: ``valid(value, field)`` says whether a value is complete and what the server's
 * check_value accepts; ``need`` names it in error messages; ``input`` makes its editor an
 * <input> with these attributes.
 */
export const VALUE_KINDS = {
  none: {valid: (v) => v === undefined || v === null, need: 'need_none'},
  number: {valid: (v) => typeof v === 'number' && Number.isFinite(v), need: 'need_number',
    input: {type: 'number', step: 'any', inputmode: 'decimal'}},
  integer: {valid: (v) => Number.isInteger(v), need: 'need_integer',
    input: {type: 'number', step: 1, inputmode: 'numeric'}},
  id: {valid: (v) => Number.isInteger(v) && v >= 1, need: 'need_id',
    input: {type: 'number', step: 1, min: 1, inputmode: 'numeric'}},
  date: {valid: (v) => typeof v === 'string' && DATE_RE.test(v) && realDate(v), need: 'need_date',
    input: {type: 'date'}},
  datetime: {valid: (v) => typeof v === 'string' && DATETIME_RE.test(v) && realDate(v),
    need: 'need_datetime', input: {type: 'datetime-local'}},
  text: {valid: isText, need: 'need_text', input: {type: 'text'}},
  option: {valid: (v, f) => typeof v === 'string' && optionValues(f).includes(v), need: 'need_option'},
  options: {valid: (v, f) => Array.isArray(v) && v.length > 0 && v.every((x) => optionValues(f).includes(x)),
    need: 'need_options'},
  tokens: {valid: (v) => Array.isArray(v) && v.length > 0 && v.every(isText), need: 'need_tokens'},
  boolean: {valid: (v) => typeof v === 'boolean', need: 'need_boolean'},
};

/** The spec of a value kind, pairs included. */
export function valueKind(kind) {
  if (!kind.endsWith('_pair')) return VALUE_KINDS[kind];
  const base = VALUE_KINDS[kind.slice(0, -5)];
  return {valid: (v, f) => Array.isArray(v) && v.length === 2 && v.every((x) => base.valid(x, f)),
    need: 'need_pair', base};
}

/** The operators a field offers ({op: kind}), or null for a type conditions cannot use. */
export const operatorsFor = (field) => (field && OPERATORS_BY_TYPE[field.type]) || null;

// --- pure helpers on trees -----------------------------------------------------------------

const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON with sorted keys, to compare trees. */
function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}
export const sameTree = (a, b) => canonical(a) === canonical(b);

/**
 * Problems of ``tree`` as messages (empty when the server and the editor accept it): node
 * shapes, the depth / leaf limits, fields known, operators fitting the field type, and values
 * of the right shape. ``ctx``: {fieldOf(key), strings, limits}.
 */
export function checkCondition(tree, {fieldOf, strings: t, limits = LIMITS}) {
  const problems = [];
  const stack = [[tree, 1]];
  let leaves = 0;
  while (stack.length && problems.length < 5) {
    const [node, depth] = stack.pop();
    if (depth > limits.maxDepth) {
      problems.push(format(t.err_depth, {n: limits.maxDepth}));
      break;
    }
    if (!isObject(node) || !Object.keys(node).length) {
      problems.push(t.err_object);
      continue;
    }
    const keys = Object.keys(node);
    const extra = (allowed) => keys.filter((k) => !allowed.includes(k));
    if ('and' in node || 'or' in node || 'not' in node) {
      const op = ['and', 'or', 'not'].find((k) => k in node);
      if (extra([op]).length) problems.push(format(t.err_keys, {keys: extra([op]).join(', ')}));
      if (op === 'not') {
        stack.push([node.not, depth + 1]);
      } else if (!Array.isArray(node[op]) || !node[op].length) {
        problems.push(format(t.err_group, {op}));
      } else {
        for (let i = node[op].length - 1; i >= 0; i--) stack.push([node[op][i], depth + 1]);
      }
    } else if ('field' in node) {
      leaves += 1;
      if (leaves > limits.maxLeaves) {
        problems.push(format(t.err_leaves, {n: limits.maxLeaves}));
        break;
      }
      problems.push(...leafProblems(node, extra(['field', 'op', 'value']), fieldOf, t));
    } else {
      problems.push(format(t.err_node, {keys: keys.join(', ')}));
    }
  }
  return problems;
}

function leafProblems(node, extra, fieldOf, t) {
  const out = extra.length ? [format(t.err_keys, {keys: extra.join(', ')})] : [];
  const field = typeof node.field === 'string' ? fieldOf(node.field) : null;
  const ops = operatorsFor(field);
  const name = String(node.field);
  if (!ops) return [...out, format(t.err_field, {field: name})];
  const op = node.op ?? '=';
  if (!(op in ops)) return [...out, format(t.err_op, {field: name, op: String(op)})];
  const spec = valueKind(ops[op]);
  if (!spec.valid(node.value, field)) {
    const need = spec.base ? format(t.need_pair, {need: t[spec.base.need]}) : t[spec.need];
    out.push(format(t.err_value, {field: name, op, need}));
  }
  return out;
}

// The editor's own model: a group {kind: 'group', op: 'and'|'or', not, children} or a leaf
// {kind: 'leaf', field, op, value, not}; ``not`` stands for a {"not": ...} around the node.

const newGroup = (op = 'and', children = []) => ({kind: 'group', op, not: false, children});
const newLeaf = () => ({kind: 'leaf', field: '', op: '', value: undefined, not: false});

function toModelNode(node) {
  if ('not' in node) {
    const inner = toModelNode(node.not);
    if (!inner || inner.not) return null;  // not-of-not: left to the JSON view
    inner.not = true;
    return inner;
  }
  if ('and' in node || 'or' in node) {
    const op = 'and' in node ? 'and' : 'or';
    const children = node[op].map(toModelNode);
    return children.includes(null) ? null : newGroup(op, children);
  }
  return {kind: 'leaf', field: node.field, op: node.op ?? '=', value: clone(node.value), not: false};
}

/** The editor model of a checked tree (undefined: empty), or null when it cannot be shown. */
export function toModel(tree) {
  if (tree === undefined) return newGroup();
  const node = toModelNode(tree);
  if (!node) return null;
  return node.kind === 'group' ? node : newGroup('and', [node]);
}

/** '' when ``leaf`` is complete, else why not: 'need_field' or 'need_value'. */
export function leafProblem(leaf, fieldOf) {
  const ops = operatorsFor(fieldOf(leaf.field));
  if (!ops || !(leaf.op in ops)) return 'need_field';
  return valueKind(ops[leaf.op]).valid(leaf.value, fieldOf(leaf.field)) ? '' : 'need_value';
}

function emitNode(node, fieldOf) {
  let out;
  if (node.kind === 'leaf') {
    if (leafProblem(node, fieldOf)) return undefined;
    out = {field: node.field, op: node.op};
    if (operatorsFor(fieldOf(node.field))[node.op] !== NONE) out.value = clone(node.value);
  } else {
    const parts = node.children.map((c) => emitNode(c, fieldOf)).filter((c) => c !== undefined);
    if (!parts.length) return undefined;
    out = {[node.op]: parts};
  }
  return node.not ? {not: out} : out;
}

/** The condition tree of the model (undefined when nothing is complete). */
export function emitTree(model, fieldOf) {
  if (!model.not) {
    const parts = model.children.map((c) => emitNode(c, fieldOf)).filter((c) => c !== undefined);
    if (parts.length === 1) return parts[0];  // a top group of one says nothing
  }
  return emitNode(model, fieldOf);
}

/** The leaves of a model (those passing ``test``). */
const countLeaves = (node, test = () => true) => (node.kind === 'leaf' ? Number(Boolean(test(node)))
  : node.children.reduce((n, c) => n + countLeaves(c, test), 0));

// --- the summary ---------------------------------------------------------------------------

/** One sentence reading ``tree`` in ``lang`` ('' when empty). ctx: {fieldOf, strings, lang}. */
export function summarizeCondition(tree, ctx) {
  if (tree === undefined) return '';
  return sentence(tree, ctx, true);
}

function sentence(node, ctx, top) {
  const t = ctx.strings;
  if ('not' in node) return format(t.sum_not, {text: sentence(node.not, ctx, true)});
  if ('and' in node || 'or' in node) {
    const op = 'and' in node ? 'and' : 'or';
    const text = node[op].map((n) => sentence(n, ctx, false)).join(` ${t[op]} `);
    return top || node[op].length === 1 ? text : format(t.paren, {text});
  }
  const field = ctx.fieldOf(node.field);
  const name = pickLabel(field?.label, ctx.lang, node.field);
  const op = node.op ?? '=';
  const kind = operatorsFor(field)?.[op] || 'text';
  const shown = (v) => showValue(v, kind.replace(/_pair$/, ''), field, ctx);
  if (kind === NONE) return `${name} ${opWord(field, op, t)}`;
  if (kind.endsWith('_pair')) {
    return format(t.sum_between, {field: name, low: shown(node.value[0]), high: shown(node.value[1])});
  }
  const value = Array.isArray(node.value) ? node.value.map(shown).join(t.list_sep) : shown(node.value);
  return `${name} ${SYMBOLS[op] || opWord(field, op, t)} ${value}`;
}

const opWord = (field, op, t) => t[TYPE_OPERATOR_LABELS[field?.type]?.[op]
  || `op_${SYMBOL_NAMES[op] || op}`] || op;

function showValue(v, kind, field, ctx) {
  const t = ctx.strings;
  if (kind === 'option' || kind === 'options') {
    const option = (field.options || []).find((o) => o.value === v);
    return option ? pickLabel(option.label, ctx.lang, v) : String(v);
  }
  if (kind === 'boolean') return v ? t.yes : t.no;
  if (kind === 'text' || kind === 'tokens') return format(t.quote, {text: v});
  if (kind === 'datetime') return String(v).replace('T', ' ');
  return String(v);
}

// --- the component -------------------------------------------------------------------------

let instances = 0;

/**
 * new ConditionBuilder(root, {value, fields, fieldGroups, lang, strings, onChange, ...}) renders
 * into ``root`` (an empty element) and calls ``onChange(tree | undefined)`` once per user change
 * of the emitted tree; ``root`` also gets a bubbling "condition-change" event ({detail: {value}}).
 *
 * options:
 *   value        the condition tree, or undefined / null / {} for none
 *   fields       [{key, label: {zh, en}, type, options?: [{value, label}]}] the leaves may use
 *   fieldGroups  [{key, label: {zh, en}, fields: [...]}] more fields shown grouped by form
 *                (each field's ``key`` is written into the tree as it is)
 *   lang         'zh' | 'en'
 *   strings      the cb_* UI strings without their prefix (builder_views.condition_builder_strings)
 *   idPrefix     prefix of the ids of the controls (unique on the page)
 *   emptyText    what the summary says with no condition (default strings.empty)
 *   limits       {maxDepth, maxLeaves} (default: the server's)
 *   draft        a previous instance's ``draft``: reused (incomplete rows, JSON view) when its
 *                emitted tree equals ``value``
 */
export class ConditionBuilder {
  constructor(root, options = {}) {
    this.root = root;
    this.t = options.strings || {};
    this.lang = options.lang || 'zh';
    this.fields = (options.fields || []).filter((f) => operatorsFor(f));
    this.fieldGroups = (options.fieldGroups || []).map((g) => ({...g, fields: (g.fields || []).filter((f) => operatorsFor(f))}));
    this.idPrefix = options.idPrefix || `cb${++instances}`;
    this.emptyText = options.emptyText || this.t.empty;
    this.limits = {...LIMITS, ...(options.limits || {})};
    this.onChange = options.onChange || (() => {});
    this.byKey = new Map();
    for (const f of [...this.fields, ...this.fieldGroups.flatMap((g) => g.fields)]) {
      if (!this.byKey.has(f.key)) this.byKey.set(f.key, f);
    }
    this.fieldOf = (key) => this.byKey.get(key) || null;
    this.ctx = {fieldOf: this.fieldOf, strings: this.t, lang: this.lang, limits: this.limits};
    root.classList.add('cb');
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

  load(value, draft) {
    this.current = isObject(value) && Object.keys(value).length ? clone(value) : undefined;
    this.jsonText = null;
    this.problems = [];
    this.notice = '';
    if (draft && sameTree(draft.value, this.current)
        && (draft.mode === 'json' || sameTree(emitTree(draft.model, this.fieldOf), this.current))) {
      this.model = clone(draft.model);
      this.mode = draft.mode;
      this.jsonText = draft.jsonText;
      if (this.mode === 'json' && this.jsonText !== null) this.checkJson(this.jsonText, false);
    } else {
      const problems = this.current ? checkCondition(this.current, this.ctx) : [];
      const model = problems.length ? null : toModel(this.current);
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
   * when ``refresh`` is given (typing in an input), only refresh the leaf and the summary so the
   * input keeps its place and the focus.
   */
  changed(focusId, refresh) {
    const next = emitTree(this.model, this.fieldOf);
    this.problems = next === undefined ? [] : checkCondition(next, this.ctx);
    if (!this.problems.length) this.emit(next);
    if (refresh) {
      refresh();
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

  id(path, part) { return `${this.idPrefix}-${path.length ? path.join('_') : 'top'}-${part}`; }

  // --- rendering -------------------------------------------------------------------------
  render(focusId) {
    const active = this.root.contains(document.activeElement) ? document.activeElement.id : '';
    const body = this.mode === 'json' ? this.jsonView() : this.groupView(this.model, [], 1);
    this.refreshSummary();
    this.root.replaceChildren(this.toolbar(), body, this.summaryBox);
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
    const missing = this.mode === 'visual' ? countLeaves(this.model, (leaf) => leafProblem(leaf, this.fieldOf)) : 0;
    this.summaryBox.replaceChildren(el('span', {class: 'cb-summary-text'}, text),
      missing ? el('div', {class: 'cb-summary-incomplete'}, icon('exclamation-triangle'), ' ',
        format(t.incomplete_n, {n: missing})) : '',
      this.mode === 'visual' && this.problems.length
        ? el('div', {class: 'text-danger'}, this.problems.join('; ')) : '');
  }

  groupView(group, path, level) {
    const t = this.t;
    const top = path.length === 0;
    const box = el('div', {class: `cb-group${group.not ? ' cb-negated' : ''}${top ? ' cb-top' : ''}`,
      role: 'group', 'aria-label': top ? t.conditions : format(t.group_n, {n: path.map((i) => i + 1).join('.')}),
      'data-cb-path': path.join('.'), 'data-cb-op': group.op});
    if (!top || group.children.length) box.append(this.groupHead(group, path));
    if (top && !group.children.length) box.append(el('p', {class: 'cb-empty'}, this.emptyText));
    group.children.forEach((child, i) => {
      if (i > 0) box.append(el('div', {class: 'cb-connector', 'aria-hidden': 'true'}, t[group.op]));
      const childLevel = level + 1 + (child.not ? 1 : 0);
      box.append(child.kind === 'group' ? this.groupView(child, [...path, i], childLevel)
        : this.leafView(child, [...path, i]));
    });
    box.append(this.addButtons(group, path, level));
    return box;
  }

  groupHead(group, path) {
    const t = this.t;
    const top = path.length === 0;
    const logic = el('select', {class: 'form-select form-select-sm cb-logic', id: this.id(path, 'logic'),
      'aria-label': t.group_logic},
    ['and', 'or'].map((op) => el('option', {value: op, selected: group.op === op}, t[`group_${op}`])));
    logic.addEventListener('change', () => {
      group.op = logic.value;
      this.changed();
    });
    const remove = el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger cb-icon-btn',
      id: this.id(path, 'delete'), 'aria-label': top ? t.clear : t.delete_group,
      title: top ? t.clear : t.delete_group}, icon(top ? 'x-circle' : 'trash'));
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

  addButtons(group, path, level) {
    const t = this.t;
    const full = countLeaves(this.model) >= this.limits.maxLeaves;
    const addLeaf = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary',
      id: this.id(path, 'add'), disabled: full}, icon('plus-lg'), ' ', t.add_condition);
    addLeaf.addEventListener('click', () => {
      group.children.push(newLeaf());
      this.changed(this.id([...path, group.children.length - 1], 'field'));
    });
    const addGroup = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary',
      id: this.id(path, 'add-group'), disabled: full || level + 2 > this.limits.maxDepth},
    icon('plus-square'), ' ', t.add_group);
    addGroup.addEventListener('click', () => {
      group.children.push(newGroup(group.op === 'and' ? 'or' : 'and', [newLeaf()]));
      this.changed(this.id([...path, group.children.length - 1, 0], 'field'));
    });
    return el('div', {class: 'cb-add'}, addLeaf, addGroup);
  }

  /** Delete the node at ``path`` (the top group: clear everything); focus its group's "add". */
  remove(path) {
    const parentPath = path.slice(0, -1);
    if (!path.length) this.model = newGroup();
    else parentPath.reduce((node, i) => node.children[i], this.model).children.splice(path.at(-1), 1);
    this.changed(this.id(parentPath, 'add'));
  }

  leafView(leaf, path) {
    const t = this.t;
    const field = this.fieldOf(leaf.field);
    const remove = el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger cb-icon-btn',
      id: this.id(path, 'delete'), 'aria-label': t.delete_condition, title: t.delete_condition},
    icon('trash'));
    remove.addEventListener('click', () => this.remove(path));
    const box = el('div', {class: `cb-leaf${leaf.not ? ' cb-negated' : ''}`,
      role: 'group', 'aria-label': format(t.condition_n, {n: path.map((i) => i + 1).join('.')}),
      'data-cb-path': path.join('.')},
    el('div', {class: 'cb-row'}, this.fieldSelect(leaf, path), this.notToggle(leaf, path, t.negate_condition), remove));
    const refresh = () => this.refreshLeaf(box, leaf);
    if (field) {
      const kind = operatorsFor(field)[leaf.op];
      const editor = this.valueEditor(leaf, field, kind, path, refresh);
      const wide = kind.endsWith('_pair') || ['options', 'tokens', 'datetime'].includes(kind);
      box.append(el('div', {class: 'cb-row cb-row-wrap'}, this.opSelect(leaf, field, path),
        editor ? el('div', {class: `cb-value${wide ? ' cb-value-wide' : ''}`}, editor) : ''));
    }
    refresh();
    return box;
  }

  /** The leaf's "incomplete" marker, as its model says now. */
  refreshLeaf(box, leaf) {
    const t = this.t;
    const problem = leafProblem(leaf, this.fieldOf);
    box.classList.toggle('cb-incomplete', Boolean(problem));
    box.querySelector(':scope > .cb-problem')?.remove();
    if (problem) {
      box.append(el('div', {class: 'cb-problem', 'data-cb-problem': problem},
        icon('exclamation-triangle'), ' ', el('strong', {}, t.incomplete), ' · ', t[problem]));
    }
  }

  fieldSelect(leaf, path) {
    const t = this.t;
    const option = (f) => el('option', {value: f.key, selected: f.key === leaf.field},
      pickLabel(f.label, this.lang, f.key));
    const select = el('select', {class: 'form-select form-select-sm cb-field', id: this.id(path, 'field'),
      'aria-label': t.field},
    el('option', {value: ''}, t.choose_field),
    this.fieldGroups.length && this.fields.length
      ? el('optgroup', {label: t.this_form}, this.fields.map(option)) : this.fields.map(option),
    this.fieldGroups.map((g) => el('optgroup', {label: pickLabel(g.label, this.lang, g.key)}, g.fields.map(option))));
    select.addEventListener('change', () => {
      const field = this.fieldOf(select.value);
      const before = this.fieldOf(leaf.field);
      leaf.field = select.value;
      const ops = operatorsFor(field);
      if (!ops) {
        leaf.op = '';
        leaf.value = undefined;
      } else {
        if (!(leaf.op in ops)) leaf.op = Object.keys(ops)[0];
        // A value carries over only to a field taking the same values.
        const same = before && before.type === field.type && canonical(before.options) === canonical(field.options);
        if (!same) leaf.value = undefined;
      }
      this.changed();
    });
    return select;
  }

  opSelect(leaf, field, path) {
    const t = this.t;
    const ops = Object.keys(operatorsFor(field));
    const select = el('select', {class: 'form-select form-select-sm cb-op', id: this.id(path, 'op'),
      'aria-label': t.operator, disabled: ops.length === 1},
    ops.map((op) => el('option', {value: op, selected: op === leaf.op},
      SYMBOLS[op] ? `${SYMBOLS[op]} ${opWord(field, op, t)}` : opWord(field, op, t))));
    select.addEventListener('change', () => {
      const kinds = operatorsFor(field);
      leaf.value = convertValue(leaf.value, kinds[leaf.op], kinds[select.value]);
      leaf.op = select.value;
      this.changed();
    });
    return select;
  }

  /** The editor of the leaf's value for ``kind`` (null for none). */
  valueEditor(leaf, field, kind, path, refresh) {
    const t = this.t;
    const set = (value, focusId) => {  // from a select or a checkbox: re-render
      leaf.value = value;
      this.changed(focusId);
    };
    const type = (value) => {  // from an input: keep it in place
      leaf.value = value;
      this.changed(null, refresh);
    };
    if (kind === NONE) return null;
    if (kind.endsWith('_pair')) {
      const base = kind.slice(0, -5);
      const pair = Array.isArray(leaf.value) ? [...leaf.value] : [undefined, undefined];
      const bound = (i, label) => el('div', {class: 'input-group input-group-sm'},
        el('span', {class: 'input-group-text cb-bound'}, label),
        this.scalarInput(pair[i], base, `${this.id(path, 'value')}-${i ? 'high' : 'low'}`, label, (v) => {
          const next = Array.isArray(leaf.value) ? [...leaf.value] : [undefined, undefined];
          next[i] = v;
          type(next.every((x) => x === undefined || x === null) ? undefined : next);
        }));
      return el('div', {class: 'cb-pair'}, bound(0, t.low), bound(1, t.high));
    }
    if (kind === 'option' || kind === 'boolean') {  // a select; true / false for yes / no
      const choices = kind === 'boolean' ? [['true', t.yes], ['false', t.no]]
        : (field.options || []).map((o) => [o.value, pickLabel(o.label, this.lang, o.value)]);
      const current = leaf.value === undefined ? '' : String(leaf.value);
      const select = el('select', {class: 'form-select form-select-sm', id: this.id(path, 'value'),
        'aria-label': t.value},
      el('option', {value: ''}, t.choose),
      choices.map(([v, text]) => el('option', {value: v, selected: v === current}, text)));
      select.addEventListener('change', () => {
        if (select.value === '') set(undefined);
        else set(kind === 'boolean' ? select.value === 'true' : select.value);
      });
      return select;
    }
    if (kind === 'options') return this.checkList(leaf, field, path, set);
    if (kind === 'tokens') return this.tokenInput(leaf, path, type);
    return this.scalarInput(leaf.value, kind, this.id(path, 'value'), t.value, type);
  }

  scalarInput(value, kind, id, label, onChange) {
    const spec = VALUE_KINDS[kind];
    const input = el('input', {class: 'form-control form-control-sm', id, 'aria-label': label,
      autocomplete: 'off', value: value ?? '', ...spec.input});
    const commit = () => {
      const raw = input.value.trim();
      if (raw === '') return onChange(undefined);
      if (['number', 'integer', 'id'].includes(kind)) {
        const n = Number(raw);
        return onChange(Number.isFinite(n) ? n : undefined);
      }
      return onChange(raw);
    };
    input.addEventListener('change', commit);
    commitBeforeTab(input, commit);
    return input;
  }

  checkList(leaf, field, path, set) {
    const chosen = new Set(Array.isArray(leaf.value) ? leaf.value : []);
    const base = this.id(path, 'value');
    const boxes = (field.options || []).map((o, i) => {
      const input = el('input', {class: 'form-check-input', type: 'checkbox', id: `${base}-${i}`,
        value: o.value, checked: chosen.has(o.value)});
      input.addEventListener('change', () => {
        const next = (field.options || []).map((x) => x.value)
          .filter((v) => (v === o.value ? input.checked : chosen.has(v)));
        set(next.length ? next : undefined, input.id);
      });
      return el('div', {class: 'form-check form-check-inline'}, input,
        el('label', {class: 'form-check-label', for: input.id}, pickLabel(o.label, this.lang, o.value)));
    });
    return el('fieldset', {class: 'cb-checks', id: base},
      el('legend', {class: 'visually-hidden'}, this.t.value), boxes);
  }

  /** Words typed and added with Enter or a comma; the chips redraw in place. */
  tokenInput(leaf, path, type) {
    const t = this.t;
    const base = this.id(path, 'value');
    const words = () => (Array.isArray(leaf.value) ? leaf.value : []);
    const input = el('input', {class: 'cb-token-input', id: `${base}-input`, autocomplete: 'off',
      'aria-label': `${t.value}: ${t.token_hint}`, placeholder: t.token_hint});
    const box = el('div', {class: 'cb-tokens', id: base}, input);
    const update = (next) => {
      type(next.length ? next : undefined);
      draw();
    };
    const draw = () => {
      box.querySelectorAll('.cb-token').forEach((chip) => chip.remove());
      words().forEach((word, i) => {
        const drop = el('button', {type: 'button', class: 'btn btn-sm cb-token-remove',
          id: `${base}-remove-${i}`, 'aria-label': format(t.remove_token, {value: word}),
          title: format(t.remove_token, {value: word})}, icon('x'));
        drop.addEventListener('click', () => {
          update(words().filter((_, j) => j !== i));
          input.focus();
        });
        box.insertBefore(el('span', {class: 'cb-token'}, el('span', {}, word), drop), input);
      });
    };
    const add = () => {
      const typed = input.value.split(/[,，]/).map((w) => w.trim()).filter(isText);
      input.value = '';
      const have = words();
      const fresh = typed.filter((w, i) => !have.includes(w) && typed.indexOf(w) === i);
      if (fresh.length) update([...have, ...fresh]);
    };
    input.addEventListener('keydown', (evt) => {
      if (evt.isComposing) return;  // Enter also confirms an IME (pinyin) composition
      if (evt.key === 'Enter' || evt.key === ',' || evt.key === '，') {
        evt.preventDefault();
        add();
      } else if (evt.key === 'Backspace' && input.value === '' && words().length) {
        update(words().slice(0, -1));
      }
    });
    input.addEventListener('change', add);
    commitBeforeTab(input, add);
    draw();
    return box;
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
    if (announce) this.notice = toModel(tree) ? '' : this.t.not_showable;
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
    if (!sameTree(emitTree(this.model, this.fieldOf), this.current)) {
      const model = toModel(this.current);
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

/**
 * Also commit on Tab's keydown, while the focus is still here: a commit made during the blur
 * that follows lets the page's redraw (the builder canvas) take the focus away from where Tab
 * was going. The "change" event that follows finds nothing new.
 */
function commitBeforeTab(input, commit) {
  input.addEventListener('keydown', (evt) => {
    if (evt.key === 'Tab' && !evt.isComposing) commit();
  });
}

/** A value kept across an operator change when the new editor takes the same kind of value. */
function convertValue(value, fromKind, toKind) {
  if (value === undefined || toKind === NONE || fromKind === NONE) return undefined;
  if (fromKind === toKind) return value;
  const list = (k) => k === 'options' || k === 'tokens';
  const base = (k) => ({options: 'option', tokens: 'text'}[k] || k.replace(/_pair$/, ''));
  if (base(fromKind) !== base(toKind)) return undefined;
  if (list(toKind)) return Array.isArray(value) ? value : [value];
  if (toKind.endsWith('_pair')) return Array.isArray(value) ? undefined : [value, undefined];
  if (Array.isArray(value)) return value.find((v) => v !== undefined && v !== null);
  return value;
}
