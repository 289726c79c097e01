// The property panel of the selection: a field (or sub-table column), a section, a tab, or the
// form itself. Edits commit on "change", one undo step each. Save errors (located by their JSON
// pointer, see state.locateErrors) are shown under the property they concern.

import Sortable from 'sortablejs';

import {ConditionBuilder} from '../condition_builder.js';
import {el, format, icon, pickLabel} from './dom.js';
import {FormSettings} from './form_settings.js';
import {lifecycleBlock} from './lifecycle_settings.js';
import {isKey} from './state.js';

const NUMBER_TYPES = new Set(['integer', 'decimal', 'money', 'percent']);
const DATE_TYPES = new Set(['date', 'datetime']);
const SENSITIVE_TYPES = new Set(['text', 'phone', 'email', 'id_number', 'uscc']);
const NO_DEFAULT = new Set(['subtable', 'file', 'auto_number', 'computed', 'multiselect']);
const MASKS = ['id_number', 'phone', 'bank_account', 'uscc', 'email', 'name', 'text'];
/** Fields a visible_when cannot test. */
const NOT_IN_CONDITIONS = new Set(['subtable', 'file', 'computed']);
const OTHER = {zh: 'en', en: 'zh'};
/** Under a label whose one language is a copy of the other, by UI language and copied language. */
const COPY_HINTS = {
  en: {en: 'English label copied from Chinese — type an English label',
    zh: 'Chinese label copied from English — type a Chinese label'},
  zh: {en: '英文名称沿用了中文，可在 EN 框中改为英文', zh: '中文名称沿用了英文，可在“中”框中改为中文'},
};

/** Which extra properties each type offers, in panel order. */
const TYPE_PROPS = {
  text: ['min_length', 'max_length', 'pattern', 'unique', 'indexed', 'searchable', 'sensitive'],
  textarea: ['min_length', 'max_length', 'searchable'],
  integer: ['min', 'max', 'unique', 'indexed'],
  decimal: ['min', 'max', 'digits', 'decimals', 'indexed'],
  money: ['min', 'max', 'decimals', 'indexed'],
  percent: ['min', 'max', 'decimals', 'indexed'],
  date: ['min', 'max', 'indexed'],
  datetime: ['min', 'max', 'indexed'],
  boolean: [],
  select: ['options', 'indexed'],
  multiselect: ['options', 'min_items', 'max_items'],
  reference: ['target', 'on_delete', 'indexed'],
  subtable: ['columns', 'min_rows', 'max_rows'],
  user: ['indexed'],
  file: ['max_size_mb', 'accept'],
  phone: ['unique', 'indexed', 'searchable', 'sensitive'],
  email: ['unique', 'indexed', 'searchable', 'sensitive'],
  id_number: ['unique', 'indexed', 'searchable', 'sensitive'],
  uscc: ['unique', 'indexed', 'searchable', 'sensitive'],
  region: ['level', 'indexed'],
  auto_number: ['format'],
  computed: ['formula', 'result_type'],
};

export class PropertyPanel {
  constructor(root, state, strings) {
    this.root = root;
    this.state = state;
    this.t = strings;
    this.sortables = [];
    this.settings = new FormSettings(state, strings, state.boot.roles);
    state.subscribe((_s, source) => {
      if (source !== 'props') this.render();
    });
  }

  // --- inputs ----------------------------------------------------------------------------
  errorsFor(prop) {
    return this.shownErrors.filter((e) => e.prop === prop);
  }

  feedback(prop) {
    const found = this.errorsFor(prop);
    found.forEach((e) => this.placed.add(e));
    return found.map((e) => el('div', {class: 'invalid-feedback d-block', 'data-error-prop': prop}, e.message));
  }

  group(prop, label, control, hint) {
    const invalid = this.errorsFor(prop).length > 0;
    if (invalid) control.classList.add('is-invalid');
    return el('div', {class: 'mb-2 bc-prop', 'data-prop-group': prop},
      el('label', {class: 'form-label small mb-1', for: `prop-${prop}`}, label),
      control, hint ? el('div', {class: 'form-text'}, hint) : '', this.feedback(prop));
  }

