// What a condition may say about a field: the operator tables (one per field type and
// language), the value kinds with their checks, the leaf options of the full language and the
// relative-date units. Pure data and small functions; no DOM.
//
// Two languages:
//   'visibility'  the core that the browser evaluator (static/js/conditions.js) knows; the form
//                 builder's visible_when uses it. Values are literals.
//   'full'        everything docs/conditions.md defines that a business user needs: relative
//                 dates, multiple choice any/all/none, text matching with case, yes/no tests,
//                 field against field and formulas as values, related records.

/** The server's limits (lendbase/conditions/context.py MAX_DEPTH / MAX_LEAVES). */
export const LIMITS = {maxDepth: 20, maxLeaves: 200};
/** Relative dates take at most this many units (bind.MAX_RELATIVE_AMOUNT). */
export const MAX_RELATIVE = 100000;
export const UNITS = ['day', 'week', 'month', 'quarter', 'year'];
const UNIT_ALIASES = {d: 'day', days: 'day', today: 'day', w: 'week', weeks: 'week', m: 'month',
  months: 'month', q: 'quarter', quarters: 'quarter', y: 'year', years: 'year'};

/** The canonical unit of ``text`` ("months" -> "month"), or null (dates.unit_name). */
export function unitName(text) {
  if (typeof text !== 'string') return null;
  const lowered = text.trim().toLowerCase();
  return UNITS.includes(lowered) ? lowered : UNIT_ALIASES[lowered] || null;
}

// --- the operator tables -------------------------------------------------------------------
// type -> {operator -> value editor kind}, in menu order. A kind "<base>_pair" is two <base>
// values [low, high]. Extending the language means adding rows here and, for a new kind of
// value, an entry in VALUE_KINDS (and an editor in editors.js).

export const NONE = 'none';
const EMPTINESS = {is_empty: NONE, is_not_empty: NONE};
const ordered = (kind) => ({'=': kind, '!=': kind, '<': kind, '<=': kind, '>': kind, '>=': kind,
  between: `${kind}_pair`, ...EMPTINESS});
const TEXT_OPS = {'=': 'text', '!=': 'text', contains: 'text', starts_with: 'text', ends_with: 'text',
  in: 'tokens', not_in: 'tokens', ...EMPTINESS};
const ID_OPS = {'=': 'id', '!=': 'id', ...EMPTINESS};
const SELECT_OPS = {'=': 'option', '!=': 'option', in: 'options', not_in: 'options', ...EMPTINESS};

/** The visibility subset (what lib conditions.js evaluates in the browser). */
export const OPERATORS_BY_TYPE = {
  integer: ordered('integer'), decimal: ordered('number'), money: ordered('number'),
  percent: ordered('number'), date: ordered('date'), datetime: ordered('datetime'),
  text: TEXT_OPS, textarea: TEXT_OPS, phone: TEXT_OPS, email: TEXT_OPS, id_number: TEXT_OPS,
  uscc: TEXT_OPS,
  select: SELECT_OPS,
  multiselect: {in: 'options', ...EMPTINESS},
  boolean: {'=': 'boolean'},
  reference: ID_OPS, user: ID_OPS,
  region: {'=': 'text', '!=': 'text', ...EMPTINESS},
};

// Relative dates come first for dates: "in the last 12 months" is what business rules say.
const RELATIVE = {in_last: 'relative', in_next: 'relative', more_than_ago: 'relative',
  in_period: 'period'};

/** The full language (segments, rules, reports): docs/conditions.md. */
export const FULL_OPERATORS_BY_TYPE = {
  integer: ordered('integer'), decimal: ordered('number'), money: ordered('number'),
  percent: ordered('number'),
  date: {...RELATIVE, ...ordered('date')}, datetime: {...RELATIVE, ...ordered('datetime')},
  text: TEXT_OPS, textarea: TEXT_OPS, phone: TEXT_OPS, email: TEXT_OPS, id_number: TEXT_OPS,
  uscc: TEXT_OPS, auto_number: TEXT_OPS,
  select: SELECT_OPS,
  multiselect: {any_of: 'options', all_of: 'options', none_of: 'options', ...EMPTINESS},
  boolean: {is_true: NONE, is_false: NONE, ...EMPTINESS},
  reference: ID_OPS, user: ID_OPS,
  region: {'=': 'text', '!=': 'text', starts_with: 'text', ...EMPTINESS},
};

