// The on-enter / on-leave actions of a segment. Segments run the rule engine's actions, so they
// are edited with the rule editor's visual actions editor (../rules/actions.js): one instance
// per list, its element ids prefixed ("on-enter" -> #on-enter-add-action,
// #on-enter-action-0-first) and its data-pointer attributes under the list's JSON pointer
// (/on_enter/0/tag), so the server's errors land next to the right control. "Edit as JSON"
// swaps the cards for the list as a JSON array (with a live syntax check) and back.

import {el, format, icon} from '../builder/dom.js';
import {ActionsEditor} from '../rules/actions.js';

export class SegmentActions {
  /**
   * root: an empty element; name: 'on_enter' | 'on_leave' (the document's key and the JSON
   * pointer of its errors); ctx: the actions editor's {boot, t, form(), templates()};
   * strings: the builder's (``actions_*``) and jsonStrings {edit_json, edit_visual};
   * onChange(actions | undefined) on every valid edit.
   */
  constructor(root, {name, title, value, ctx, strings, jsonStrings, onChange}) {
    this.t = strings;
    this.jsonT = jsonStrings;
    this.name = name;
    this.onChange = onChange;
    this.prefix = name.replace('_', '-');
    this.mode = 'visual';
    const prefix = this.prefix;
    this.visual = el('div', {class: 'sg-actions-visual', id: `${prefix}-actions`});
    this.editor = new ActionsEditor(this.visual, {
      value: Array.isArray(value) ? value : [], ctx, idPrefix: prefix, pointer: `/${name}`,
      onChange: (list) => this.onChange(list.length ? list : undefined),
    });
    this.toggle = el('button', {type: 'button', class: 'btn btn-link btn-sm p-0 ms-auto',
      id: `${prefix}-json-toggle`, 'aria-pressed': 'false', 'aria-controls': `${prefix}-actions actions-${prefix}`});
    this.toggle.addEventListener('click', () => (this.mode === 'json' ? this.toVisual() : this.toJson()));
    const inputId = `actions-${prefix}`;
    this.input = el('textarea', {class: 'form-control form-control-sm sg-actions-json', id: inputId,
      rows: 8, spellcheck: 'false', 'aria-label': `${title} · ${this.t.actions_json}`,
      'aria-describedby': `${inputId}-state`});
    this.input.addEventListener('input', () => this.read());
    this.state = el('div', {class: 'form-text', id: `${inputId}-state`});
    this.json = el('div', {class: 'sg-actions-json-view', hidden: true}, this.input, this.state);
    this.errors = el('div', {class: 'invalid-feedback d-block', 'data-errors-for': `/${name}`});
    root.replaceChildren(
      el('div', {class: 'd-flex align-items-center gap-2 mb-2'},
        el('h3', {class: 'h6 mb-0', id: `${prefix}-title`}, title), this.toggle),
      this.visual, this.json, this.errors);
    this.showToggle();
  }

  /** Draw the cards again (the form changed: its fields, users and templates). */
  refresh() {
    if (this.mode === 'visual') this.editor.render();
  }

  showToggle() {
    const json = this.mode === 'json';
    this.toggle.setAttribute('aria-pressed', String(json));
    this.toggle.replaceChildren(icon(json ? 'ui-checks-grid' : 'braces'), ' ',
      json ? this.jsonT.edit_visual : this.jsonT.edit_json);
  }

  toJson() {
    const list = this.editor.actions;
    this.input.value = list.length ? JSON.stringify(list, null, 2) : '';
    this.showCount(list.length);
    this.mode = 'json';
    this.visual.hidden = true;
    this.json.hidden = false;
    this.showToggle();
    this.input.focus();
  }

  /** Back to the cards with what the box holds; stays in JSON while it is not valid. */
  toVisual() {
    const list = this.parse();
    if (list === null) {
      this.input.focus();
      return;
    }
    this.editor.set(list);
    this.mode = 'visual';
    this.json.hidden = true;
    this.visual.hidden = false;
    this.showToggle();
    this.toggle.focus();
  }

  showCount(n) {
    this.input.classList.remove('is-invalid');
    this.state.className = 'form-text';
    this.state.textContent = format(this.t.actions_count, {n});
  }

  /** The box's array (empty when blank), or null with the problem shown in place. */
  parse() {
    const text = this.input.value.trim();
    if (!text) {
      this.showCount(0);
      return [];
    }
    let value;
    try {
      value = JSON.parse(text);
      if (!Array.isArray(value) || value.some((a) => a === null || typeof a !== 'object' || Array.isArray(a))) {
        throw new Error('[{"type": ...}, ...]');
      }
    } catch (err) {
      this.input.classList.add('is-invalid');
      this.state.className = 'form-text text-danger';
      this.state.textContent = format(this.t.actions_json_bad, {problem: err.message});
      return null;
    }
    this.showCount(value.length);
    return value;
  }

  /** Parse the box on every keystroke; hand a valid array on. */
  read() {
    const list = this.parse();
    if (list !== null) this.onChange(list.length ? list : undefined);
  }

  /** Whether the JSON view holds something that is not a JSON array of objects. */
  get invalid() { return this.mode === 'json' && this.input.classList.contains('is-invalid'); }
}
