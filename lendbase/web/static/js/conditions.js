// Evaluate a condition tree against one record in the browser.
// The same nodes and operators as lendbase/conditions/predicate.py (the server re-checks
// everything on save): and / or / not, =, !=, <, <=, >, >=, between, in, not_in,
// contains, starts_with, ends_with, is_empty, is_not_empty.

const isEmpty = (v) =>
  v === null || v === undefined || v === "" ||
  (Array.isArray(v) && v.length === 0) ||
  (typeof v === "object" && !Array.isArray(v) && Object.keys(v).length === 0);

const missing = (v) => v === null || v === undefined;

// Python raises TypeError when ordering values of different kinds; the predicate treats that
// as false. Numbers compare with numbers, strings with strings, booleans only by equality.
function comparable(a, b) {
  const ta = typeof a;
  const tb = typeof b;
  if (ta === "number" && tb === "number") return !Number.isNaN(a) && !Number.isNaN(b);
  return ta === tb && (ta === "string" || ta === "boolean");
}

function equal(a, b) {
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => equal(v, b[i]));
  }
  return a === b;
}

const cmp = (fn) => (a, b) => {
  if (missing(a) || missing(b)) return false; // SQL semantics: NULL compares to nothing
  return fn(a, b);
};

const order = (fn) => cmp((a, b) => comparable(a, b) && fn(a, b));

const text = (fn) => (a, b) => {
  if (missing(a) || missing(b)) return false;
  return fn(String(a).toLowerCase(), String(b).toLowerCase());
};

export const OPERATORS = {
  "=": cmp((a, b) => equal(a, b)),
  "!=": cmp((a, b) => !equal(a, b)),
  "<": order((a, b) => a < b),
  "<=": order((a, b) => a <= b),
  ">": order((a, b) => a > b),
  ">=": order((a, b) => a >= b),
  between: cmp((a, b) => Array.isArray(b) && b.length === 2 &&
    comparable(a, b[0]) && comparable(a, b[1]) && b[0] <= a && a <= b[1]),
  in: cmp((a, b) => Array.isArray(b) && b.some((v) => equal(v, a))),
  not_in: cmp((a, b) => Array.isArray(b) && !b.some((v) => equal(v, a))),
  contains: text((a, b) => a.includes(b)),
  starts_with: text((a, b) => a.startsWith(b)),
  ends_with: text((a, b) => a.endsWith(b)),
  is_empty: (a) => isEmpty(a),
  is_not_empty: (a) => !isEmpty(a),
};

const NUMERIC = new Set(["integer", "decimal", "money", "percent", "reference", "user", "file"]);
const TRUE_WORDS = new Set(["true", "1", "yes", "on", "y", "t", "是"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off", "n", "f", "否"]);

/** A literal from the tree as the field's value type (lendbase.forms.values.literal_coercer). */
export function coerceLiteral(type, literal) {
  if (literal === null || literal === undefined) return literal;
  if (NUMERIC.has(type)) {
    if (typeof literal === "boolean") return literal;
    const n = Number(String(literal).replace(/,/g, ""));
    return Number.isNaN(n) ? literal : n;
  }
  if (type === "boolean") {
    if (typeof literal === "boolean") return literal;
    const word = String(literal).trim().toLowerCase();
    if (TRUE_WORDS.has(word)) return true;
    if (FALSE_WORDS.has(word)) return false;
    return literal;
  }
  if (type === "datetime") {
    const t = Date.parse(String(literal));
    return Number.isNaN(t) ? literal : t;
  }
  return literal;
}

/**
 * True when `record` satisfies `node`. `types` maps field keys to field types so that
 * literals compare like for like (a date string with a date, "5" with 5).
 */
export function evaluate(node, record, types = {}) {
  if (node === null || typeof node !== "object" || Object.keys(node).length === 0) {
    throw new Error(`a condition must be a non-empty object, got ${JSON.stringify(node)}`);
  }
  if ("and" in node) return node.and.every((n) => evaluate(n, record, types));
  if ("or" in node) return node.or.some((n) => evaluate(n, record, types));
  if ("not" in node) return !evaluate(node.not, record, types);
  if ("field" in node) {
    const op = node.op ?? "=";
    const fn = OPERATORS[op];
    if (!fn) throw new Error(`operator ${op} is not supported`);
    const type = types[node.field];
    let value = node.value;
    if (value !== null && value !== undefined) {
      value = Array.isArray(value) ? value.map((v) => coerceLiteral(type, v))
        : coerceLiteral(type, value);
    }
    const left = record[node.field] ?? null;
    if (Array.isArray(left) && (op === "=" || op === "in")) { // a multiselect holds any of
      const wanted = Array.isArray(value) ? value : [value];
      return wanted.some((v) => left.some((item) => equal(item, v)));
    }
    return fn(left, value ?? null);
  }
  throw new Error(`unknown condition node with keys ${Object.keys(node).sort().join(", ")}`);
}