  textInput(prop, value, onChange, attrs = {}) {
    const input = el('input', {class: 'form-control form-control-sm', id: `prop-${prop}`,
      'data-prop': prop, value: value ?? '', autocomplete: 'off', ...attrs});
    input.addEventListener('change', () => onChange(input.value.trim(), input));
    return input;
  }

  numberInput(prop, value, onChange, attrs = {}) {
    return this.textInput(prop, value, (raw, input) => {
      if (raw === '') return onChange(undefined);
      const n = Number(raw);
      if (Number.isNaN(n)) {
        input.classList.add('is-invalid');
        return undefined;
      }
      return onChange(n);
    }, {type: 'number', ...attrs});
  }

  check(prop, label, value, onChange) {
    const input = el('input', {class: 'form-check-input', type: 'checkbox', id: `prop-${prop}`,
      'data-prop': prop, checked: Boolean(value)});
    input.addEventListener('change', () => onChange(input.checked ? true : undefined));
    return el('div', {class: 'form-check mb-1 bc-prop', 'data-prop-group': prop}, input,
      el('label', {class: 'form-check-label small', for: `prop-${prop}`}, label), this.feedback(prop));
  }

  selectInput(prop, value, choices, onChange, blank = true) {
    const select = el('select', {class: 'form-select form-select-sm', id: `prop-${prop}`, 'data-prop': prop},
      blank ? el('option', {value: ''}, this.t.none) : '',
      choices.map(([v, text]) => el('option', {value: v, selected: String(value ?? '') === String(v)}, text)));
    select.addEventListener('change', () => onChange(select.value || undefined));
    return select;
  }

  /**
   * A text in both languages: a 中 box and an EN box. For a label, a hint under the pair says
   * when one language is only a copy of the other. For a field's label (``follow``) the other
   * box takes the text as it is typed while state.labelFollows says so (see state.js): the
   * boxes show what is saved, and their values are what is committed.
   */
  i18nPair(prop, label, value, onChange, required = true, follow = false) {
    const st = this.state;
    const boxes = {};
    const hintId = `prop-${prop}-copy-hint`;
    const hint = el('div', {class: 'form-text bc-copy-hint', id: hintId, hidden: true});
    const showHint = () => {
      if (prop !== 'label') return;
      const copied = st.copiedLanguage({zh: boxes.zh.value, en: boxes.en.value},
        follow ? st.typedLangs() : new Set());
      hint.hidden = !copied;
      hint.replaceChildren(...(copied ? [icon('info-circle'), ' ', this.copyHint(copied)] : []));
      for (const lang of ['zh', 'en']) {
        boxes[lang].classList.toggle('bc-label-copy', lang === copied);
        if (lang === copied) boxes[lang].setAttribute('aria-describedby', hintId);
        else boxes[lang].removeAttribute('aria-describedby');
      }
    };
    const make = (lang) => {
      const other = OTHER[lang];
      const input = el('input', {class: 'form-control form-control-sm', id: `prop-${prop}-${lang}`,
        'data-prop': `${prop}.${lang}`, value: (value || {})[lang] || '', lang: lang === 'zh' ? 'zh-CN' : 'en',
        'aria-label': `${label} (${lang})`, placeholder: lang === 'zh' ? '中文' : 'English'});
      input.addEventListener('input', () => {
        if (follow) {
          // the other box shows the copy as it is made (its saved text again when this one is
          // emptied); typing marks this label as the admin's, even if it equals a default
          const saved = st.selectedField()?.label || {};
          if (st.labelFollows(other)) boxes[other].value = input.value.trim() || saved[other] || '';
          st.markLabelTyped(lang);
        }
        showHint();
      });
      input.addEventListener('change', () => {
        const next = follow ? {zh: boxes.zh.value.trim(), en: boxes.en.value.trim()}
          : {...(value || {}), [lang]: input.value.trim()};
        value = next;
        if (!required && !next.zh && !next.en) onChange(undefined);
        else if (!required) {
          const both = {zh: next.zh || next.en, en: next.en || next.zh};  // one language serves both
          for (const l of ['zh', 'en']) boxes[l].value = both[l];  // shown as it is saved
          showHint();
          onChange(both);
        } else onChange({zh: next.zh || '', en: next.en || ''});
      });
      boxes[lang] = input;
      return input;
    };
    const invalid = this.shownErrors.some((e) => e.prop === prop);
    const box = el('div', {class: 'mb-2 bc-prop', 'data-prop-group': prop},
      el('div', {class: 'form-label small mb-1'}, label),
      el('div', {class: 'input-group input-group-sm'}, el('span', {class: 'input-group-text'}, '中'),
        make('zh'), el('span', {class: 'input-group-text'}, 'EN'), make('en')), hint, this.feedback(prop));
    if (invalid) box.querySelectorAll('input').forEach((i) => i.classList.add('is-invalid'));
    showHint();
    return box;
  }

