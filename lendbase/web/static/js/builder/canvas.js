// The canvas: every tab (stacked), its sections and their fields, in the layout's order.
// SortableJS moves fields within and between sections (and so between tabs), sections
// between tabs, tabs among themselves, and sub-table columns; palette items dropped here
// become new fields. After each drop the new order is read from the DOM into the state and
// the canvas is drawn again from the state.

import Sortable from 'sortablejs';

import {el, icon, pickLabel, TYPE_ICONS} from './dom.js';

export class Canvas {
  constructor(root, state, strings) {
    this.root = root;
    this.state = state;
    this.t = strings;
    this.sortables = [];
    // An edit in the property panel redraws the canvas but must leave the focus where the
    // user is going (Tab out of an input blurs to <body> before the next one gets focus).
    state.subscribe((_s, source) => this.render(!String(source).startsWith('props')));
  }

  render(refocus = true) {
    this.refocus = refocus;
    for (const s of this.sortables) s.destroy();
    this.sortables = [];
    const st = this.state;
    const lang = st.boot.lang;
    const errorsByField = new Map();
    const errorsBySection = new Set();
    for (const e of st.errors) {
      if (e.fieldKey) errorsByField.set(e.fieldKey, (errorsByField.get(e.fieldKey) || 0) + 1);
      if (e.section !== null) errorsBySection.add(`${e.tab}:${e.section}`);
    }
    const tabsBox = el('div', {class: 'bc-tabs', id: 'canvas-tabs'});
    st.tabs().forEach((tab, t) => {
      const tabBox = el('div', {class: 'bc-tab', 'data-tab': t});
      if (st.hasTabs) {
        const selected = st.selection.type === 'tab' && st.selection.tab === t;
        tabBox.append(el('div', {
          class: `bc-tab-head${selected ? ' bc-selected' : ''}`, tabindex: 0, role: 'button',
          'data-select-tab': t, 'aria-pressed': String(selected),
        }, icon('grip-vertical bc-handle'), icon('folder2'), ' ',
        el('span', {class: 'bc-tab-label'}, pickLabel(tab.label, lang, tab.key)),
        el('code', {class: 'ms-2 small text-body-secondary'}, tab.key)));
      }
      const sectionsBox = el('div', {class: 'bc-sections', 'data-tab': t});
      tab.sections.forEach((section, s) => {
        sectionsBox.append(this.sectionBox(section, t, s, lang, errorsByField,
          errorsBySection.has(`${t}:${s}`)));
      });
      tabBox.append(sectionsBox);
      tabBox.append(el('button', {type: 'button', class: 'btn btn-sm btn-link bc-add-section',
        'data-add-section': t}, icon('plus-lg'), ' ', this.t.add_section));
      tabsBox.append(tabBox);
    });
    this.root.replaceChildren(tabsBox);
    this.bind(tabsBox);
  }

  sectionBox(section, t, s, lang, errorsByField, sectionError) {
    const st = this.state;
    const selected = st.selection.type === 'section' && st.selection.tab === t
      && st.selection.section === s;
    const columns = section.columns || 1;
    const box = el('section', {class: `bc-section${selected ? ' bc-selected' : ''}${sectionError ? ' bc-error' : ''}`,
      'data-tab': t, 'data-section': s, 'data-section-key': section.key});
    box.append(el('div', {class: 'bc-section-head', tabindex: 0, role: 'button',
      'data-select-section': `${t}:${s}`, 'aria-pressed': String(selected)},
    icon('grip-vertical bc-handle'), ' ',
    el('span', {class: 'bc-section-label'}, pickLabel(section.label, lang, section.key)),
    el('code', {class: 'ms-2 small text-body-secondary'}, section.key), this.flags(section),
    el('span', {class: 'badge text-bg-light border ms-auto'}, `${this.t.columns}: ${columns}`)));
    const list = el('div', {class: `bc-fields bc-cols-${columns}`, 'data-tab': t, 'data-section': s,
      'data-empty': this.t.drop_here});
    for (const key of section.fields) {
      const f = st.field(key);
      if (f) list.append(this.fieldCard(f, lang, errorsByField.get(key) || 0));
    }
    box.append(list);
    return box;
  }

