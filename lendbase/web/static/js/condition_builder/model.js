// The condition tree as the editor sees it: scopes (which fields and related records a part of
// the tree may use), the check of a tree against them (what the JSON view reports), the
// editor's model (tree <-> model) and the emitted tree. Pure functions; no DOM.
//
// Model nodes ("not" stands for a {"not": ...} around the node):
//   group    {kind: 'group', op: 'and'|'or', not, children: [node]}
//   leaf     {kind: 'leaf', field, op, value, not, options: {case_sensitive?, include_current?,
//            offset?, to_date?}}
//   related  {kind: 'related', agg: 'exists'|'count'|'sum'|'min'|'max', form, link, field,
//            where: group, op, value, not, options}  (field: sum / min / max; op / value:
//            aggregates)

import {format} from '../builder/dom.js';
import {checkFormula, SYSTEM_KEYS} from './formula.js';
import {
  AGGREGATE_TYPES, AGGREGATES, LEAF_OPTIONS, LIMITS, MAX_RELATIVE, NONE, aggregateField,
  aggregateOperators, compareFields, isExpression, operatorsFor, optionsFor, takesExpression, valueKind,
} from './operators.js';

export const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
export const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** JSON with sorted keys, to compare trees. */
export function canonical(v) {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isObject(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v ?? null);
}
export const sameTree = (a, b) => canonical(a) === canonical(b);

// --- scopes ----------------------------------------------------------------------------------

const relatedKey = (form, link) => `${form}\u0000${link}`;

/**
 * The fields and related records a condition may use at one level: the top of the tree, or
 * the ``where`` of a related-records node (then the related form's fields). ``fieldGroups``
 * entries with ``form`` and ``link`` are related records (full language only); others are
 * extra fields shown grouped in the field menu, their keys written as they are.
 */
export function makeScope({fields = [], fieldGroups = [], language = 'visibility', formulaKeys = [], label} = {}) {
  const usable = (list) => (list || []).filter((f) => f && typeof f.key === 'string'
    && operatorsFor(f, language, true));
  const own = usable(fields);
  const plainGroups = [];
  const related = [];
  for (const g of fieldGroups || []) {
    if (g && g.form && g.link) {
      if (language === 'full') related.push(g);
    } else if (g) {
      plainGroups.push({...g, fields: usable(g.fields)});
    }
  }
  const byKey = new Map();
  for (const f of [...own, ...plainGroups.flatMap((g) => g.fields)]) {
    if (!byKey.has(f.key)) byKey.set(f.key, f);
  }
  const children = new Map();
  return {
    language,
    /** What the field menu calls ``fields`` beside the groups (undefined: "this form"). */
    label,
    fields: own,
    plainGroups,
    related,
    allFields: [...byKey.values()],
    fieldOf: (key) => byKey.get(key) || null,
    relatedOf: (form, link) => related.find((g) => g.form === form && g.link === link) || null,
    /** The scope of the ``where`` of related records ``group`` (sub-table rows relate no further). */
    childScope(group) {
      if (!group) return makeScope({language});
      const key = relatedKey(group.form, group.link);
      if (!children.has(key)) {
        // the link is not offered as a field (it always points here) but formulas may name it
        children.set(key, makeScope({fields: group.fields, language, label: group.label,
          formulaKeys: group.kind === 'subtable' ? ['parent_id', 'seq'] : [group.link],
          fieldGroups: group.kind === 'subtable' ? [] : group.fieldGroups || []}));
      }
      return children.get(key);
    },
    /** How a formula may use ``key``: 'ok', 'secret' (encrypted: refused) or null (unknown). */
    formulaKey(key) {
      const f = byKey.get(key);
      if (f) return f.sensitive ? 'secret' : 'ok';
      return SYSTEM_KEYS.has(key) || formulaKeys.includes(key) ? 'ok' : null;
    },
  };
}

