// The plain-language reading of a condition tree, in zh or en, for every node type of the
// language: groups, comparisons (literals, other fields, formulas), relative dates, multiple
// choice, text matching, yes/no tests and related records ("there is no Installment (linked by
// Customer) where (...)"). Pure functions; the strings are the cb_* catalogue, unprefixed.

import {format, pickLabel} from '../builder/dom.js';
import {formulaWithLabels} from './formula.js';
import {isObject, makeScope} from './model.js';
import {
  AGGREGATES, NONE, SYMBOLS, aggregateField, aggregateOperators, isExpression, operatorsFor, opWord,
  unitName,
} from './operators.js';

/**
 * One sentence reading ``tree`` in ``ctx.lang`` ('' when empty). ctx: {scope (or fieldOf),
 * strings, lang}.
 */
export function summarizeCondition(tree, ctx) {
  if (tree === undefined) return '';
  const scope = ctx.scope || {language: 'visibility', fieldOf: ctx.fieldOf || (() => null),
    relatedOf: () => null, childScope: () => null};
  return sentence(tree, ctx, scope, true);
}

/**
 * The summary of ``tree`` without an editor (a list of rules or segments):
 * ``describeCondition(tree, {fields, fieldGroups, language, lang, strings})``.
 */
export function describeCondition(tree, {fields, fieldGroups, language = 'full', lang = 'zh', strings}) {
  return summarizeCondition(tree, {scope: makeScope({fields, fieldGroups, language}), strings, lang});
}

const normalOp = (op, scope) => (scope.language === 'full' && typeof op === 'string'
  ? op.trim().replace(/ +/g, '_') : op);

function sentence(node, ctx, scope, top) {
  const t = ctx.strings;
  if ('not' in node) {
    if (isObject(node.not) && 'exists' in node.not && scope.language === 'full') {
      return related('sum_not_exists', node.not.exists, ctx, scope);
    }
    return format(t.sum_not, {text: sentence(node.not, ctx, scope, true)});
  }
  if ('and' in node || 'or' in node) {
    const op = 'and' in node ? 'and' : 'or';
    const text = node[op].map((n) => sentence(n, ctx, scope, false)).join(` ${t[op]} `);
    return top || node[op].length === 1 ? text : format(t.paren, {text});
  }
  if (scope.language === 'full' && 'exists' in node) return related('sum_exists', node.exists, ctx, scope);
  const agg = scope.language === 'full' ? AGGREGATES.find((k) => k in node) : undefined;
  if (agg) return aggregate(agg, node, ctx, scope);
  if (!('field' in node)) {  // a formula or parsed expression on the left
    const left = 'formula' in node ? formulaText(node.formula, scope, ctx) : t.expression;
    return comparison(left, node, null, 'number', ctx, scope);
  }
  const field = scope.fieldOf(node.field);
  const name = pickLabel(field?.label, ctx.lang, node.field);
  const op = normalOp(node.op ?? '=', scope);
  const kind = operatorsFor(field, scope.language, true)?.[op] || 'text';
  return comparison(name, node, field, kind, ctx, scope);
}

/** "{left} {op} {value}" for any left side; ``scope`` resolves fields named in the value. */
function comparison(left, node, field, kind, ctx, scope) {
  const t = ctx.strings;
  const op = normalOp(node.op ?? '=', scope);
  const shown = (v) => (isExpression(v) ? expressionText(v, scope, ctx)
    : showValue(v, kind.replace(/_pair$/, ''), field, ctx));
  if (kind === NONE) return `${left} ${opWord(field, op, t)}`;
  if (kind === 'relative') return `${left} ${relativeText(op, node.value, node.include_current !== false, t)}`;
  if (kind === 'period') return `${left} ${periodText(node.value, node.offset || 0, node.to_date === true, t)}`;
  if (kind.endsWith('_pair') && Array.isArray(node.value)) {
    return format(t.sum_between, {field: left, low: shown(node.value[0]), high: shown(node.value[1])});
  }
  const value = Array.isArray(node.value) ? node.value.map(shown).join(t.list_sep) : shown(node.value);
  const text = `${left} ${SYMBOLS[op] || opWord(field, op, t)} ${value}`;
  return node.case_sensitive === true ? `${text}${t.sum_case}` : text;
}

