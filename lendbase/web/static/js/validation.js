// Client-side field checks that mirror the server's, message for message.
//
// The server turns each posted string into a field value with lendbase/forms/values.py (and
// the domain checks of lendbase/forms/checks.py), then lendbase/records/validator.py adds
// "required" and the sub-table row counts. This module repeats those rules in the browser so a
// user sees the same text before the post: the message templates are the server's own
// catalogue (lendbase/forms/messages.py, rendered into the page), formatted here the way
// Python's str.format would, including {value!r} (Python's repr of a str). Where the server's
// answer depends on how CPython parses a value (Decimal, date.fromisoformat and
// datetime.fromisoformat of Python 3.11), the parsers below follow CPython's C code, quirks
// included, so that both sides agree on every input; tests/test_client_validation_browser.py
// holds them to that.
//
// Unique values and references (does that record exist, may you see it) need the database:
// they stay server-only, and their errors still land next to their fields after the post.
// Pure: no DOM here (record_form.js reads the inputs and shows the messages).

// --- Python text semantics -------------------------------------------------------------------

// str.isspace() (and re's \s): what str.strip() and str.split() treat as whitespace.
const PY_SPACE = "\t\n\v\f\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004" +
  "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
const isPySpace = (ch) => PY_SPACE.includes(ch);

/** str.strip() */
export function pyStrip(text) {
  const chars = Array.from(text);
  let start = 0;
  let end = chars.length;
  while (start < end && isPySpace(chars[start])) start += 1;
  while (end > start && isPySpace(chars[end - 1])) end -= 1;
  return chars.slice(start, end).join("");
}

/** len(str): code points, not UTF-16 units. */
export const pyLen = (text) => Array.from(text).length;

const NOT_PRINTABLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;
const hex = (n, width) => n.toString(16).padStart(width, "0");

/** repr(str): the quote Python picks, its escapes, and \x/\u/\U for what is not printable. */
export function pyRepr(value) {
  if (typeof value !== "string") return String(value);
  const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of value) {
    const code = ch.codePointAt(0);
    if (ch === quote || ch === "\\") out += `\\${ch}`;
    else if (ch === "\t") out += "\\t";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (code < 0x20 || code === 0x7f) out += `\\x${hex(code, 2)}`;
    else if (code < 0x7f) out += ch;
    else if (ch !== " " && NOT_PRINTABLE.test(ch)) {
      out += code <= 0xff ? `\\x${hex(code, 2)}` : code <= 0xffff ? `\\u${hex(code, 4)}`
        : `\\U${hex(code, 8)}`;
    } else out += ch;
  }
  return out + quote;
}

// Round an exact decimal string (digits, optional point) half to even at `places`.
function roundHalfEven(text, places) {
  const negative = text.startsWith("-");
  const [whole, fraction = ""] = (negative ? text.slice(1) : text).split(".");
  const digits = whole + fraction.padEnd(places + 1, "0");
  const keep = digits.slice(0, whole.length + places);
  const rest = fraction.slice(places);
  let big = BigInt(keep || "0");
  const first = rest.charAt(0) || "0";
  const tail = /[1-9]/.test(rest.slice(1));
  if (first > "5" || (first === "5" && (tail || big % 2n === 1n))) big += 1n;
  let out = big.toString().padStart(places + 1, "0");
  if (places) out = `${out.slice(0, -places)}.${out.slice(-places)}`;
  return (negative ? "-" : "") + out; // Python keeps the sign of a negative zero
}

/** format(x, ".Nf") of a float: the exact binary value, rounded half to even. */
export function formatFixed(x, places) {
  return roundHalfEven(x.toFixed(Math.min(100, places + 60)), places);
}

/** str.format for the catalogue's templates: {name}, {name!r}, {name:.1f}, {{ and }}. */
export function pyFormat(template, params) {
  return template.replace(/\{\{|\}\}|\{(\w+)(?:!([rs]))?(?::([^}]*))?\}/g,
    (whole, name, conversion, spec) => {
      if (whole === "{{") return "{";
      if (whole === "}}") return "}";
      if (!(name in params)) throw new Error(`message parameter ${name} is missing`);
      let value = params[name];
      if (conversion === "r") value = pyRepr(value);
      const fixed = spec && /^\.(\d+)f$/.exec(spec);
      if (fixed && typeof value === "number") return formatFixed(value, Number(fixed[1]));
      if (typeof value === "boolean") return value ? "True" : "False";
      if (value === null || value === undefined) return "None";
      return String(value);
    });
}

/** The catalogue's text for `code`, formatted like lendbase.forms.messages.message. */
export function messageFormatter(catalog) {
  return (code, params = {}) => {
    const template = catalog[code];
    if (template === undefined) throw new Error(`no message ${code} in the catalogue`);
    return pyFormat(template, params);
  };
}

