// The on-enter / on-leave actions of a segment: the rule engine's action objects, edited as a
// JSON array with a live syntax check. The server checks them in full (the rule engine's
// meta-schema, tags and fields that exist) on save and publish; its errors show under the box.

import {el, format} from '../builder/dom.js';

export class ActionsEditor {
  /**
   * root: an empty element; name: 'on_enter' | 'on_leave' (the document's key and the JSON
   * pointer of its errors); onChange(actions | undefined) on every valid edit.
   */
  constructor(root, {name, title, value, strings, onChange}) {
    this.t = strings;
    this.name = name;
    this.onChange = onChange;
    const id = `actions-${name.replace('_', '-')}`;
    this.input = el('textarea', {class: 'form-control form-control-sm sg-actions-json', id,
      rows: 6, spellcheck: 'false', 'data-pointer': `/${name}`, 'aria-describedby': `${id}-state`});
    this.state = el('div', {class: 'form-text', id: `${id}-state`});
    this.errors = el('div', {class: 'invalid-feedback d-block', 'data-errors-for': `/${name}`});
    root.replaceChildren(el('label', {class: 'form-label small', for: id}, title), this.input,
      this.state, this.errors);
    this.setValue(value);
    this.input.addEventListener('input', () => this.read());
  }

  setValue(value) {
    const list = Array.isArray(value) ? value : [];
    this.input.value = list.length ? JSON.stringify(list, null, 2) : '';
    this.showCount(list.length);
  }

  showCount(n) {
    this.input.classList.remove('is-invalid');
    this.state.className = 'form-text';
    this.state.textContent = format(this.t.actions_count, {n});
  }

  /** Parse the box; report a syntax problem in place, else hand the array on. */
  read() {
    const text = this.input.value.trim();
    if (!text) {
      this.showCount(0);
      this.onChange(undefined);
      return;
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
      return;
    }
    this.showCount(value.length);
    this.onChange(value.length ? value : undefined);
  }

  /** Whether the box holds something that is not a JSON array of objects. */
  get invalid() { return this.input.classList.contains('is-invalid'); }
}
