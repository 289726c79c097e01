// The value editors of a comparison: literal inputs, option selects and check lists, typed
// word lists, relative dates ("in the last [12] [months]", "this month"), the leaf options
// (match case, include the current period, to date) and, in the full language, the choice
// between a value, another field and a formula. Each takes the builder ``b`` (ids, strings,
// ``b.changed``) and the model node it edits.

import {el, format, icon, pickLabel} from '../builder/dom.js';
import {formulaMessage} from './model.js';
import {
  MAX_RELATIVE, NONE, UNITS, VALUE_KINDS, compareFields, isExpression, isText, optionsFor,
  takesExpression, unitName,
} from './operators.js';
import {periodName} from './summary.js';

/**
 * Also commit on Tab's keydown, while the focus is still here: a commit made during the blur
 * that follows lets the page's redraw (the builder canvas) take the focus away from where Tab
 * was going. The "change" event that follows finds nothing new.
 */
export function commitBeforeTab(input, commit) {
  input.addEventListener('keydown', (evt) => {
    if (evt.key === 'Tab' && !evt.isComposing) commit();
  });
}

/** The editor of ``node``'s value for ``kind`` (null for none). */
export function valueEditor(b, node, field, kind, path, scope) {
  const t = b.t;
  const base = b.id(path, 'value');
  const set = (value, focusId) => {  // from a select or a checkbox: re-render
    node.value = value;
    b.changed(focusId);
  };
  const type = (value) => {  // from an input: keep it in place
    node.value = value;
    b.changed(null, true);
  };
  if (kind === NONE) return null;
  if (kind === 'relative') return relativeEditor(b, node, base);
  if (kind === 'period') return periodEditor(b, node, base);
  const expr = takesExpression(field, node.op, kind, scope.language);
  if (kind.endsWith('_pair')) {
    const baseKind = kind.slice(0, -5);
    const pair = Array.isArray(node.value) ? [...node.value] : [undefined, undefined];
    const bound = (i, label) => {
      const id = `${base}-${i ? 'high' : 'low'}`;
      const update = (v, rerender) => {
        const next = Array.isArray(node.value) ? [...node.value] : [undefined, undefined];
        next[i] = v;
        const value = next.every((x) => x === undefined || x === null) ? undefined : next;
        return rerender ? set(value) : type(value);
      };
      const editor = expr ? operand(b, pair[i], baseKind, field, scope, id, label, update)
        : scalarInput(pair[i], baseKind, id, label, (v) => update(v, false));
      return el('div', {class: 'input-group input-group-sm cb-bound-group'},
        el('span', {class: 'input-group-text cb-bound'}, label), editor);
    };
    return el('div', {class: 'cb-pair'}, bound(0, t.low), bound(1, t.high));
  }
  if (expr) return operand(b, node.value, kind, field, scope, base, t.value, (v, rerender) => (rerender ? set(v) : type(v)));
  if (kind === 'option' || kind === 'boolean') return choiceSelect(b, node.value, kind, field, base, set);
  if (kind === 'options') return checkList(b, node.value, field, base, set);
  if (kind === 'tokens') return tokenInput(b, node, base, type);
  return scalarInput(node.value, kind, base, t.value, type);
}

/** A select of the field's options, or yes / no. */
function choiceSelect(b, value, kind, field, id, set) {
  const t = b.t;
  const choices = kind === 'boolean' ? [['true', t.yes], ['false', t.no]]
    : (field.options || []).map((o) => [o.value, pickLabel(o.label, b.lang, o.value)]);
  const current = value === undefined || isExpression(value) ? '' : String(value);
  const select = el('select', {class: 'form-select form-select-sm', id, 'aria-label': t.value},
    el('option', {value: ''}, t.choose),
    choices.map(([v, text]) => el('option', {value: v, selected: v === current}, text)));
  select.addEventListener('change', () => {
    if (select.value === '') set(undefined);
    else set(kind === 'boolean' ? select.value === 'true' : select.value);
  });
  return select;
}