const SURROGATE = /[\ud800-\udfff]/;
const LONE = "[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]";
const LONE_SURROGATES = new RegExp(LONE, "g");
const hasLoneSurrogate = (text) => new RegExp(LONE).test(text);
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

/** values.shown(): a value for a message, cut to `limit` code points with an ellipsis. */
export function shown(value, limit = 40) {
  const text = String(value).replace(LONE_SURROGATES, "\ufffd");
  const chars = Array.from(text);
  return chars.length > limit ? `${chars.slice(0, limit).join("")}…` : text;
}

/** values.text_problem(): lone surrogates, then control characters. */
export function textProblem(text, msg) {
  if (hasLoneSurrogate(text)) return msg("bad_surrogate");
  return CONTROL.test(text) ? msg("control_chars") : null;
}

export function isEmpty(raw) {
  return raw === null || raw === undefined || (Array.isArray(raw) && raw.length === 0) ||
    (typeof raw === "string" && pyStrip(raw) === "");
}

class FieldError extends Error {
  constructor(code, params = {}) {
    super(code);
    this.code = code;
    this.params = params;
  }
}
const fail = (code, params) => new FieldError(code, params);

// --- numbers (decimal.Decimal as CPython's _decimal parses it) ------------------------------

const ND = /\p{Nd}/u;

// Decimal digits (Nd) come in runs of ten, 0 to 9, so a digit's value is its distance from
// the start of its run, modulo ten.
function digitValue(ch) {
  if (!ND.test(ch)) return null;
  const code = ch.codePointAt(0);
  let start = code;
  while (start > 0 && ND.test(String.fromCodePoint(start - 1))) start -= 1;
  return (code - start) % 10;
}

const MAX_ADJUSTED = 999999999999999999n; // _decimal's MAX_EMAX on 64-bit builds
const MIN_EXPONENT = -1999999999999999997n; // its smallest exponent (MIN_ETINY)

/** Decimal(text): {sign, coeff, exp} for a finite number, null for what Decimal refuses and
 *  for infinities and NaNs (the server refuses both alike). */
export function parseDecimal(text) {
  let ascii = "";
  for (const ch of pyStrip(text)) { // whitespace only around the number
    if (ch === "_") continue; // CPython drops underscores wherever they are
    if (isPySpace(ch)) return null;
    if (ch.codePointAt(0) > 127) {
      const digit = digitValue(ch);
      if (digit === null) return null;
      ascii += String(digit);
    } else ascii += ch;
  }
  const match = /^([+-])?(?:(\d+)(?:\.(\d*))?|\.(\d+))(?:[eE]([+-]?\d+))?$/.exec(ascii);
  if (!match) return null;
  const [, sign, whole = "", fractionA, fractionB, exponent = "0"] = match;
  const fraction = fractionA ?? fractionB ?? "";
  const coeff = (whole + fraction).replace(/^0+(?=.)/, "");
  const exp = BigInt(exponent) - BigInt(fraction.length);
  const adjusted = exp + BigInt(coeff.length - 1);
  if (adjusted > MAX_ADJUSTED || exp < MIN_EXPONENT) return null;
  return { sign: sign === "-" ? 1 : 0, coeff, exp };
}

const isZero = (d) => /^0+$/.test(d.coeff);
const adjustedOf = (d) => d.exp + BigInt(d.coeff.length - 1);

/** -1, 0 or 1 as Decimal's comparison would say. */
export function compareDecimal(a, b) {
  const signOf = (d) => (isZero(d) ? 0 : d.sign ? -1 : 1);
  const sa = signOf(a);
  const sb = signOf(b);
  if (sa !== sb) return sa < sb ? -1 : 1;
  if (sa === 0) return 0;
  const low = a.exp < b.exp ? a.exp : b.exp;
  const scaled = (d) => BigInt(d.coeff) * 10n ** (d.exp - low);
  const ma = scaled(a);
  const mb = scaled(b);
  const order = ma === mb ? 0 : ma < mb ? -1 : 1;
  return sa < 0 ? -order : order;
}

const MAX_NUMBER_CHARS = 100;
const MAX_EXPONENT = 100n;
const INT64_MAX = 2n ** 63n - 1n;
const CONTEXT_PRECISION = 28;

// values._decimal(): a finite Decimal of a sane size, or the server's error.
function toDecimal(raw, digits) {
  const text = pyStrip(raw).replaceAll(",", "").replaceAll("，", "");
  if (pyLen(text) > MAX_NUMBER_CHARS) throw fail("too_many_digits", { value: shown(text), digits });
  const number = parseDecimal(text);
  if (number === null) throw fail("not_number", { value: shown(raw) });
  if (!isZero(number) && adjustedOf(number) > MAX_EXPONENT) {
    throw fail("too_many_digits", { value: shown(text), digits });
  }
  if (number.exp < -MAX_EXPONENT) throw fail("not_number", { value: shown(text) });
  return number;
}