/** A scope from the older ``fieldOf(key)`` option of the exported helpers. */
function scopeOf(ctx) {
  if (ctx.scope) return ctx.scope;
  const fieldOf = ctx.fieldOf || (() => null);
  return {language: 'visibility', fields: [], plainGroups: [], related: [], allFields: [], fieldOf,
    relatedOf: () => null, childScope: () => null, formulaKey: (k) => (fieldOf(k) ? 'ok' : null)};
}

/** An operator as written (the full language also accepts "not in" for "not_in"). */
const normalOp = (op, language) => (language === 'full' && typeof op === 'string'
  ? op.trim().replace(/ +/g, '_') : op);

// --- checking a tree -------------------------------------------------------------------------

/**
 * Problems of ``tree`` as messages (empty when the server and the editor accept it): node
 * shapes, the depth / leaf limits, fields and related records known, operators fitting the
 * field type, values of the right shape. ``ctx``: {scope (or fieldOf), strings, limits}.
 */
export function checkCondition(tree, ctx) {
  const t = ctx.strings;
  const limits = ctx.limits || LIMITS;
  const problems = [];
  const stack = [[tree, 1, scopeOf(ctx)]];
  let leaves = 0;
  while (stack.length && problems.length < 5) {
    const [node, depth, scope] = stack.pop();
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
    const full = scope.language === 'full';
    const agg = full ? AGGREGATES.find((k) => k in node) : undefined;
    if ('and' in node || 'or' in node || 'not' in node) {
      const op = ['and', 'or', 'not'].find((k) => k in node);
      if (extra([op]).length) problems.push(format(t.err_keys, {keys: extra([op]).join(', ')}));
      if (op === 'not') {
        stack.push([node.not, depth + 1, scope]);
      } else if (!Array.isArray(node[op]) || !node[op].length) {
        problems.push(format(t.err_group, {op}));
      } else {
        for (let i = node[op].length - 1; i >= 0; i--) stack.push([node[op][i], depth + 1, scope]);
      }
      continue;
    }
    leaves += 1;
    if (leaves > limits.maxLeaves) {
      problems.push(format(t.err_leaves, {n: limits.maxLeaves}));
      break;
    }
    if (full && 'exists' in node) {
      if (extra(['exists']).length) problems.push(format(t.err_keys, {keys: extra(['exists']).join(', ')}));
      const found = relatedProblems('exists', node.exists, scope, t);
      problems.push(...found.problems);
      if (found.where !== undefined) stack.push([found.where, depth + 1, found.scope]);
    } else if (agg) {
      const found = relatedProblems(agg, node[agg], scope, t);
      problems.push(...found.problems);
      if (found.where !== undefined) stack.push([found.where, depth + 1, found.scope]);
      if (!found.problems.length) {
        const left = aggregateField(agg, found.field);
        if (left) problems.push(...comparisonProblems(node, agg, left, aggregateOperators(left), scope, t, `${agg}`));
      }
    } else if ('field' in node) {
      const field = typeof node.field === 'string' ? scope.fieldOf(node.field) : null;
      const ops = operatorsFor(field, scope.language, true);
      if (!ops) problems.push(format(t.err_field, {field: String(node.field)}));
      else problems.push(...comparisonProblems(node, 'field', field, ops, scope, t, String(node.field)));
    } else if (full && ('formula' in node || 'expr' in node)) {
      problems.push(...freeLeftProblems(node, scope, t));  // valid, but only the JSON view shows it
    } else {
      problems.push(format(full ? t.err_node_full : t.err_node, {keys: keys.join(', ')}));
    }
  }
  return problems;
}

/** The problems of a comparison whose left side (``leftKey``) is ``field`` with ``ops``. */
function comparisonProblems(node, leftKey, field, ops, scope, t, name) {
  const op = normalOp(node.op ?? '=', scope.language);
  const options = scope.language === 'full' ? optionsFor(op) : [];
  const extra = Object.keys(node).filter((k) => ![leftKey, 'op', 'value', ...options].includes(k));
  const out = extra.length ? [format(t.err_keys, {keys: extra.join(', ')})] : [];
  if (!(op in ops)) return [...out, format(t.err_op, {field: name, op: String(op)})];
  for (const option of options) {
    if (option in node && !optionValid(option, node[option])) {
      out.push(format(t.err_option, {option, op}));
    }
  }
  const problem = valueProblem(node.value, op, ops[op], field, scope);
  if (problem === 'need_formula') {
    out.push(format(t.err_formula, {field: name, problem: formulaMessage(formulaOf(node.value), scope, t)}));
  } else if (problem === 'need_compare') {
    out.push(format(t.err_compare_field, {field: name}));
  } else if (problem) {
    const spec = valueKind(ops[op]);
    const need = spec.base ? format(t.need_pair, {need: t[spec.base.need]}) : t[spec.need];
    out.push(format(t.err_value, {field: name, op, need}));
  }
  return out;
}

