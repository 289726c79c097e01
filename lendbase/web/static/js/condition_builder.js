// The visual condition builder: edits one JSON condition tree of docs/conditions.md as nested
// boxes of rows, reads it back as one plain-language sentence (zh / en), and offers "Edit as
// JSON" for advanced users. The form builder uses it for visible_when; rules and segments use
// it with the full language. This module is the public entry; the parts live in
// condition_builder/: operators.js (operator tables per field type, value kinds), formula.js
// (light formula check), model.js (scopes, checks, tree <-> model), summary.js (the sentence),
// editors.js (value editors) and view.js (the component).
//
// Incomplete rows (no field, or no valid value yet) stay in the editor with a visible
// "incomplete" marker and are kept out of the emitted tree, so the document only ever holds
// conditions the server (and, for visibility, the browser evaluator) accepts. A related-records
// row with an incomplete row in its "where" is incomplete itself.
//
// new ConditionBuilder(root, options): options
//   value        the condition tree, or undefined / null / {} for none
//   language     'visibility' (default: the core the browser evaluator static/js/conditions.js
//                knows; the form builder) or 'full' (relative dates, multiple choice any / all /
//                none, text matching with case, yes / no tests, another field or a formula as
//                the value, related records; rules, segments, reports)
//   fields       [{key, label: {zh, en} | text, type, options?: [{value, label}],
//                 sensitive?: true}] the fields of the record the condition is about; an
//                encrypted (sensitive) field offers only = / != / in / not_in / empty
//   fieldGroups  full language: related records, one entry per way of relating,
//                 [{form, link, kind: 'reference' | 'subtable', label, linkLabel, fields: [...],
//                   fieldGroups?: [...]}]
//                 - a form with a reference field ``link`` pointing at this form:
//                   {form: 'installment', link: 'customer', kind: 'reference',
//                    label: {zh: '还款计划', en: 'Installment'}, linkLabel: {zh: '客户', en:
//                    'Customer'}, fields: [installment's fields], fieldGroups: [its own]}
//                 - a sub-table ``link`` of this form: {form: <this form>, link: 'contacts',
//                   kind: 'subtable', label: <the sub-table's label>, fields: [its columns]}
//                 written as {"exists" | "count" | "sum" | "min" | "max": {"form", "link",
//                 "field"?, "where"?}}; the "where" is edited over the group's fields.
//                 Entries without ``form`` / ``link`` ({key, label, fields}) are extra fields
//                 shown grouped in the field menu (both languages), keys written as they are:
//                 the server sends the fields of referenced records this way ({key:
//                 'customer', kind: 'lookup', target: 'customer', label: '客户', fields:
//                 [{key: 'customer.rating', label: '客户 › 评级', type: 'select', ...}]}), so
//                 choosing one writes {"field": "customer.rating", ...}; the "compare with
//                 another field" menu and formulas offer them too.
//   lang         'zh' | 'en'
//   strings      the cb_* UI strings without their prefix (builder_views.condition_builder_strings)
//   idPrefix     prefix of the ids of the controls (unique on the page)
//   emptyText    what the summary says with no condition (default strings.empty)
//   limits       {maxDepth, maxLeaves} (default: the server's)
//   onChange     called with the new tree (or undefined) once per user change
//   draft        a previous instance's ``draft``: reused (incomplete rows, JSON view) when its
//                emitted tree equals ``value``
// API: ``value`` (the emitted tree), ``setValue(tree)`` (from outside; no onChange), ``draft``,
// ``summary`` (the sentence); event "condition-change" on root ({detail: {value}}, bubbles).
//
// A page builds ``fields`` and ``fieldGroups`` from the published forms with the server helper
// lendbase.web.condition_fields.related_field_groups(compiled_schema, form_key, lang), which
// returns {"fields": [...], "fieldGroups": [...]} in exactly this shape (sub-tables and forms
// referencing the form, two levels deep; the fields of referenced records; files left out,
// sensitive fields marked):
//
//   const boot = JSON.parse(document.getElementById('boot').textContent);
//   new ConditionBuilder(holder, {language: 'full', fields: boot.fields,
//     fieldGroups: boot.fieldGroups, lang: boot.lang, strings: boot.strings,
//     idPrefix: 'seg', value: segment.where, onChange: (tree) => save(tree)});
//
// describeCondition(tree, {fields, fieldGroups, language, lang, strings}) reads a tree without
// an editor (a list of rules or segments).

export {
  ACCEPTED_OPERATORS, FULL_OPERATORS_BY_TYPE, LIMITS, OPERATORS_BY_TYPE, TYPE_OPERATOR_LABELS,
  VALUE_KINDS, operatorsFor, valueKind,
} from './condition_builder/operators.js';
export {checkFormula} from './condition_builder/formula.js';
export {
  checkCondition, emitTree, leafProblem, makeScope, sameTree, toModel,
} from './condition_builder/model.js';
export {describeCondition, summarizeCondition} from './condition_builder/summary.js';
export {ConditionBuilder} from './condition_builder/view.js';

/** The languages of the builder (the ``language`` option). */
export const LANGUAGES = ['visibility', 'full'];