function numberBound(text) {
  return text === null || text === undefined ? null : parseDecimal(String(text));
}

function checkBounds(rules, number) {
  const low = numberBound(rules.min);
  const high = numberBound(rules.max);
  if (low && compareDecimal(number, low) < 0) throw fail("below_min", { min: rules.min });
  if (high && compareDecimal(number, high) > 0) throw fail("above_max", { max: rules.max });
}

function coerceInteger(rules, raw) {
  let number;
  try {
    number = toDecimal(raw, 18);
  } catch (error) {
    if (error.code === "too_many_digits") throw error;
    throw fail("not_integer", { value: shown(raw) });
  }
  if (!isZero(number) && adjustedOf(number) >= 19n) {
    throw fail("too_many_digits", { value: shown(raw), digits: 18 });
  }
  if (number.exp < 0n && /[1-9]/.test(number.coeff.slice(Number(number.exp)))) {
    throw fail("not_integer", { value: shown(raw) });
  }
  const magnitude = number.exp >= 0n ? BigInt(number.coeff) * 10n ** number.exp
    : BigInt(number.coeff.slice(0, Number(number.exp)) || "0");
  if (magnitude > INT64_MAX) throw fail("too_many_digits", { value: shown(raw), digits: 18 });
  checkBounds(rules, number);
}

// Round a finite Decimal's coefficient half to even so that its exponent becomes `exp`
// (never lower than its own).
function roundTo(number, exp) {
  if (number.exp >= exp) return number;
  const drop = Number(exp - number.exp);
  const digits = number.coeff.padStart(drop + 1, "0");
  let kept = BigInt(digits.slice(0, -drop));
  const rest = digits.slice(-drop);
  const half = `5${"0".repeat(drop - 1)}`;
  if (rest > half || (rest === half && kept % 2n === 1n)) kept += 1n;
  return { sign: number.sign, coeff: kept.toString(), exp };
}

// Decimal.normalize() in the default context: 28 significant digits, no trailing zeros.
function normalize(number) {
  if (isZero(number)) return { sign: number.sign, coeff: "0", exp: 0n };
  let n = number;
  if (n.coeff.length > CONTEXT_PRECISION) {
    n = roundTo(n, n.exp + BigInt(n.coeff.length - CONTEXT_PRECISION));
  }
  const trimmed = n.coeff.replace(/0+$/, "");
  return { sign: n.sign, coeff: trimmed, exp: n.exp + BigInt(n.coeff.length - trimmed.length) };
}

function coerceDecimal(rules, raw) {
  const decimals = rules.decimals;
  const digits = rules.digits;
  const number = toDecimal(raw, digits);
  const value = shown(raw);
  let places = number.exp < 0n ? Number(-number.exp) : 0;
  if (places > decimals) {
    const trimmed = normalize(number);
    places = trimmed.exp < 0n ? Number(-trimmed.exp) : 0;
    if (places > decimals) throw fail("decimals", { value, places, type: rules.type, decimals });
  }
  if (!isZero(number) && adjustedOf(number) + 1n + BigInt(decimals) > BigInt(digits)) {
    throw fail("too_many_digits", { value, digits });
  }
  // quantize() to `decimals` places, refused beyond the context's precision; then the digits
  const quantized = roundTo(number, BigInt(-decimals));
  const padding = quantized.exp + BigInt(decimals); // zeros quantize appends
  const length = isZero(quantized) ? 1
    : quantized.coeff.replace(/^0+/, "").length + Number(padding > 0n ? padding : 0n);
  if (length > CONTEXT_PRECISION || length > digits) throw fail("too_many_digits", { value, digits });
  checkBounds(rules, quantized);
}

// --- dates (date.fromisoformat / datetime.fromisoformat of CPython 3.11, on UTF-8 bytes) ----