  /** "English label copied from Chinese ..." (``copied``: the language that is a copy). */
  copyHint(copied) {
    return this.t[`label_copied_${copied}`] || (COPY_HINTS[this.state.boot.lang] || COPY_HINTS.en)[copied];
  }

  jsonInput(prop, label, value, onChange, note) {
    const area = el('textarea', {class: 'form-control form-control-sm font-monospace', id: `prop-${prop}`,
      'data-prop': prop, rows: 3, spellcheck: 'false'});
    area.value = value ? JSON.stringify(value) : '';
    const local = el('div', {class: 'invalid-feedback'});
    area.addEventListener('change', () => {
      const raw = area.value.trim();
      if (!raw) {
        area.classList.remove('is-invalid');
        onChange(undefined);
        return;
      }
      try {
        const parsed = JSON.parse(raw);
        area.classList.remove('is-invalid');
        onChange(parsed);
      } catch (err) {
        area.classList.add('is-invalid');
        local.textContent = format(this.t.invalid_json, {error: err.message});
      }
    });
    return this.group(prop, label, el('div', {}, area, local), note);
  }

  /**
   * visible_when as a visual condition builder over the form's own fields (not ``exceptKey``,
   * the field being edited). Each emitted change is one commit. The builder's draft (rows not
   * complete yet, the JSON view) is kept per ``draftKey`` across re-renders of the panel.
   */
  conditionInput(draftKey, value, onChange, exceptKey = null) {
    const st = this.state;
    const cs = st.boot.condition_strings || {};
    this.conditionDrafts = this.conditionDrafts || new Map();
    if (this.liveCondition) this.conditionDrafts.set(this.liveCondition.key, this.liveCondition.builder.draft);
    const fields = st.doc.fields.filter((f) => f.key !== exceptKey && !NOT_IN_CONDITIONS.has(f.type))
      .map(({key, label, type, options}) => ({key, label, type, options}));
    const holder = el('div', {id: 'prop-visible_when', 'data-prop': 'visible_when', role: 'group',
      'aria-labelledby': 'prop-visible_when-label'});
    const builder = new ConditionBuilder(holder, {value, fields, lang: st.boot.lang, strings: cs,
      idPrefix: 'prop-vw', emptyText: cs.always_visible, draft: this.conditionDrafts.get(draftKey), onChange});
    this.liveCondition = {key: draftKey, builder};
    const invalid = this.errorsFor('visible_when').length > 0;
    return el('div', {class: `mb-2 bc-prop bc-condition${invalid ? ' bc-prop-invalid' : ''}`, 'data-prop-group': 'visible_when'},
      el('div', {class: 'form-label small mb-1', id: 'prop-visible_when-label'}, cs.visible_when),
      el('div', {class: 'form-text mt-0 mb-1'}, cs.visible_when_note), holder, this.feedback('visible_when'));
  }