function showValue(v, kind, field, ctx) {
  const t = ctx.strings;
  if (kind === 'option' || kind === 'options') {
    const option = (field?.options || []).find((o) => o.value === v);
    return option ? pickLabel(option.label, ctx.lang, v) : String(v);
  }
  if (kind === 'boolean') return v ? t.yes : t.no;
  if (kind === 'text' || kind === 'tokens') return format(t.quote, {text: v});
  if (kind === 'datetime') return String(v).replace('T', ' ');
  return String(v);
}

const fieldLabel = (key, scope, ctx) => pickLabel(scope.fieldOf(key)?.label, ctx.lang, key);

/** A formula with its field keys read as labels: "0.5 * 授信额度". */
const formulaText = (text, scope, ctx) => formulaWithLabels(text, (key) => (scope.fieldOf(key)
  ? fieldLabel(key, scope, ctx) : key));

function expressionText(v, scope, ctx) {
  if ('field' in v) return fieldLabel(v.field, scope, ctx);
  if ('formula' in v) return formulaText(v.formula, scope, ctx);
  return ctx.strings.expression;
}

/** "12 months" / "12 个月" (the _one form for 1 where the language has one). */
export function amountText(n, unit, t) {
  const one = t[`n_${unit}_one`];
  return format(n === 1 && one ? one : t[`n_${unit}`], {n});
}

/** "in the last 12 months", "在 7 天以前"... (the words after the field). */
export function relativeText(op, value, includeCurrent, t) {
  if (!Array.isArray(value)) return op;
  const unit = unitName(value[1]) || 'day';
  const amount = amountText(value[0], unit, t);
  return format(t[`rel_${op}${includeCurrent ? '' : '_whole'}`] || op,
    {amount, current: t[`period_this_${unit}`]});
}

/** "this month", "上月", "the month 2 months ago" (a period and its offset). */
export function periodName(unitText, offset, t) {
  const unit = unitName(unitText) || 'day';
  if (offset >= -1 && offset <= 1) return t[`period_${['last', 'this', 'next'][offset + 1]}_${unit}`];
  return format(offset < 0 ? t.period_ago : t.period_ahead,
    {amount: amountText(Math.abs(offset), unit, t), unit: t[`unit_name_${unit}`]});
}

function periodText(unit, offset, toDate, t) {
  let period = periodName(unit, offset, t);
  if (toDate) period = format(offset === 0 ? t.to_date_this : t.to_date_other, {period});
  return format(t.rel_in_period, {period});
}

/** "Installment (linked by Customer)" or "Contacts (sub-table)". */
export function relatedLabel(group, ctx) {
  const t = ctx.strings;
  if (!group) return '?';
  const form = pickLabel(group.label, ctx.lang, group.form);
  if (group.kind === 'subtable') return format(t.related_sub, {form});
  return format(t.related_ref, {form, link: pickLabel(group.linkLabel, ctx.lang, group.link)});
}

function relatedParts(spec, ctx, scope) {
  const group = scope.relatedOf(spec.form, spec.link);
  const child = group ? scope.childScope(group) : scope;
  const where = isObject(spec.where) ? format(ctx.strings.sum_where,
    {text: sentence(spec.where, ctx, child, true)}) : '';
  return {group, child, rel: relatedLabel(group, ctx), where};
}

function related(key, spec, ctx, scope) {
  const {rel, where} = relatedParts(spec, ctx, scope);
  return format(ctx.strings[key], {rel, where});
}

function aggregate(agg, node, ctx, scope) {
  const spec = node[agg];
  const {child, rel, where} = relatedParts(spec, ctx, scope);
  const inner = agg === 'count' ? null : spec.field !== undefined ? child.fieldOf(spec.field) : null;
  const fieldName = 'formula' in spec ? formulaText(spec.formula, child, ctx)
    : pickLabel(inner?.label, ctx.lang, spec.field);
  const left = format(ctx.strings[`sum_${agg}`], {rel, where, field: fieldName});
  const aggField = aggregateField(agg, inner) || {key: '', type: 'decimal'};
  const op = normalOp(node.op ?? '=', scope);
  const kind = aggregateOperators(aggField)?.[op] || 'number';
  // the compared value is read on the outer record: its fields are the outer scope's
  return comparison(left, node, aggField, kind, ctx, scope);
}