const MIN_YEAR = 1900;
const MAX_YEAR = 2200;
const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const DAYS_BEFORE_MONTH = [0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const isLeap = (y) => y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
const daysIn = (y, m) => (m === 2 && isLeap(y) ? 29 : DAYS_IN_MONTH[m]);
const daysBeforeYear = (y) => {
  const p = y - 1;
  return p * 365 + Math.trunc(p / 4) - Math.trunc(p / 100) + Math.trunc(p / 400);
};
const ymdToOrd = (y, m, d) =>
  daysBeforeYear(y) + DAYS_BEFORE_MONTH[m] + (m > 2 && isLeap(y) ? 1 : 0) + d;

function ordToYmd(ordinal) {
  let n = ordinal - 1;
  const n400 = Math.floor(n / 146097);
  n -= n400 * 146097;
  let year = n400 * 400 + 1;
  const n100 = Math.floor(n / 36524);
  n -= n100 * 36524;
  const n4 = Math.floor(n / 1461);
  n -= n4 * 1461;
  const n1 = Math.floor(n / 365);
  n -= n1 * 365;
  year += n100 * 100 + n4 * 4 + n1;
  if (n1 === 4 || n100 === 4) return [year - 1, 12, 31];
  let month = 1;
  while (month < 12 && DAYS_BEFORE_MONTH[month + 1] + (month + 1 > 2 && isLeap(year)) <= n) {
    month += 1;
  }
  return [year, month, n - DAYS_BEFORE_MONTH[month] - (month > 2 && isLeap(year)) + 1];
}

function isoToYmd(isoYear, week, day) {
  if (isoYear < 1) return null; // CPython ends with an invalid day for year 0
  if (week <= 0 || week >= 53) {
    const first = (ymdToOrd(isoYear, 1, 1) + 6) % 7;
    if (!(week === 53 && (first === 3 || (first === 2 && isLeap(isoYear))))) return null;
  }
  if (day <= 0 || day >= 8) return null;
  const firstDay = ymdToOrd(isoYear, 1, 1);
  const firstWeekday = (firstDay + 6) % 7;
  let monday = firstDay - firstWeekday;
  if (firstWeekday > 3) monday += 7;
  return ordToYmd(monday + (week - 1) * 7 + day - 1);
}

const ENCODER = new TextEncoder();

// The string as CPython's parser sees it: UTF-8 bytes, read past the end as NUL.
function bytesOf(text) {
  const bytes = ENCODER.encode(text);
  return { length: bytes.length, at: (i) => (i >= 0 && i < bytes.length ? bytes[i] : 0) };
}

const ch = (c) => c.charCodeAt(0);

function digitsAt(b, pos, count) {
  let value = 0;
  for (let i = 0; i < count; i += 1) {
    const d = b.at(pos + i) - 48;
    if (d < 0 || d > 9) return null;
    value = value * 10 + d;
  }
  return value;
}

function parseDatePart(b, len) {
  const year = digitsAt(b, 0, 4);
  if (year === null) return null;
  let p = 4;
  const dashed = b.at(p) === ch("-");
  if (dashed) p += 1;
  if (b.at(p) === ch("W")) {
    p += 1;
    const week = digitsAt(b, p, 2);
    if (week === null) return null;
    p += 2;
    let day = 1;
    if (p < len) {
      if (dashed && b.at(p++) !== ch("-")) return null;
      day = digitsAt(b, p, 1);
      if (day === null) return null;
    }
    return isoToYmd(year, week, day);
  }
  const month = digitsAt(b, p, 2);
  if (month === null) return null;
  p += 2;
  if (dashed && b.at(p++) !== ch("-")) return null;
  const day = digitsAt(b, p, 2);
  return day === null ? null : [year, month, day];
}

const validDate = ([y, m, d]) => y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 &&
  d <= daysIn(y, m);

/** date.fromisoformat(text) as [year, month, day], or null where Python raises. */
export function parseIsoDate(text) {
  if (hasLoneSurrogate(text)) return null; // Python cannot encode it: invalid
  const b = bytesOf(text);
  if (![7, 8, 10].includes(b.length)) return null;
  const ymd = parseDatePart(b, b.length);
  return ymd && validDate(ymd) ? ymd : null;
}

const isDigitByte = (c) => c >= 48 && c <= 57;

function separatorAt(b) {
  const len = b.length;
  if (len === 7) return 7;
  if (b.at(4) === ch("-")) {
    if (b.at(5) !== ch("W")) return 10;
    if (len > 8 && b.at(8) === ch("-")) {
      if (len === 9) return Infinity; // CPython passes -1 on, as a huge unsigned length
      return len > 10 && isDigitByte(b.at(10)) ? 8 : 10;
    }
    return 8;
  }
  if (b.at(4) !== ch("W")) return 8;
  let idx = 7;
  while (idx < len && isDigitByte(b.at(idx))) idx += 1;
  if (idx < 9) return idx;
  return idx % 2 === 0 ? 7 : 8;
}

const FRACTION_SCALE = [100000, 10000, 1000, 100, 10];

// parse_hh_mm_ss_ff: {rv, parts}; rv 0 at the end of the string, 1 before more text, < 0 bad.
function parseClock(b, start, end) {
  const parts = [0, 0, 0, 0];
  let p = start;
  let dashed = true;
  let i = 0;
  for (; i < 3; i += 1) {
    const value = digitsAt(b, p, 2);
    if (value === null) return { rv: -3, parts };
    parts[i] = value;
    p += 2;
    const c = b.at(p++);
    if (i === 0) dashed = c === ch(":");
    if (p >= end) return { rv: c !== 0 ? 1 : 0, parts };
    if (dashed && c === ch(":")) continue;
    if (c === ch(".") || c === ch(",")) break;
    if (!dashed) p -= 1;
    else return { rv: -4, parts };
  }
  const remains = end - p;
  const count = Math.min(remains, 6);
  const micro = digitsAt(b, p, count);
  if (micro === null) return { rv: -3, parts };
  parts[3] = count < 6 && count > 0 ? micro * FRACTION_SCALE[count - 1] : micro;
  p += count;
  while (isDigitByte(b.at(p))) p += 1;
  return { rv: b.at(p) !== 0 ? 1 : 0, parts };
}

function parseTimePart(b, start, len) {
  const end = start + len;
  let tz = start;
  do {
    const c = b.at(tz);
    if (c === ch("Z") || c === ch("+") || c === ch("-")) break;
  } while (++tz < end);
  const clock = parseClock(b, start, tz);
  if (clock.rv < 0) return null;
  const [hour, minute, second, micro] = clock.parts;
  const time = { hour, minute, second, micro, offset: null };
  if (tz === end) return clock.rv === 1 ? null : time;
  if (b.at(tz) === ch("Z")) {
    if (b.at(tz + 1) !== 0) return null;
    return { ...time, offset: 0 };
  }
  const sign = b.at(tz) === ch("-") ? -1 : 1;
  const zone = parseClock(b, tz + 1, end);
  if (zone.rv !== 0) return null;
  const [h, m, s, us] = zone.parts;
  return { ...time, offset: sign * ((h * 3600 + m * 60 + s) * 1e6 + us) };
}

/** datetime.fromisoformat(text) as {year, month, day, hour, ...}, or null where Python
 *  raises. */
export function parseIsoDatetime(text) {
  const chars = Array.from(text);
  if (chars.length < 7) return null;
  for (const pos of [7, 8, 10]) { // a lone surrogate is allowed as the separator
    if (pos > chars.length) break;
    if (pos < chars.length && SURROGATE.test(chars[pos])) {
      chars[pos] = "T";
      break;
    }
  }
  const clean = chars.join("");
  if (hasLoneSurrogate(clean)) return null;
  const b = bytesOf(clean);
  const sep = separatorAt(b);
  const ymd = parseDatePart(b, sep);
  if (ymd === null) return null;
  let time = { hour: 0, minute: 0, second: 0, micro: 0, offset: null };
  if (b.length > sep) {
    const lead = b.at(sep);
    const width = (lead & 0x80) === 0 ? 1 : (lead & 0xf0) === 0xe0 ? 3
      : (lead & 0xf0) === 0xf0 ? 4 : 2;
    const start = sep + width;
    time = parseTimePart(b, start, b.length - start);
    if (time === null) return null;
  }
  if (!validDate(ymd) || time.hour > 23 || time.minute > 59 || time.second > 59) return null;
  if (time.offset !== null && Math.abs(time.offset) >= 86400e6) return null;
  const [year, month, day] = ymd;
  return { year, month, day, ...time };
}

const isoOf = ([y, m, d]) => `${String(y).padStart(4, "0")}-${String(m).padStart(2, "0")}-` +
  String(d).padStart(2, "0");

function coerceDate(rules, raw, years) {
  const ymd = parseIsoDate(pyStrip(raw));
  if (ymd === null) throw fail("not_date", { value: shown(raw) });
  if (ymd[0] < years[0] || ymd[0] > years[1]) {
    throw fail("date_range", { value: shown(raw), min: years[0], max: years[1] });
  }
  const iso = isoOf(ymd);
  if (rules.min_date && iso < rules.min_date) throw fail("below_min", { min: rules.min });
  if (rules.max_date && iso > rules.max_date) throw fail("above_max", { max: rules.max });
}

function coerceDatetime(raw, years) {
  let text = pyStrip(raw).replace(" ", "T");
  if (text.endsWith("Z")) text = `${text.slice(0, -1)}+00:00`;
  const parsed = parseIsoDatetime(text);
  if (parsed === null) throw fail("not_datetime", { value: shown(raw) });
  if (parsed.year < years[0] || parsed.year > years[1]) {
    throw fail("date_range", { value: shown(raw), min: years[0], max: years[1] });
  }
}

// --- text -----------------------------------------------------------------------------------

const PATTERNS = new Map();

/** A Python `re` pattern as a JS RegExp for re.fullmatch, or null when it uses syntax that
 *  JS would read differently (then only the server checks it). */
export function compilePattern(source) {
  if (PATTERNS.has(source)) return PATTERNS.get(source);
  let compiled = null;
  try {
    const translated = translatePattern(source);
    compiled = translated === null ? null : new RegExp(`^(?:${translated})$`, "u");
  } catch {
    compiled = null;
  }
  PATTERNS.set(source, compiled);
  return compiled;
}

const SYNTAX = "^$\\.*+?()[]{}|/";

function translatePattern(source) {
  let out = "";
  let inClass = false;
  const chars = Array.from(source);
  for (let i = 0; i < chars.length; i += 1) {
    const c = chars[i];
    if (c === "[" && !inClass) {
      inClass = true;
      out += c;
      if (chars[i + 1] === "^") out += chars[++i];
      if (chars[i + 1] === "]") return null; // Python: a literal ], JS: an empty class
      continue;
    }
    if (c === "]" && inClass) {
      inClass = false;
      out += c;
      continue;
    }
    if (c === "(" && chars[i + 1] === "?" && !inClass) {
      const rest = chars.slice(i + 2, i + 4).join("");
      if (rest === "P<") {
        out += "(?<";
        i += 3;
        continue;
      }
      if (!/^[:=!<]/.test(rest)) return null; // inline flags, (?P=...), comments...
    }
    if (c !== "\\") {
      out += c;
      continue;
    }
    const e = chars[++i];
    if (e === undefined) return null;
    if (e === "d") out += "\\p{Nd}";
    else if (e === "D") {
      if (inClass) return null;
      out += "\\P{Nd}";
    } else if (e === "w") out += inClass ? "\\p{L}\\p{N}_" : "[\\p{L}\\p{N}_]";
    else if (e === "W") {
      if (inClass) return null;
      out += "[^\\p{L}\\p{N}_]";
    } else if (e === "s") out += inClass ? PY_SPACE_CLASS : `[${PY_SPACE_CLASS}]`;
    else if (e === "S") {
      if (inClass) return null;
      out += `[^${PY_SPACE_CLASS}]`;
    } else if (e === "A" && !inClass) out += "^";
    else if (e === "Z" && !inClass) out += "$";
    else if ("ntrfv".includes(e)) out += `\\${e}`;
    else if (e === "x" || e === "u") {
      const width = e === "x" ? 2 : 4;
      const code = chars.slice(i + 1, i + 1 + width).join("");
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(code)) return null;
      out += `\\u{${code}}`;
      i += width;
    } else if (e === "U") {
      const code = chars.slice(i + 1, i + 9).join("");
      if (!/^[0-9a-fA-F]{8}$/.test(code)) return null;
      out += `\\u{${code.replace(/^0+(?=.)/, "")}}`;
      i += 8;
    } else if (/[1-9]/.test(e) && !inClass) out += `\\${e}`;
    else if (/[a-zA-Z0-9]/.test(e)) return null; // \b, \N{...}, octal...: not the same in JS
    else if (SYNTAX.includes(e) || (inClass && e === "-")) out += `\\${e}`;
    else out += `\\u{${e.codePointAt(0).toString(16)}}`;
  }
  return inClass ? null : out;
}