  // --- rendering -------------------------------------------------------------------------
  render() {
    for (const s of this.sortables) s.destroy();
    this.sortables = [];
    this.settings.destroy();
    const st = this.state;
    const sel = st.selection;
    this.placed = new Set();
    let body;
    if (sel.type === 'field' && st.selectedField()) {
      this.shownErrors = st.errors.filter((e) => e.fieldKey === sel.key
        && (e.subKey || null) === (sel.sub || null));
      body = this.fieldPanel(st.selectedField(), Boolean(sel.sub));
    } else if (sel.type === 'section' && st.selectedSection()) {
      this.shownErrors = st.errors.filter((e) => e.section === sel.section && e.tab === sel.tab);
      body = this.sectionPanel(st.selectedSection());
    } else if (sel.type === 'tab' && st.hasTabs && st.tabs()[sel.tab]) {
      this.shownErrors = [];
      body = this.tabPanel(st.tabs()[sel.tab]);
    } else {
      this.shownErrors = st.errors.filter((e) => !e.fieldKey && e.section === null);
      body = this.formPanel();
    }
    const focused = this.root.contains(document.activeElement) ? document.activeElement.id : '';
    const rest = this.shownErrors.filter((e) => !this.placed.has(e));
    const top = rest.length ? el('div', {class: 'alert alert-danger py-2 small', id: 'prop-errors'},
      rest.map((e) => el('div', {}, e.prop ? el('code', {}, e.prop) : '', ' ', e.message))) : '';
    this.root.replaceChildren(el('div', {}, top, body));
    if (focused) document.getElementById(focused)?.focus();
  }

  heading(text, sub) {
    return el('h2', {class: 'h6 bc-pane-title'}, text, sub ? el('code', {class: 'ms-2 small'}, sub) : '');
  }