const formulaOf = (value) => (Array.isArray(value) ? value.find((v) => isObject(v) && 'formula' in v)
  : value)?.formula;

function optionValid(option, value) {
  if (option === 'offset') return Number.isInteger(value) && Math.abs(value) <= MAX_RELATIVE;
  return typeof value === 'boolean';
}

/** A formula's problem as a message: "column 7: a value is expected here". */
export function formulaMessage(text, scope, t) {
  const problem = checkFormula(text, scope.formulaKey);
  if (!problem) return '';
  const keys = scope.allFields.filter((f) => !f.sensitive).map((f) => f.key).slice(0, 12).join(', ');
  return format(t.fx_at, {col: problem.col, problem: format(t[problem.key] || problem.key, {...problem, keys})});
}

/**
 * '' when ``value`` fits ``op`` / ``kind`` on ``field`` in ``scope``, else why not:
 * 'need_value', 'need_compare' (the field to compare with) or 'need_formula'.
 */
export function valueProblem(value, op, kind, field, scope) {
  if (takesExpression(field, op, kind, scope.language)) {
    const base = kind.replace(/_pair$/, '');
    const one = (v) => (isExpression(v) ? expressionProblem(v, field, scope)
      : valueKind(base).valid(v, field) ? '' : 'need_value');
    if (kind.endsWith('_pair')) {
      if (!Array.isArray(value) || value.length !== 2) return 'need_value';
      return one(value[0]) || one(value[1]);
    }
    return one(value);
  }
  return valueKind(kind).valid(value, field) ? '' : 'need_value';
}

function expressionProblem(value, field, scope) {
  if ('field' in value) {
    const other = typeof value.field === 'string' ? scope.fieldOf(value.field) : null;
    return other && compareFields(field, scope.allFields).includes(other) ? '' : 'need_compare';
  }
  if ('formula' in value) return checkFormula(value.formula, scope.formulaKey) ? 'need_formula' : '';
  return isObject(value.expr) ? '' : 'need_value';
}

/** A related-records spec: its problems, the related scope and ``where``, the aggregated field. */
function relatedProblems(name, spec, scope, t) {
  const out = {problems: [], where: undefined, scope: null, field: null};
  if (!isObject(spec)) {
    out.problems.push(format(t.err_related_shape, {node: name}));
    return out;
  }
  const allowed = name === 'exists' || name === 'count' ? ['form', 'link', 'where'] : ['form', 'link', 'where', 'field', 'formula'];
  const extra = Object.keys(spec).filter((k) => !allowed.includes(k));
  if (extra.length) out.problems.push(format(t.err_keys, {keys: extra.join(', ')}));
  const group = scope.relatedOf(spec.form, spec.link);
  if (!group) {
    out.problems.push(format(t.err_related, {form: String(spec.form), link: String(spec.link)}));
    return out;
  }
  out.scope = scope.childScope(group);
  if (spec.where !== undefined && spec.where !== null) out.where = spec.where;
  if (name === 'sum' || name === 'min' || name === 'max') {
    if ('formula' in spec) {
      if (checkFormula(spec.formula, out.scope.formulaKey)) {
        out.problems.push(format(t.err_formula, {field: name, problem: formulaMessage(spec.formula, out.scope, t)}));
      }
      out.field = {key: '', type: 'decimal'};
    } else {
      const field = typeof spec.field === 'string' ? out.scope.fieldOf(spec.field) : null;
      if (!field || !AGGREGATE_TYPES[name].has(field.type)) {
        out.problems.push(format(t.err_agg_field, {agg: name, field: String(spec.field)}));
      }
      out.field = field;
    }
  }
  return out;
}