const PY_SPACE_CLASS = Array.from(PY_SPACE)
  .map((c) => `\\u{${c.codePointAt(0).toString(16)}}`).join("");

function coerceText(rules, raw, msg) {
  const text = pyStrip(raw);
  const problem = textProblem(text, msg);
  if (problem) throw new FieldError(null, { text: problem });
  const length = pyLen(text);
  if (rules.max_length && length > rules.max_length) {
    throw fail("too_long", { length, max: rules.max_length });
  }
  if (rules.min_length && length < rules.min_length) {
    throw fail("too_short", { length, min: rules.min_length });
  }
  if (rules.pattern) {
    const pattern = compilePattern(rules.pattern);
    if (pattern && !pattern.test(text)) {
      if (rules.pattern_message) throw new FieldError(null, { text: rules.pattern_message });
      throw fail("pattern", { value: shown(text) });
    }
  }
}

// --- identity, company and contact checks (lendbase/forms/checks.py) ------------------------

const squash = (value) => Array.from(value.normalize("NFKC")).filter((c) => !isPySpace(c))
  .join("");

export const normalizeIdNumber = (value) => squash(value).toUpperCase();
export const normalizeUscc = (value) => squash(value).toUpperCase();

const ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK_CHARS = "10X98765432";
const ID_PROVINCES = new Set(("11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 " +
  "50 51 52 53 54 61 62 63 64 65 71 81 82 83").split(" "));