/** Full-language operators still read from a saved tree but no longer offered in the menu. */
export const ACCEPTED_OPERATORS = {multiselect: {in: 'options'}, boolean: {'=': 'boolean'}};

/**
 * Encrypted fields: equality against literals (through the keyed hash, so only for fields
 * marked ``hashed``: unique or indexed) and emptiness only (docs: "Encrypted").
 */
export const SECRET_OPERATORS = new Set(['=', '!=', 'in', 'not_in', 'is_empty', 'is_not_empty']);
const EMPTINESS_ONLY = new Set(['is_empty', 'is_not_empty']);

/** Operators whose value may be another field or a formula (full language). */
export const EXPRESSION_OPERATORS = new Set(['=', '!=', '<', '<=', '>', '>=', 'between',
  'contains', 'starts_with', 'ends_with']);

/**
 * Leaf options of the full language: the operators each applies to and its default (a value
 * equal to the default is not written into the tree).
 */
export const LEAF_OPTIONS = {
  case_sensitive: {ops: ['contains', 'starts_with', 'ends_with'], default: false},
  include_current: {ops: ['in_last', 'in_next', 'more_than_ago'], default: true},
  offset: {ops: ['in_period'], default: 0},
  to_date: {ops: ['in_period'], default: false},
};
export const optionsFor = (op) => Object.keys(LEAF_OPTIONS).filter((k) => LEAF_OPTIONS[k].ops.includes(op));

/**
 * The operators a field offers ({op: kind}) in ``language``, or null for a type conditions
 * cannot use. ``accepted`` adds the operators only read from saved trees.
 */
export function operatorsFor(field, language = 'visibility', accepted = false) {
  if (!field) return null;
  if (language !== 'full') return OPERATORS_BY_TYPE[field.type] || null;
  const base = FULL_OPERATORS_BY_TYPE[field.type];
  if (!base) return null;
  const ops = accepted ? {...base, ...(ACCEPTED_OPERATORS[field.type] || {})} : base;
  if (!field.sensitive) return ops;
  const allowed = field.hashed ? SECRET_OPERATORS : EMPTINESS_ONLY;
  return Object.fromEntries(Object.entries(ops).filter(([op]) => allowed.has(op)));
}