  fieldPanel(f, isColumn) {
    const st = this.state;
    const t = this.t;
    const set = (prop) => (v) => st.setFieldProp(prop, v);
    const setStructure = (prop) => (v) => st.setFieldProp(prop, v, 'props-structure');
    const parts = [];
    if (isColumn) {
      parts.push(el('button', {type: 'button', class: 'btn btn-sm btn-link px-0 mb-1', id: 'back-to-subtable'},
        icon('arrow-left'), ' ', pickLabel(st.field(st.selection.key).label, st.boot.lang)));
    }
    parts.push(this.heading(`${t[`type_${f.type}`] || f.type}`, f.key));
    parts.push(this.i18nPair('label', t.label, f.label, (v) => {
      const key = st.selectedField()?.key;
      st.setFieldProp('label', v);
      const now = st.selectedField();
      // a new field's key followed its English label: show the new key
      if (now?.key !== key || JSON.stringify(now?.label) !== JSON.stringify(v)) this.render();
    }, true, true));
    parts.push(this.group('key', t.key, this.textInput('key', f.key, (v, input) => {
      if (!isKey(v)) {
        input.classList.add('is-invalid');
        return;
      }
      st.setFieldProp('key', v);
    }, {pattern: '[a-z][a-z0-9_]{0,39}'}), t.key_hint));
    const types = st.boot.field_types.filter((x) => !isColumn || x !== 'subtable');
    parts.push(this.group('type', t.type, this.selectInput('type', f.type,
      types.map((x) => [x, t[`type_${x}`] || x]), (v) => v && setStructure('type')(v), false)));
    parts.push(this.check('required', t.required, f.required, setStructure('required')));
    parts.push(this.check('readonly', t.readonly, f.readonly, set('readonly')));
    // "when is it shown" is asked as often as "is it required": right after it, not last
    parts.push(this.conditionInput(`field:${st.selection.key}/${st.selection.sub || ''}`,
      f.visible_when, set('visible_when'), isColumn ? null : f.key));
    for (const prop of TYPE_PROPS[f.type] || []) parts.push(this.typeProp(prop, f, set, setStructure));
    if (!NO_DEFAULT.has(f.type)) parts.push(this.defaultInput(f, set));
    parts.push(this.i18nPair('help', t.help, f.help, set('help'), false));
    parts.push(el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger mt-2', id: 'delete-selected'},
      icon('trash'), ' ', t.delete));
    const box = el('div', {class: 'bc-props-body', 'data-for': f.key}, parts);
    box.querySelector('#back-to-subtable')?.addEventListener('click', () => st.select({type: 'field', key: st.selection.key, sub: null}));
    box.querySelector('#delete-selected').addEventListener('click', () => st.deleteSelected());
    return box;
  }

  defaultInput(f, set) {
    const t = this.t;
    if (f.type === 'boolean') {
      return this.group('default', t.default, this.selectInput('default',
        f.default === undefined ? '' : String(f.default), [['true', '✓'], ['false', '✗']],
        (v) => set('default')(v === undefined ? undefined : v === 'true')));
    }
    if (f.type === 'select') {
      return this.group('default', t.default, this.selectInput('default', f.default,
        (f.options || []).map((o) => [o.value, pickLabel(o.label, this.state.boot.lang, o.value)]),
        set('default')));
    }
    const numeric = f.type === 'integer';
    return this.group('default', t.default, this.textInput('default', f.default ?? '', (v) => {
      if (v === '') return set('default')(undefined);
      return set('default')(numeric && /^-?\d+$/.test(v) ? Number(v) : v);
    }, DATE_TYPES.has(f.type) ? {type: f.type === 'date' ? 'date' : 'datetime-local'} : {}));
  }

  typeProp(prop, f, set, setStructure) {
    const t = this.t;
    const st = this.state;
    switch (prop) {
      case 'min': case 'max':
        if (DATE_TYPES.has(f.type)) {
          return this.group(prop, t[prop], this.textInput(prop, f[prop], set(prop),
            {type: f.type === 'date' ? 'date' : 'datetime-local'}));
        }
        return this.group(prop, t[prop], this.numberInput(prop, f[prop], set(prop), {step: 'any'}));
      case 'min_length': case 'max_length': case 'decimals': case 'digits': case 'min_items':
      case 'max_items': case 'min_rows': case 'max_rows':
        return this.group(prop, t[prop], this.numberInput(prop, f[prop], set(prop), {min: 0, step: 1}));
      case 'max_size_mb':
        return this.group(prop, t[prop], this.numberInput(prop, f[prop], set(prop), {min: 0, step: 'any'}));
      case 'pattern':
        return el('div', {}, this.group(prop, t.pattern, this.textInput(prop, f.pattern, set(prop),
          {class: 'form-control form-control-sm font-monospace'})),
        f.pattern ? this.i18nPair('pattern_message', `${t.pattern} ✎`, f.pattern_message, set('pattern_message'), false) : '');
      case 'unique': case 'indexed': case 'searchable':
        return this.check(prop, t[prop], f[prop], set(prop));
      case 'sensitive':
        return el('div', {}, this.check(prop, t.sensitive, f.sensitive, setStructure(prop)),
          f.sensitive && SENSITIVE_TYPES.has(f.type)
            ? this.group('mask', t.mask, this.selectInput('mask', f.mask, MASKS.map((m) => [m, t[`mask_${m}`] || m]), set('mask'))) : '');
      case 'target':
        return this.group(prop, t.target, this.selectInput('target', f.target,
          [...st.boot.published_forms.map((p) => [p.key, `${p.label} (${p.key})`]),
            ...(st.boot.published_forms.some((p) => p.key === st.key) ? [] : [[st.key, `${pickLabel(st.doc.label, st.boot.lang)} (${st.key})`]])],
          setStructure(prop)));
      case 'on_delete':
        return this.group(prop, t.on_delete, this.selectInput('on_delete', f.on_delete,
          ['restrict', 'set_null', 'cascade'].map((v) => [v, t[`on_delete_${v}`] || v]), set(prop)));
      case 'level':
        return this.group(prop, t.level, this.selectInput('level', f.level,
          ['province', 'city', 'county'].map((v) => [v, t[`level_${v}`] || v]), set(prop)));
      case 'result_type':
        return this.group(prop, t.result_type, this.selectInput('result_type', f.result_type,
          ['text', 'integer', 'decimal', 'money', 'date', 'boolean'].map((x) => [x, t[`type_${x}`] || x]), set(prop), false));
      case 'format':
        return this.group(prop, t.format, this.textInput(prop, f.format, set(prop), {class: 'form-control form-control-sm font-monospace'}), 'NO-{YYYY}-{SEQ:6}');
      case 'formula':
        return this.group(prop, t.formula, this.textInput(prop, f.formula, set(prop), {class: 'form-control form-control-sm font-monospace'}));
      case 'accept':
        return this.group(prop, t.accept, this.textInput(prop, (f.accept || []).join(', '), (v) => set(prop)(
          v ? v.split(/[,\s]+/).filter(Boolean).map((x) => (x.startsWith('.') ? x : `.${x}`).toLowerCase()) : undefined)));
      case 'options':
        return this.optionsEditor(f);
      case 'columns':
        return this.columnsEditor(f);
      default:
        return '';
    }
  }

  optionsEditor(f) {
    const st = this.state;
    const t = this.t;
    const options = f.options || [];
    // The list as it is now: typing into an option commits without redrawing the panel, so
    // a list captured when the panel was drawn would undo those edits on add / remove / drag.
    const current = () => JSON.parse(JSON.stringify(st.selectedField()?.options || []));
    const update = (next) => st.setFieldProp('options', next.length ? next : undefined, 'props-structure');
    const list = el('div', {class: 'bc-options', id: 'options-editor'});
    options.forEach((o, i) => {
      const input = (name, value, placeholder, lang) => {
        const node = el('input', {class: 'form-control form-control-sm', value: value || '',
          placeholder, 'data-option': i, 'data-part': name, 'aria-label': `${t.options} ${i + 1} ${placeholder}`,
          lang});
        node.addEventListener('change', () => {
          const next = JSON.parse(JSON.stringify(st.selectedField().options));
          if (name === 'value') next[i].value = node.value.trim();
          else next[i].label[name] = node.value.trim();
          st.setFieldProp('options', next);
        });
        return node;
      };
      const remove = el('button', {type: 'button', class: 'btn btn-sm btn-outline-secondary',
        'aria-label': `${t.delete} ${o.value}`, title: t.delete}, icon('x-lg'));
      remove.addEventListener('click', () => update(current().filter((_, j) => j !== i)));
      list.append(el('div', {class: 'bc-option input-group input-group-sm mb-1', 'data-index': i},
        el('span', {class: 'input-group-text bc-handle', title: '⇅'}, icon('grip-vertical')),
        input('value', o.value, t.option_value), input('zh', o.label?.zh, '中文', 'zh-CN'),
        input('en', o.label?.en, 'English', 'en'), remove));
    });
    this.sortables.push(Sortable.create(list, {
      handle: '.bc-handle', animation: 120, forceFallback: true,
      onEnd: () => {
        const order = [...list.querySelectorAll('.bc-option')].map((r) => Number(r.dataset.index));
        const now = current();
        setTimeout(() => update(order.map((i) => now[i])), 0);
      },
    }));
    const add = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary', id: 'add-option'},
      icon('plus-lg'), ' ', t.add_option);
    add.addEventListener('click', () => {
      const now = current();
      const taken = new Set(now.map((o) => o.value));
      let n = now.length + 1;
      while (taken.has(`option_${n}`)) n++;
      update([...now, {value: `option_${n}`, label: {zh: `选项${n}`, en: `Option ${n}`}}]);
    });
    const invalid = this.errorsFor('options').length;
    // column headings over the three inputs of each row (value, Chinese, English)
    const heads = el('div', {class: 'bc-option-heads d-flex small text-body-secondary', 'aria-hidden': 'true'},
      el('span', {class: 'bc-option-head-handle'}), el('span', {class: 'flex-fill'}, t.option_value),
      el('span', {class: 'flex-fill'}, '中文'), el('span', {class: 'flex-fill'}, 'English'),
      el('span', {class: 'bc-option-head-remove'}));
    return el('div', {class: `mb-2 bc-prop${invalid ? ' bc-prop-invalid' : ''}`, 'data-prop-group': 'options'},
      el('div', {class: 'form-label small mb-1'}, t.options), options.length ? heads : '', list, add,
      this.feedback('options'));
  }

  columnsEditor(f) {
    const st = this.state;
    const t = this.t;
    const lang = st.boot.lang;
    const list = el('div', {class: 'bc-columns', id: 'columns-editor'});
    (f.fields || []).forEach((c, i) => {
      const hasError = st.errors.some((e) => e.fieldKey === f.key && e.subKey === c.key);
      const open = el('button', {type: 'button', class: `btn btn-sm ${hasError ? 'btn-outline-danger' : 'btn-outline-secondary'} flex-grow-1 text-start`,
        'data-column': c.key}, pickLabel(c.label, lang, c.key), ' ', el('code', {class: 'small'}, c.key),
      ' · ', t[`type_${c.type}`] || c.type);
      open.addEventListener('click', () => st.select({type: 'field', key: f.key, sub: c.key}));
      list.append(el('div', {class: 'd-flex gap-1 mb-1 bc-column', 'data-index': i},
        el('span', {class: 'btn btn-sm btn-light bc-handle'}, icon('grip-vertical')), open));
    });
    this.sortables.push(Sortable.create(list, {
      handle: '.bc-handle', animation: 120, forceFallback: true,
      onEnd: () => {
        const keys = [...list.querySelectorAll('.bc-column')].map((r) => f.fields[Number(r.dataset.index)].key);
        setTimeout(() => st.reorderSubFields(f.key, keys), 0);
      },
    }));
    const typeSelect = el('select', {class: 'form-select form-select-sm', id: 'new-column-type',
      'aria-label': t.type},
    st.boot.field_types.filter((x) => x !== 'subtable').map((x) => el('option', {value: x}, t[`type_${x}`] || x)));
    const add = el('button', {type: 'button', class: 'btn btn-sm btn-outline-primary', id: 'add-column'},
      icon('plus-lg'), ' ', t.add_column);
    add.addEventListener('click', () => st.addSubField(f.key, typeSelect.value));
    return el('div', {class: 'mb-2 bc-prop', 'data-prop-group': 'fields'},
      el('div', {class: 'form-label small mb-1'}, t.subtable_columns), list,
      el('div', {class: 'input-group input-group-sm'}, typeSelect, add), this.feedback('fields'));
  }

  sectionPanel(section) {
    const st = this.state;
    const t = this.t;
    const set = (prop, source) => (v) => st.setSectionProp(prop, v, source);
    const box = el('div', {class: 'bc-props-body'},
      this.heading(t.section, section.key),
      this.i18nPair('label', t.label, section.label, set('label', 'props'), false),
      this.group('key', t.key, this.textInput('key', section.key, (v, input) => {
        if (!isKey(v)) return input.classList.add('is-invalid');
        return set('key', 'props')(v);
      })),
      this.group('columns', t.columns, this.selectInput('columns', section.columns || 1,
        [[1, '1'], [2, '2'], [3, '3'], [4, '4']], (v) => set('columns', 'props-structure')(v ? Number(v) : undefined), false)),
      this.conditionInput(`section:${st.selection.tab}:${st.selection.section}`, section.visible_when,
        set('visible_when')),
      el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger mt-2', id: 'delete-selected'}, icon('trash'), ' ', t.delete));
    box.querySelector('#delete-selected').addEventListener('click', () => st.deleteSelected());
    return box;
  }

  tabPanel(tab) {
    const st = this.state;
    const t = this.t;
    const set = (prop) => (v) => st.setSectionProp(prop, v, 'props');
    const box = el('div', {class: 'bc-props-body'},
      this.heading(t.tab, tab.key),
      this.i18nPair('label', t.label, tab.label, set('label')),
      this.group('key', t.key, this.textInput('key', tab.key, (v, input) => {
        if (!isKey(v)) return input.classList.add('is-invalid');
        return set('key')(v);
      })),
      el('button', {type: 'button', class: 'btn btn-sm btn-outline-danger mt-2', id: 'delete-selected'}, icon('trash'), ' ', t.delete));
    box.querySelector('#delete-selected').addEventListener('click', () => st.deleteSelected());
    return box;
  }

  formPanel() {
    const st = this.state;
    const t = this.t;
    const doc = st.doc;
    const lang = st.boot.lang;
    return el('div', {class: 'bc-props-body'},
      this.heading(t.form, doc.key),
      el('p', {class: 'small text-body-secondary'}, t.select_hint),
      this.i18nPair('label', t.label, doc.label, (v) => st.setFormProp('label', v)),
      this.group('title_field', t.title_field, this.selectInput('title_field', doc.title_field,
        doc.fields.filter((f) => f.type !== 'subtable').map((f) => [f.key, `${pickLabel(f.label, lang, f.key)} (${f.key})`]),
        (v) => st.setFormProp('title_field', v))),
      this.settings.listBlock(), this.settings.permissionsBlock(), lifecycleBlock(this),
      this.feedback('list'), this.feedback('permissions'));
  }
}