export function scalarInput(value, kind, id, label, onChange) {
  const spec = VALUE_KINDS[kind];
  const input = el('input', {class: 'form-control form-control-sm', id, 'aria-label': label,
    autocomplete: 'off', value: isExpression(value) ? '' : value ?? '', ...spec.input});
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

function checkList(b, value, field, base, set) {
  const chosen = new Set(Array.isArray(value) ? value : []);
  const boxes = (field.options || []).map((o, i) => {
    const input = el('input', {class: 'form-check-input', type: 'checkbox', id: `${base}-${i}`,
      value: o.value, checked: chosen.has(o.value)});
    input.addEventListener('change', () => {
      const next = (field.options || []).map((x) => x.value)
        .filter((v) => (v === o.value ? input.checked : chosen.has(v)));
      set(next.length ? next : undefined, input.id);
    });
    return el('div', {class: 'form-check form-check-inline'}, input,
      el('label', {class: 'form-check-label', for: input.id}, pickLabel(o.label, b.lang, o.value)));
  });
  return el('fieldset', {class: 'cb-checks', id: base},
    el('legend', {class: 'visually-hidden'}, b.t.value), boxes);
}

/** Words typed and added with Enter or a comma; the chips redraw in place. */
function tokenInput(b, node, base, type) {
  const t = b.t;
  const words = () => (Array.isArray(node.value) ? node.value : []);
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

// --- relative dates --------------------------------------------------------------------------

/** "[12] [months]" for in_last / in_next / more_than_ago: the value [n, unit]. */
function relativeEditor(b, node, base) {
  const t = b.t;
  const [amount, unitText] = Array.isArray(node.value) ? node.value : [undefined, undefined];
  const unit = unitName(unitText) || 'day';
  const n = el('input', {class: 'form-control form-control-sm cb-amount', id: `${base}-n`, type: 'number',
    min: 0, max: MAX_RELATIVE, step: 1, inputmode: 'numeric', autocomplete: 'off', 'aria-label': t.amount,
    value: amount ?? ''});
  const units = el('select', {class: 'form-select form-select-sm cb-unit', id: `${base}-unit`,
    'aria-label': t.unit}, UNITS.map((u) => el('option', {value: u, selected: u === unit}, t[`unit_${u}`])));
  const read = () => {
    const raw = n.value.trim();
    const number = raw === '' ? null : Number(raw);
    return raw === '' ? null : Number.isFinite(number) ? number : null;
  };
  const commit = () => {
    const number = read();
    node.value = number === null ? undefined : [number, units.value];
    b.changed(null, true);
  };
  n.addEventListener('change', commit);
  commitBeforeTab(n, commit);
  units.addEventListener('change', () => {
    const number = read();
    node.value = [number, units.value];
    b.changed();
  });
  return el('div', {class: 'cb-relative'}, n, units);
}

/** "this month", "last quarter"...: in_period's unit and offset in one select. */
function periodEditor(b, node, base) {
  const t = b.t;
  const unit = unitName(node.value);
  const offset = node.options.offset ?? 0;
  const current = unit ? `${unit}|${offset}` : '';
  const choices = UNITS.flatMap((u) => [0, -1, 1].map((o) => [`${u}|${o}`, periodName(u, o, t)]));
  if (unit && !choices.some(([v]) => v === current)) choices.push([current, periodName(unit, offset, t)]);
  const select = el('select', {class: 'form-select form-select-sm cb-period', id: base, 'aria-label': t.period},
    el('option', {value: ''}, t.choose),
    choices.map(([v, text]) => el('option', {value: v, selected: v === current}, text)));
  select.addEventListener('change', () => {
    if (!select.value) {
      node.value = undefined;
      delete node.options.offset;
    } else {
      const [u, o] = select.value.split('|');
      node.value = u;
      if (Number(o) === 0) delete node.options.offset;
      else node.options.offset = Number(o);
    }
    b.changed();
  });
  return select;
}

/** The check boxes of the leaf options that apply to ``node.op`` (full language). */
export function optionToggles(b, node, path) {
  const t = b.t;
  const labels = {case_sensitive: t.case_sensitive, include_current: t.include_current, to_date: t.to_date};
  const defaults = {case_sensitive: false, include_current: true, to_date: false};
  const keys = Object.keys(labels).filter((k) => optionsFor(node.op).includes(k));
  if (!keys.length) return null;
  return el('div', {class: 'cb-row cb-row-wrap cb-options'}, keys.map((key) => {
    const id = b.id(path, key);
    const input = el('input', {class: 'form-check-input', type: 'checkbox', id,
      checked: node.options[key] ?? defaults[key]});
    input.addEventListener('change', () => {
      if (input.checked === defaults[key]) delete node.options[key];
      else node.options[key] = input.checked;
      b.changed(id);
    });
    return el('div', {class: 'form-check form-check-inline m-0'}, input,
      el('label', {class: 'form-check-label', for: id}, labels[key]));
  }));
}

// --- a value, another field or a formula -----------------------------------------------------

const modeOf = (value) => (isExpression(value) ? Object.keys(value)[0] : 'value');

/**
 * A value of ``kind`` for ``field``, or (full language) another field of ``scope`` or a
 * formula, chosen by a small "compare with" select. ``onValue(value, rerender)``.
 */
function operand(b, value, kind, field, scope, id, label, onValue) {
  const t = b.t;
  const mode = modeOf(value);
  const others = compareFields(field, scope.allFields);
  const modes = [['value', t.mode_value], ...(others.length || mode === 'field' ? [['field', t.mode_field]] : []),
    ['formula', t.mode_formula]];
  const modeSelect = el('select', {class: 'form-select form-select-sm cb-value-mode', id: `${id}-mode`,
    'aria-label': format(t.value_mode, {value: label})},
  modes.map(([m, text]) => el('option', {value: m, selected: m === mode}, text)));
  modeSelect.addEventListener('change', () => {
    const next = modeSelect.value;
    onValue(next === 'field' ? {field: ''} : next === 'formula' ? {formula: ''} : undefined, true);
  });
  let editor;
  if (mode === 'field') {
    editor = el('select', {class: 'form-select form-select-sm cb-compare', id, 'aria-label': t.compare_field},
      el('option', {value: ''}, t.choose_field),
      groupedOptions(b, others, scope, value.field));
    editor.addEventListener('change', () => onValue({field: editor.value}, true));
  } else if (mode === 'formula') {
    editor = formulaInput(b, value.formula ?? '', id, scope, (text) => onValue({formula: text}, false));
  } else if (kind === 'option') {
    editor = choiceSelect(b, value, kind, field, id, (v) => onValue(v, true));
  } else {
    editor = scalarInput(value, kind, id, label, (v) => onValue(v, false));
  }
  return el('div', {class: `cb-operand cb-operand-${mode}`}, modeSelect, editor);
}

/**
 * ``fields`` (some of ``scope``'s) as options, under the optgroups of the field menu (this
 * form, then each group such as a referenced record's fields) when ``scope`` has groups.
 */
export function groupedOptions(b, fields, scope, selected) {
  const option = (f) => el('option', {value: f.key, selected: f.key === selected}, pickLabel(f.label, b.lang, f.key));
  const groups = (scope.plainGroups || []).map((g) => [g, g.fields.filter((f) => fields.includes(f))])
    .filter(([, list]) => list.length);
  if (!groups.length) return fields.map(option);
  const grouped = new Set(groups.flatMap(([, list]) => list));
  const own = fields.filter((f) => !grouped.has(f));
  return [own.length ? el('optgroup', {label: pickLabel(scope.label, b.lang, b.t.this_form)}, own.map(option)) : '',
    ...groups.map(([g, list]) => el('optgroup', {label: pickLabel(g.label, b.lang, g.key)}, list.map(option)))];
}

/** A formula typed as text, checked lightly while typing; its field keys one click away. */
function formulaInput(b, text, id, scope, commitText) {
  const t = b.t;
  const input = el('input', {class: 'form-control form-control-sm font-monospace cb-formula', id,
    'aria-label': t.formula, 'aria-describedby': `${id}-error ${id}-hint`, autocomplete: 'off',
    spellcheck: 'false', placeholder: t.formula_placeholder, value: text});
  const error = el('div', {class: 'cb-fx-error', id: `${id}-error`});
  const show = () => {
    const message = input.value.trim() ? formulaMessage(input.value, scope, t) : '';
    error.textContent = message;
    error.hidden = !message;
    input.classList.toggle('is-invalid', Boolean(message));
    input.setAttribute('aria-invalid', String(Boolean(message)));
  };
  const commit = () => commitText(input.value.trim());
  input.addEventListener('input', show);
  input.addEventListener('change', commit);
  commitBeforeTab(input, commit);
  const keyButton = (f) => {
    const button = el('button', {type: 'button', class: 'btn btn-sm btn-light cb-fx-key',
      title: pickLabel(f.label, b.lang, f.key), 'aria-label': format(t.insert_key, {key: f.key,
        label: pickLabel(f.label, b.lang, f.key)})}, f.key);
    button.addEventListener('click', () => {
      const start = input.selectionStart ?? input.value.length;
      const end = input.selectionEnd ?? start;
      input.setRangeText(f.key, start, end, 'end');
      input.focus();
      show();
      commit();
    });
    return button;
  };
  const readable = (list) => list.filter((f) => !f.sensitive);
  const keys = readable(scope.fields).map(keyButton);
  // the groups (a referenced record's fields: dozens of keys each) fold, one by one
  const groups = scope.plainGroups.filter((g) => readable(g.fields).length).map((g) => el('details',
    {class: 'cb-fx-key-group w-100 ms-2'}, el('summary', {}, pickLabel(g.label, b.lang, g.key)),
    el('div', {class: 'cb-fx-key-list'}, readable(g.fields).map(keyButton))));
  show();
  return el('div', {class: 'cb-formula-box'}, input, error,
    el('div', {class: 'form-text cb-fx-hint', id: `${id}-hint`}, t.formula_hint),
    keys.length || groups.length ? el('details', {class: 'cb-fx-keys'}, el('summary', {}, t.formula_keys),
      el('div', {class: 'cb-fx-key-list'}, keys, groups)) : '');
}