  /** Small icons, each with a tooltip: shown under a condition, encrypted, indexed, required. */
  flags(f) {
    const t = this.t;
    const flag = (name, title, extra = '') => el('i', {class: `bi bi-${name} ms-1 bc-flag ${extra}`,
      title, 'aria-label': title, role: 'img'});
    return [
      f.visible_when ? flag('eye-slash', t.flag_conditional, 'bc-flag-conditional') : '',
      f.sensitive ? flag('shield-lock', t.flag_sensitive) : '',
      f.indexed ? flag('lightning', t.flag_indexed) : '',
    ];
  }

  fieldCard(f, lang, errorCount) {
    const st = this.state;
    const sel = st.selection;
    const selected = sel.type === 'field' && sel.key === f.key && !sel.sub;
    const card = el('div', {class: `bc-field${selected ? ' bc-selected' : ''}${errorCount ? ' bc-error' : ''}${f.type === 'subtable' ? ' bc-wide' : ''}`,
      'data-key': f.key, 'data-type': f.type, tabindex: 0, role: 'button',
      'aria-pressed': String(selected),
      'aria-label': `${pickLabel(f.label, lang, f.key)} (${f.key})`});
    const head = el('div', {class: 'bc-field-head'},
      icon(`${TYPE_ICONS[f.type] || 'input-cursor'} bc-type-icon`),
      el('span', {class: 'bc-field-label'}, pickLabel(f.label, lang, f.key)),
      f.required ? el('span', {class: 'text-danger ms-1', title: this.t.required}, '*') : '',
      errorCount ? el('span', {class: 'badge rounded-pill text-bg-danger ms-1'}, String(errorCount)) : '');
    card.append(head, el('div', {class: 'bc-field-meta'},
      el('code', {}, f.key), ' · ', this.t[`type_${f.type}`] || f.type, this.flags(f)));
    if (f.type === 'subtable') {
      const subs = el('div', {class: 'bc-subfields', 'data-sub': f.key,
        'data-empty': this.t.drop_column, 'data-hint': this.t.drop_column});
      for (const c of f.fields || []) {
        const on = sel.type === 'field' && sel.key === f.key && sel.sub === c.key;
        const subError = st.errors.some((e) => e.fieldKey === f.key && e.subKey === c.key);
        subs.append(el('div', {class: `bc-subfield${on ? ' bc-selected' : ''}${subError ? ' bc-error' : ''}`,
          'data-sub-key': c.key, 'data-parent': f.key, tabindex: 0, role: 'button',
          'aria-pressed': String(on)},
        icon(`${TYPE_ICONS[c.type] || 'input-cursor'} bc-type-icon`), ' ',
        pickLabel(c.label, lang, c.key), ' ', el('code', {class: 'small'}, c.key)));
      }
      card.append(subs);
    }
    return card;
  }