/** A comparison whose left side is a formula or a parsed expression: the server checks it. */
function freeLeftProblems(node, scope, t) {
  const out = [];
  if ('formula' in node && checkFormula(node.formula, scope.formulaKey)) {
    out.push(format(t.err_formula, {field: 'formula', problem: formulaMessage(node.formula, scope, t)}));
  }
  return out;
}

// --- the editor's model ----------------------------------------------------------------------

export const newGroup = (op = 'and', children = []) => ({kind: 'group', op, not: false, children});
export const newLeaf = () => ({kind: 'leaf', field: '', op: '', value: undefined, not: false, options: {}});
export const newRelated = () => ({kind: 'related', agg: 'exists', form: '', link: '', field: '',
  where: newGroup(), op: '', value: undefined, not: false, options: {}});

const hasParsedExpr = (v) => (Array.isArray(v) ? v.some(hasParsedExpr) : isObject(v) && 'expr' in v);

const pickOptions = (node, op) => Object.fromEntries(optionsFor(op).filter((k) => k in node)
  .map((k) => [k, node[k]]));

function toModelNode(node, scope) {
  if ('not' in node) {
    const inner = toModelNode(node.not, scope);
    if (!inner || inner.not) return null;  // not-of-not: left to the JSON view
    inner.not = true;
    return inner;
  }
  if ('and' in node || 'or' in node) {
    const op = 'and' in node ? 'and' : 'or';
    const children = node[op].map((c) => toModelNode(c, scope));
    return children.includes(null) ? null : newGroup(op, children);
  }
  const agg = scope.language === 'full' ? ['exists', ...AGGREGATES].find((k) => k in node) : undefined;
  if (hasParsedExpr(node.value)) return null;  // {"expr": ...} values: JSON only
  if (agg) {
    const spec = node[agg];
    if ('formula' in spec) return null;  // an aggregated formula: JSON only
    const group = scope.relatedOf(spec.form, spec.link);
    const where = spec.where === undefined || spec.where === null ? newGroup()
      : toModel(spec.where, scope.childScope(group));
    if (!where) return null;
    const op = agg === 'exists' ? '' : normalOp(node.op ?? '=', 'full');
    return {...newRelated(), agg, form: spec.form, link: spec.link, field: spec.field || '', where,
      op, value: clone(node.value), options: agg === 'exists' ? {} : pickOptions(node, op)};
  }
  if (!('field' in node)) return null;  // a formula / expression on the left: JSON only
  const op = normalOp(node.op ?? '=', scope.language);
  return {kind: 'leaf', field: node.field, op, value: clone(node.value), not: false,
    options: scope.language === 'full' ? pickOptions(node, op) : {}};
}

/** The editor model of a checked tree (undefined: empty), or null when it cannot be shown. */
export function toModel(tree, scope) {
  if (tree === undefined) return newGroup();
  const node = toModelNode(tree, scopeOf(isObject(scope) && 'language' in scope ? {scope} : {fieldOf: scope}));
  if (!node) return null;
  return node.kind === 'group' ? node : newGroup('and', [node]);
}

/** The operators of a leaf or an aggregate (with the field they apply to), or null. */
export function comparisonOf(node, scope) {
  if (node.kind === 'leaf') {
    const field = scope.fieldOf(node.field);
    const ops = operatorsFor(field, scope.language, true);
    return ops ? {field, ops} : null;
  }
  if (node.agg === 'exists') return null;
  const group = scope.relatedOf(node.form, node.link);
  const inner = group && node.agg !== 'count' ? scope.childScope(group).fieldOf(node.field) : null;
  const field = group ? aggregateField(node.agg, inner) : null;
  return field ? {field, ops: aggregateOperators(field)} : null;
}