/** Operators worded per type (string keys without "cb_"); the rest are op_<name>. */
export const TYPE_OPERATOR_LABELS = {multiselect: {in: 'op_has_any'}};
export const SYMBOLS = {'=': '=', '!=': '≠', '<': '<', '<=': '≤', '>': '>', '>=': '≥'};
const SYMBOL_NAMES = {'=': 'eq', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge'};

/** The words of ``op`` for ``field`` in the UI language. */
export const opWord = (field, op, t) => t[TYPE_OPERATOR_LABELS[field?.type]?.[op]
  || `op_${SYMBOL_NAMES[op] || op}`] || op;

// --- comparing fields with fields ------------------------------------------------------------

/** Types whose values compare with each other (bind_expr.unify). */
export const FAMILIES = {
  integer: 'number', decimal: 'number', money: 'number', percent: 'number',
  date: 'date', datetime: 'date',
  text: 'text', textarea: 'text', phone: 'text', email: 'text', id_number: 'text', uscc: 'text',
  region: 'text', select: 'text', auto_number: 'text',
  boolean: 'boolean', reference: 'id', user: 'id',
};
/** Kinds whose value may be an expression, and the family they compare in. */
const SCALAR_KINDS = new Set(['number', 'integer', 'date', 'datetime', 'text', 'option', 'id']);

/** Whether ``op`` on ``field`` may take {"field"} / {"formula"} values in ``language``. */
export function takesExpression(field, op, kind, language) {
  return language === 'full' && Boolean(field) && !field.sensitive && EXPRESSION_OPERATORS.has(op)
    && SCALAR_KINDS.has(String(kind).replace(/_pair$/, ''));
}

/** The fields ``field`` may be compared with: same family, not encrypted, not itself. */
export function compareFields(field, fields) {
  const family = FAMILIES[field?.type];
  if (!family) return [];
  return fields.filter((f) => f.key !== field.key && !f.sensitive && FAMILIES[f.type] === family);
}

// --- value kinds -----------------------------------------------------------------------------

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;
const DATETIME_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
// As predicate._UNSAFE_TEXT: C0 controls but tab / LF / CR, DEL, and lone surrogates.
const UNSAFE_TEXT = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const realDate = (s, day = `${s.slice(0, 10)}T00:00:00Z`) => !Number.isNaN(Date.parse(day))
  && new Date(day).toISOString().startsWith(s.slice(0, 10));  // 2024-02-30 is not a date
export const isText = (v) => typeof v === 'string' && v.trim() !== '' && !UNSAFE_TEXT.test(v);
const optionValues = (f) => (f.options || []).map((o) => o.value);

/**
 * Value kinds: ``valid(value, field)`` says whether a literal is complete and what the server's
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
  // [n, unit]: in_last / in_next / more_than_ago
  relative: {valid: (v) => Array.isArray(v) && v.length === 2 && Number.isInteger(v[0])
    && v[0] >= 0 && v[0] <= MAX_RELATIVE && unitName(v[1]) !== null, need: 'need_relative'},
  // a unit: in_period (the period picked by "offset")
  period: {valid: (v) => unitName(v) !== null, need: 'need_period'},
};

/** The spec of a value kind, pairs included. */
export function valueKind(kind) {
  if (!kind.endsWith('_pair')) return VALUE_KINDS[kind];
  const base = VALUE_KINDS[kind.slice(0, -5)];
  return {valid: (v, f) => Array.isArray(v) && v.length === 2 && v.every((x) => base.valid(x, f)),
    need: 'need_pair', base};
}

/** A value given as {"field": key} or {"formula": text} (or a parsed {"expr"}). */
export const isExpression = (v) => v !== null && typeof v === 'object' && !Array.isArray(v)
  && Object.keys(v).length === 1 && ['field', 'formula', 'expr'].includes(Object.keys(v)[0]);

/** A value kept across an operator change when the new editor takes the same kind of value. */
export function convertValue(value, fromKind, toKind) {
  if (value === undefined || toKind === NONE || fromKind === NONE) return undefined;
  if (fromKind === toKind) return value;
  const list = (k) => k === 'options' || k === 'tokens';
  const base = (k) => ({options: 'option', tokens: 'text'}[k] || k.replace(/_pair$/, ''));
  if (base(fromKind) !== base(toKind)) return undefined;
  if (list(toKind)) {
    const items = (Array.isArray(value) ? value : [value]).filter((v) => v !== undefined && v !== null && !isExpression(v));
    return items.length ? items : undefined;
  }
  if (toKind.endsWith('_pair')) return Array.isArray(value) ? undefined : [value, undefined];
  if (Array.isArray(value)) return value.find((v) => v !== undefined && v !== null);
  return value;
}

// --- related records -----------------------------------------------------------------------

/** Related-records nodes: exists, and the aggregates compared with a value. */
export const AGGREGATES = ['count', 'sum', 'min', 'max'];
/** The field types each aggregate reads ("count" reads none). */
export const AGGREGATE_TYPES = {
  sum: new Set(['integer', 'decimal', 'money', 'percent']),
  min: new Set(['integer', 'decimal', 'money', 'percent', 'date', 'datetime']),
  max: new Set(['integer', 'decimal', 'money', 'percent', 'date', 'datetime']),
};

/**
 * The left side of an aggregate as a field the operator table understands: count is a whole
 * number; sum / min / max have their field's type. Emptiness tests do not apply to a count.
 */
export function aggregateField(agg, field) {
  if (agg === 'count') return {key: '', type: 'integer', noEmpty: true};
  if (!field || !AGGREGATE_TYPES[agg]?.has(field.type)) return null;
  return {key: '', type: field.type};
}

/** Operators of an aggregate comparison. */
export function aggregateOperators(aggField) {
  const ops = operatorsFor(aggField, 'full');
  if (!ops || !aggField.noEmpty) return ops;
  const {is_empty: _e, is_not_empty: _n, ...rest} = ops;
  return rest;
}