  bind(box) {
    const st = this.state;
    box.querySelectorAll('.bc-fields').forEach((list) => {
      this.sortables.push(Sortable.create(list, {
        group: {name: 'fields', put: ['fields', 'palette']},
        animation: 120, forceFallback: true, draggable: '.bc-field, .bc-palette-item', filter: '.bc-subfields',
        preventOnFilter: false, ghostClass: 'bc-ghost',
        onAdd: (evt) => {
          const type = evt.item.dataset.newType;
          if (!type) return;  // a field moved from another section: onEnd handles it
          evt.item.remove();
          const t = Number(list.dataset.tab);
          const s = Number(list.dataset.section);
          setTimeout(() => st.addField(type, t, s, evt.newIndex), 0);
        },
        onEnd: () => {
          const lists = [...box.querySelectorAll('.bc-fields')].map((l) => [
            Number(l.dataset.tab), Number(l.dataset.section),
            [...l.querySelectorAll(':scope > .bc-field')].map((c) => c.dataset.key)]);
          setTimeout(() => st.setLayout(lists), 0);
        },
      }));
    });
    box.querySelectorAll('.bc-subfields').forEach((list) => {
      const parent = list.dataset.sub;
      this.sortables.push(Sortable.create(list, {
        group: {name: `sub-${parent}`, pull: false,
          put: (_to, _from, dragEl) => Boolean(dragEl.dataset.newType)
            && dragEl.dataset.newType !== 'subtable'},
        animation: 120, forceFallback: true, draggable: '.bc-subfield, .bc-palette-item', ghostClass: 'bc-ghost',
        onAdd: (evt) => {
          const type = evt.item.dataset.newType;
          evt.item.remove();
          setTimeout(() => st.addSubField(parent, type, evt.newIndex), 0);
        },
        onEnd: () => {
          const keys = [...list.querySelectorAll('.bc-subfield')].map((c) => c.dataset.subKey);
          setTimeout(() => st.reorderSubFields(parent, keys), 0);
        },
      }));
    });
    box.querySelectorAll('.bc-sections').forEach((list) => {
      this.sortables.push(Sortable.create(list, {
        group: 'sections', handle: '.bc-section-head', draggable: '.bc-section',
        animation: 120, forceFallback: true, ghostClass: 'bc-ghost',
        onEnd: () => {
          const order = [...box.querySelectorAll('.bc-sections')].map((l) => [
            ...l.querySelectorAll(':scope > .bc-section')].map((sec) => [
            Number(sec.dataset.tab), Number(sec.dataset.section)]));
          setTimeout(() => st.moveSections(order), 0);
        },
      }));
    });
    if (st.hasTabs) {
      this.sortables.push(Sortable.create(box, {
        handle: '.bc-tab-head', draggable: '.bc-tab', animation: 120, forceFallback: true, ghostClass: 'bc-ghost',
        onEnd: () => {
          const order = [...box.querySelectorAll(':scope > .bc-tab')].map((t) => Number(t.dataset.tab));
          setTimeout(() => st.moveTabs(order), 0);
        },
      }));
    }
    const choose = (target) => {
      const sub = target.closest('.bc-subfield');
      if (sub) return st.select({type: 'field', key: sub.dataset.parent, sub: sub.dataset.subKey});
      const card = target.closest('.bc-field');
      if (card) return st.select({type: 'field', key: card.dataset.key, sub: null});
      const head = target.closest('[data-select-section]');
      if (head) {
        const [t, s] = head.dataset.selectSection.split(':').map(Number);
        return st.select({type: 'section', tab: t, section: s});
      }
      const tab = target.closest('[data-select-tab]');
      if (tab) return st.select({type: 'tab', tab: Number(tab.dataset.selectTab)});
      const add = target.closest('[data-add-section]');
      if (add) return st.addSection(Number(add.dataset.addSection));
      return null;
    };
    box.addEventListener('click', (evt) => { choose(evt.target); });
    box.addEventListener('keydown', (evt) => {
      if ((evt.key === 'Enter' || evt.key === ' ') && evt.target.matches('[role=button]')) {
        evt.preventDefault();
        choose(evt.target);
      }
    });
    if (this.refocus) this.focusSelection(box);
  }

  /** Keep the keyboard focus on the selected item after a redraw (arrow-key moves). */
  focusSelection(box) {
    const sel = this.state.selection;
    if (!this.root.contains(document.activeElement) && document.activeElement !== document.body) return;
    let target = null;
    if (sel.type === 'field' && sel.sub) {
      target = box.querySelector(`.bc-subfield[data-parent="${sel.key}"][data-sub-key="${sel.sub}"]`);
    } else if (sel.type === 'field') {
      target = box.querySelector(`.bc-field[data-key="${sel.key}"]`);
    } else if (sel.type === 'section') {
      target = box.querySelector(`[data-select-section="${sel.tab}:${sel.section}"]`);
    } else if (sel.type === 'tab') {
      target = box.querySelector(`[data-select-tab="${sel.tab}"]`);
    }
    if (target) target.focus({preventScroll: false});
  }
}
