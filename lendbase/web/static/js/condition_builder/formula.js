// A light client-side check of the formula syntax (docs/conditions.md "Formulas"), so an admin
// sees a typo while typing; the server's parser (lendbase/conditions/formula.py) has the last
// word and gives the exact error on save. It checks the grammar (one comparison at most, + - *
// /, unary minus, parentheses, calls), text quotes, known functions and their argument counts,
// and that names are fields of the scope (dotted keys, ``customer.credit_limit``, included);
// types are left to the server.

export const MAX_FORMULA_CHARS = 2000;
/** Functions and their [min, max] argument counts (bind_expr.FUNCTIONS); null: no maximum. */
export const FUNCTIONS = {
  IF: [3, 3], AND: [1, null], OR: [1, null], NOT: [1, 1], ROUND: [1, 2], ABS: [1, 1],
  MIN: [1, null], MAX: [1, null], COALESCE: [1, null], TODAY: [0, 0], NOW: [0, 0],
  DATEDIF: [3, 3], YEAR: [1, 1], MONTH: [1, 1], DAY: [1, 1], DATE: [1, 1], DATE_ADD: [3, 3],
  EDATE: [2, 2], LEN: [1, 1], CONCAT: [1, null], ISBLANK: [1, 1],
};
const KEYWORDS = new Set(['TRUE', 'FALSE', 'NULL']);
/** Columns every form has (forms/compile.SYSTEM_COLUMNS). */
export const SYSTEM_KEYS = new Set(['id', 'created_at', 'created_by', 'updated_at', 'updated_by',
  'version', 'owner_id']);
const TOKEN_RE = /\s+|(?<num>[0-9]+(?:\.[0-9]+)?|\.[0-9]+)|(?<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)|(?<str>"(?:[^"]|"")*"|'(?:[^']|'')*')|(?<op><=|>=|<>|!=|==|[-+*/=<>(),])/y;

/** The tokens of ``text``: [{type, text, col}] (col from 1), or {error} at the first bad one. */
export function tokenize(text) {
  const tokens = [];
  let pos = 0;
  while (pos < text.length) {
    TOKEN_RE.lastIndex = pos;
    const m = TOKEN_RE.exec(text);
    if (!m) {
      const ch = text[pos];
      const problem = ch === '"' || ch === "'" ? {key: 'fx_unclosed_text'} : {key: 'fx_bad_char', char: ch};
      return {error: {...problem, col: pos + 1}};
    }
    const type = Object.keys(m.groups).find((k) => m.groups[k] !== undefined);
    if (type) tokens.push({type, text: m[0], col: pos + 1});
    pos = TOKEN_RE.lastIndex;
  }
  return {tokens};
}

const COMPARISONS = new Set(['=', '==', '!=', '<>', '<', '<=', '>', '>=']);

/**
 * null when ``text`` looks like a formula the server can parse over ``knownKey`` (a function
 * key -> 'ok' | 'secret' | null), else a problem {key, col, ...params} for the strings
 * ``cb_<key>``.
 */
export function checkFormula(text, knownKey) {
  if (typeof text !== 'string' || !text.trim()) return {key: 'fx_empty', col: 1};
  if (text.length > MAX_FORMULA_CHARS) return {key: 'fx_too_long', col: MAX_FORMULA_CHARS, n: MAX_FORMULA_CHARS};
  const lexed = tokenize(text);
  if (lexed.error) return lexed.error;
  const tokens = lexed.tokens;
  let i = 0;
  const end = text.length + 1;
  const peek = () => tokens[i];
  const fail = (key, params = {}) => {
    throw Object.assign(new Error(key), {problem: {key, col: peek()?.col ?? end, ...params}});
  };
  const take = (op) => (peek()?.text === op ? tokens[i++] : null);
  // comparison := sum (COMP sum)?   (not chained)
  const comparison = (depth) => {
    sum(depth);
    if (peek() && COMPARISONS.has(peek().text)) {
      i += 1;
      sum(depth);
      if (peek() && COMPARISONS.has(peek().text)) fail('fx_chained');
    }
  };
  const sum = (depth) => {
    product(depth);
    while (peek() && (peek().text === '+' || peek().text === '-')) {
      i += 1;
      product(depth);
    }
  };
  const product = (depth) => {
    unary(depth);
    while (peek() && (peek().text === '*' || peek().text === '/')) {
      i += 1;
      unary(depth);
    }
  };
  const unary = (depth) => {
    if (depth > 40) fail('fx_too_deep');
    if (take('-') || take('+')) return unary(depth + 1);
    return atom(depth);
  };
  const atom = (depth) => {
    const token = peek();
    if (!token) fail('fx_expected_value');
    if (token.type === 'num' || token.type === 'str') {
      i += 1;
      return;
    }
    if (token.type === 'name') {
      i += 1;
      if (take('(')) return call(token, depth);
      if (KEYWORDS.has(token.text.toUpperCase())) return;
      const known = knownKey(token.text);
      if (known === 'secret') fail('fx_secret', {name: token.text});
      if (!known) {
        i -= 1;
        fail('fx_unknown_field', {name: token.text});
      }
      return;
    }
    if (take('(')) {
      comparison(depth + 1);
      if (!take(')')) fail('fx_expected_close');
      return;
    }
    fail('fx_expected_value');
  };
  const call = (nameToken, depth) => {
    const name = nameToken.text.toUpperCase();
    const arity = FUNCTIONS[name];
    if (!arity) throw Object.assign(new Error('fn'), {problem: {key: 'fx_unknown_function', col: nameToken.col, name: nameToken.text}});
    let count = 0;
    if (!take(')')) {
      do {
        comparison(depth + 1);
        count += 1;
      } while (take(','));
      if (!take(')')) fail('fx_expected_close');
    }
    const [low, high] = arity;
    if (count < low || (high !== null && count > high)) {
      const n = high === null ? `${low}+` : low === high ? String(low) : `${low}–${high}`;
      throw Object.assign(new Error('arity'), {problem: {key: 'fx_arity', col: nameToken.col, name, n}});
    }
  };
  try {
    comparison(0);
    if (i < tokens.length) fail('fx_unexpected', {text: tokens[i].text});
  } catch (err) {
    if (err.problem) return err.problem;
    throw err;
  }
  return null;
}

/** ``text`` with the field keys it names replaced by ``label(key)`` (for the summary). */
export function formulaWithLabels(text, label) {
  const lexed = tokenize(String(text));
  if (lexed.error) return String(text);
  const tokens = lexed.tokens;
  return tokens.map((tok, i) => {
    const word = tok.type === 'name' && tokens[i + 1]?.text !== '(' && !KEYWORDS.has(tok.text.toUpperCase())
      ? label(tok.text) : tok.text;
    if (i === 0) return word;
    const before = tokens[i - 1].text;
    const tight = tok.text === ')' || tok.text === ',' || before === '(' || tok.text === '('
      && tokens[i - 1].type === 'name';
    return (tight ? '' : ' ') + word;
  }).join('');
}