function localToday() {
  const now = new Date();
  return [now.getFullYear(), now.getMonth() + 1, now.getDate()];
}

export function checkIdNumber(value, today = localToday()) {
  const number = normalizeIdNumber(value);
  const chars = Array.from(number);
  if (!chars.length) return "ID number is empty: enter the 18-character resident ID number";
  if (chars.length !== 18) {
    const hint = chars.length === 15 ? "15-digit first-generation numbers are no longer accepted"
      : "re-check for missing or extra digits";
    return `ID number has ${chars.length} characters, expected 18: ${hint}`;
  }
  if (!/^[0-9]{17}[0-9X]$/.test(number)) {
    const bad = chars.find((c, i) => !(i === 17 ? "0123456789X" : "0123456789").includes(c));
    return "ID number may contain only digits, with X allowed as the last character: " +
      `remove or correct ${pyRepr(bad ?? "")}`;
  }
  if (!ID_PROVINCES.has(number.slice(0, 2))) {
    return `ID number starts with ${number.slice(0, 2)}, which is not a province code: ` +
      "re-check the first two digits";
  }
  const digits = number.slice(6, 14);
  const born = [Number(digits.slice(0, 4)), Number(digits.slice(4, 6)), Number(digits.slice(6))];
  const where = "re-check characters 7-14 (YYYYMMDD)";
  if (!validDate(born)) return `ID number birth date ${digits} is not a real date: ${where}`;
  if (isoOf(born) < "1900-01-01") return `ID number birth date ${digits} is before 1900: ${where}`;
  if (isoOf(born) > isoOf(today)) {
    return `ID number birth date ${digits} is in the future: ${where}`;
  }
  const total = ID_WEIGHTS.reduce((sum, w, i) => sum + Number(number[i]) * w, 0);
  const expected = ID_CHECK_CHARS[total % 11];
  if (number[17] !== expected) {
    return `ID number check character should be ${expected}, got ${number[17]}: ` +
      "re-check every digit, a typo anywhere changes it";
  }
  return null;
}

const USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_LOOKALIKES = { I: "1", O: "0", Z: "2", S: "5" };

export function checkUscc(value) {
  const code = normalizeUscc(value);
  const chars = Array.from(code);
  if (!chars.length) {
    return "credit code is empty: enter the 18-character unified social credit code";
  }
  if (chars.length !== 18) {
    return `credit code has ${chars.length} characters, expected 18: ` +
      "re-check for missing or extra characters";
  }
  const bad = chars.find((c) => !USCC_ALPHABET.includes(c));
  if (bad !== undefined) {
    const lookalike = USCC_LOOKALIKES[bad];
    const fix = lookalike ? `did you mean ${lookalike}?` : "re-check that character";
    return `credit code contains ${pyRepr(bad)}, which these codes never use ` +
      `(only digits and ${USCC_ALPHABET.slice(10)}): ${fix}`;
  }
  let total = 0;
  for (let i = 0; i < 17; i += 1) total += USCC_ALPHABET.indexOf(code[i]) * ((3 ** i) % 31);
  const expected = USCC_ALPHABET[(31 - (total % 31)) % 31];
  if (code[17] !== expected) {
    return `credit code check character should be ${expected}, got ${code[17]}: ` +
      "re-check every character, a typo anywhere changes it";
  }
  return null;
}

export function normalizeMobile(value) {
  const number = Array.from(value.normalize("NFKC"))
    .filter((c) => !isPySpace(c) && !"-()".includes(c)).join("");
  for (const prefix of ["+86", "0086"]) {
    if (number.startsWith(prefix)) return number.slice(prefix.length);
  }
  if (number.startsWith("86") && pyLen(number) === 13) return number.slice(2);
  return number;
}

export function checkMobile(value) {
  const number = normalizeMobile(value);
  const chars = Array.from(number);
  if (!chars.length) return "mobile number is empty: enter the 11-digit mobile number";
  const bad = chars.find((c) => !"0123456789".includes(c));
  if (bad !== undefined) {
    return `mobile number contains ${pyRepr(bad)}: use digits only, optionally with ` +
      "spaces, dashes and a +86 prefix";
  }
  if (chars.length !== 11) {
    return `mobile number has ${chars.length} digits, expected 11: ` +
      "re-check for missing or extra digits";
  }
  if (!/^1[3-9][0-9]{9}$/.test(number)) {
    return `mobile number starts with ${number.slice(0, 2)}: mainland mobile numbers start ` +
      "with 13-19, re-check the first digits";
  }
  return null;
}

export function normalizeEmail(value) {
  const address = pyStrip(value.normalize("NFKC"));
  const at = address.lastIndexOf("@");
  return at < 0 ? address : address.slice(0, at + 1) + address.slice(at + 1).toLowerCase();
}

export function checkEmail(value) {
  const address = normalizeEmail(value);
  const length = pyLen(address);
  if (!length) return "e-mail address is empty: enter an address like name@example.com";
  if (length > 254) {
    return `e-mail address has ${length} characters, at most 254 are allowed: re-check it`;
  }
  if (Array.from(address).some(isPySpace)) return "e-mail address contains a space: remove it";
  const ats = address.split("@").length - 1;
  if (ats !== 1) {
    return `e-mail address has ${ats} @ signs, expected exactly one: ` +
      "use the form name@example.com";
  }
  const [local, domain] = address.split("@");
  if (!local) return "e-mail address has nothing before the @: add the mailbox name";
  const labels = domain.split(".");
  if (labels.length < 2 || !labels.every(Boolean)) {
    return `e-mail domain ${pyRepr(domain)} is not a domain name like example.com: ` +
      "re-check the part after the @";
  }
  return null;
}