/** '' when ``leaf`` is complete, else why not: 'need_field', 'need_value', 'need_compare', 'need_formula'. */
export function leafProblem(leaf, scopeOrFieldOf) {
  const scope = typeof scopeOrFieldOf === 'function' ? scopeOf({fieldOf: scopeOrFieldOf}) : scopeOrFieldOf;
  const found = comparisonOf(leaf, scope);
  if (!found || !(leaf.op in found.ops)) return 'need_field';
  return valueProblem(leaf.value, leaf.op, found.ops[leaf.op], found.field, scope);
}

/** What a related node lacks itself (its where aside): '' or a 'need_*' key. */
export function relatedOwnProblem(node, scope) {
  const group = scope.relatedOf(node.form, node.link);
  if (!group) return 'need_related';
  if (node.agg === 'exists') return '';
  if (node.agg !== 'count' && !AGGREGATE_TYPES[node.agg]?.has(scope.childScope(group).fieldOf(node.field)?.type)) {
    return 'need_agg_field';
  }
  const found = comparisonOf(node, scope);
  if (!found || !(node.op in found.ops)) return 'need_op';
  return valueProblem(node.value, node.op, found.ops[node.op], found.field, scope);
}

/** '' when a leaf or related node is complete, else the key of what it lacks. */
export function nodeProblem(node, scope) {
  if (node.kind === 'leaf') return leafProblem(node, scope);
  const own = relatedOwnProblem(node, scope);
  if (own) return own;
  const child = scope.childScope(scope.relatedOf(node.form, node.link));
  return countRows(node.where, child, (n, s) => nodeProblem(n, s)) ? 'need_where' : '';
}

/** The rows (leaves and related nodes) of a model passing ``test(node, scope)``, nested ones too. */
export function countRows(node, scope, test = () => true) {
  if (node.kind === 'group') return node.children.reduce((n, c) => n + countRows(c, scope, test), 0);
  if (node.kind === 'leaf') return Number(Boolean(test(node, scope)));
  const group = scope.relatedOf(node.form, node.link);
  const inner = group ? countRows(node.where, scope.childScope(group), test) : 0;
  return inner + Number(Boolean(test(node, scope)));
}

function writeOptions(out, node) {
  for (const [k, v] of Object.entries(node.options || {})) {
    if (optionsFor(node.op).includes(k)) out[k] = v;
  }
  return out;
}

function emitNode(node, scope) {
  let out;
  if (node.kind === 'leaf') {
    if (leafProblem(node, scope)) return undefined;
    out = {field: node.field, op: node.op};
    if (comparisonOf(node, scope).ops[node.op] !== NONE) out.value = clone(node.value);
    writeOptions(out, node);
  } else if (node.kind === 'related') {
    if (nodeProblem(node, scope)) return undefined;
    const spec = {form: node.form, link: node.link};
    if (node.agg !== 'exists' && node.agg !== 'count') spec.field = node.field;
    const where = emitTree(node.where, scope.childScope(scope.relatedOf(node.form, node.link)));
    if (where !== undefined) spec.where = where;
    if (node.agg === 'exists') {
      out = {exists: spec};
    } else {
      out = {[node.agg]: spec, op: node.op};
      if (comparisonOf(node, scope).ops[node.op] !== NONE) out.value = clone(node.value);
      writeOptions(out, node);
    }
  } else {
    const parts = node.children.map((c) => emitNode(c, scope)).filter((c) => c !== undefined);
    if (!parts.length) return undefined;
    out = {[node.op]: parts};
  }
  return node.not ? {not: out} : out;
}

/** The condition tree of the model (undefined when nothing is complete). */
export function emitTree(model, scopeOrFieldOf) {
  const scope = typeof scopeOrFieldOf === 'function' ? scopeOf({fieldOf: scopeOrFieldOf}) : scopeOrFieldOf;
  if (!model.not) {
    const parts = model.children.map((c) => emitNode(c, scope)).filter((c) => c !== undefined);
    if (parts.length === 1) return parts[0];  // a top group of one says nothing
  }
  return emitNode(model, scope);
}

/** The default of leaf option ``k`` (not written into the tree). */
export const optionDefault = (k) => LEAF_OPTIONS[k].default;