const CHECKED = {
  phone: [(v) => normalizeMobile(v), checkMobile],
  email: [(v) => normalizeEmail(v), checkEmail],
  id_number: [(v) => normalizeIdNumber(v), (v, today) => checkIdNumber(v, today)],
  uscc: [(v) => normalizeUscc(v), checkUscc],
};

// --- one field --------------------------------------------------------------------------------

function coerce(rules, raw, msg, options) {
  const t = rules.type;
  if (t === "text" || t === "textarea") coerceText(rules, raw, msg);
  else if (t === "integer") coerceInteger(rules, raw);
  else if (t === "decimal" || t === "money" || t === "percent") coerceDecimal(rules, raw);
  else if (t === "date") coerceDate(rules, raw, options.years);
  else if (t === "datetime") coerceDatetime(raw, options.years);
  else if (t === "multiselect") {
    const chosen = [...new Set(raw)];
    if (rules.min_items != null && chosen.length < rules.min_items) {
      throw fail("too_few_items", { min: rules.min_items });
    }
    if (rules.max_items != null && chosen.length > rules.max_items) {
      throw fail("too_many_items", { max: rules.max_items });
    }
  } else if (t in CHECKED) {
    const problem = textProblem(raw, msg);
    if (problem) throw new FieldError(null, { text: problem });
    const [normalize, check] = CHECKED[t];
    const detail = check(normalize(raw), options.today);
    if (detail) throw fail(t, { detail });
  }
}

/**
 * The server's message for one field's posted value, or null when the browser finds nothing
 * wrong. `raw` is what the form would post (a string, a list for multiselects, null when the
 * input sends nothing); `rules` come from lendbase.web.widgets.client_rules. Options: `years`
 * ([min, max] of dates), `today` ([y, m, d], for ID numbers' birth dates).
 */
export function fieldError(rules, raw, msg, options = {}) {
  const opts = { years: [MIN_YEAR, MAX_YEAR], ...options };
  if (isEmpty(raw)) return rules.required ? msg("required") : null;
  try {
    coerce(rules, raw, msg, opts);
  } catch (error) {
    if (!(error instanceof FieldError)) throw error;
    return error.code === null ? error.params.text : msg(error.code, error.params);
  }
  return null;
}

/** The sub-table's own error for `count` rows (too few, too many), or null. */
export function rowsError(rules, count, msg) {
  if (rules.min_rows != null && count < rules.min_rows) {
    return msg("too_few_rows", { min: rules.min_rows });
  }
  if (rules.max_rows != null && count > rules.max_rows) {
    return msg("too_many_rows", { max: rules.max_rows });
  }
  return null;
}

// --- files (lendbase/records/files.py) --------------------------------------------------------

const FILENAME_CONTROL = /[\x00-\x1f\x7f-\x9f\u2028\u2029]/g;

/** Path(name).suffix */
function suffixOf(name) {
  const base = name.slice(name.lastIndexOf("/") + 1);
  const dot = base.lastIndexOf(".");
  return dot > 0 && dot < base.length - 1 ? base.slice(dot) : "";
}

/** Whether the field's accept list takes this file (records.files.is_allowed_type). */
export function isAllowedType(accept, filename, contentType) {
  if (!accept || !accept.length) return true;
  const ext = suffixOf(filename).toLowerCase();
  const [cMajor, cMinor = ""] = splitOnce(contentType.toLowerCase(), "/");
  return accept.some((raw) => {
    const rule = pyStrip(raw).toLowerCase();
    if (rule.startsWith(".") && ext === rule) return true;
    if (!rule.includes("/")) return false;
    const [major, minor] = splitOnce(rule, "/");
    return major === cMajor && (minor === "*" || minor === cMinor);
  });
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

const MIB = 1024 * 1024;

/**
 * The server's refusal of a chosen file before it is sent, or null. `rules.max_bytes` and
 * `rules.max_mb` are the field's limit as FileStore applies it; `limits.request_max_bytes`
 * is the platform's cap on a whole request (then the platform's limit is named).
 */
export function fileError(rules, file, msg, limits = {}) {
  const name = pyStrip(file.name.replace(FILENAME_CONTROL, "")) || "file";
  const type = file.type || "application/octet-stream"; // what the browser declares
  if (!isAllowedType(rules.accept, name, type)) {
    return msg("file_type", { ext: suffixOf(name).toLowerCase() || "?",
      accept: rules.accept.join(", ") });
  }
  if (rules.max_bytes && file.size > rules.max_bytes) {
    return msg("file_size", { size_mb: file.size / MIB, max_mb: rules.max_mb });
  }
  if (limits.request_max_bytes && file.size > limits.request_max_bytes) {
    return msg("file_size", { size_mb: file.size / MIB, max_mb: limits.platform_max_mb });
  }
  return null;
}
