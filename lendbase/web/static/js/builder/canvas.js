// The canvas: the tab strip (a form with tabs) and one tab at a time, its sections and their
// fields, in the layout's order. SortableJS moves fields within and between sections (and so
// between tabs: dragging over a tab's button shows that tab), sections between tabs, tabs
// along the strip, and sub-table columns; palette items dropped here become new fields. After
// each drop the new order is read from the DOM into the state and the canvas is drawn again
// from the state.

import Sortable from 'sortablejs';

import {el, icon, pickLabel, TYPE_ICONS} from './dom.js';

/** How long a drag rests on a tab's button before that tab opens (ms). */
const SPRING_MS = 300;

export class Canvas {
  constructor(root, state, strings) {
    this.root = root;
    this.state = state;
    this.t = strings;
    this.sortables = [];
    // The tab on show: a view choice, not part of the document (nor of undo). It follows the
    // selection when the selection moves to another tab, and stays put otherwise.
    this.activeTab = 0;
    this.followed = {selection: '', tab: null};
    // An edit in the property panel redraws the canvas but must leave the focus where the
    // user is going (Tab out of an input blurs to <body> before the next one gets focus).
    state.subscribe((_s, source) => this.render(!String(source).startsWith('props')));
    // A field, a section or a palette type held over a tab's button opens that tab, to drop
    // into it. Sortable's drag image lets the pointer through, so what is under it is found by
    // position (by mouse and by touch alike).
    this.springTarget = null;
    this.pointer = null;
    document.addEventListener('pointermove', (evt) => this.dragOver(evt.clientX, evt.clientY));
    document.addEventListener('touchmove', (evt) => {
      if (evt.touches.length) this.dragOver(evt.touches[0].clientX, evt.touches[0].clientY);
    }, {passive: true});
    // These run before Sortable's own drop handler (registered later, when a drag starts), so
    // a palette item let go inside a sub-table's column area is in that area when it lands.
    for (const end of ['pointerup', 'touchend', 'touchcancel']) {
      document.addEventListener(end, (evt) => {
        this.springTo(null);
        const at = evt.type === 'pointerup' ? [evt.clientX, evt.clientY] : this.pointer;
        if (evt.type !== 'touchcancel' && at) this.placeInColumns(at[0], at[1], true);
        this.pointer = null;
      });
    }
  }

  dragOver(x, y) {
    const dragged = Sortable.dragged;
    if (dragged) this.pointer = [x, y];
    const over = dragged && !dragged.matches('[data-tab-button]')
      ? document.elementFromPoint(x, y)?.closest('[data-tab-button]') : null;
    this.springTo(over && this.root.contains(over) ? over : null);
    if (dragged) this.placeInColumns(x, y);
  }

  // --- new columns dropped into a sub-table -----------------------------------------------------
  //
  // A sub-table's card sits in its section's list of fields, and its column area (the dashed
  // strip of column chips) inside the card. Left to itself, Sortable lets the section's list
  // take a palette item whenever the column list passes on the pointer: over the strip's empty
  // parts (its padding, the gaps between chips, beside a chip in an earlier row), so the item
  // landed in the section, above or below the table. Here the whole strip belongs to the
  // columns: the section's list may not take the item there (allowPaletteMove), and where
  // Sortable places nothing, the placeholder goes where a column dropped there goes (columnSlot).

  /** The column area at (x, y) that takes the palette item being dragged (not a sub-table). */
  columnAreaAt(x, y) {
    const type = Sortable.dragged?.dataset.newType;
    if (!type || type === 'subtable') return null;
    for (const area of this.root.querySelectorAll('.bc-subfields')) {
      if (inside(area, x, y)) return area;
    }
    return null;
  }

  /** The palette's onMove: inside a column area, no other list takes the item. */
  allowPaletteMove(evt, original) {
    if (!original || original.clientX === undefined) return true;
    const area = this.columnAreaAt(original.clientX, original.clientY);
    return !area || evt.to === area;
  }

  /**
   * Put the dragged palette item (Sortable's placeholder) into the column area at (x, y), where
   * a column dropped there goes. On a chip Sortable decides (before or after it) while the drag
   * goes on; at the drop (``dropping``) an item still outside the area is brought in.
   */
  placeInColumns(x, y, dropping = false) {
    const area = this.columnAreaAt(x, y);
    const dragged = Sortable.dragged;
    if (!area || !dragged) return;
    const chips = [...area.children].filter((c) => c.matches('.bc-subfield'));
    const here = dragged.parentNode === area;
    if (here && (dropping || inside(dragged, x, y) || chips.some((c) => inside(c, x, y)))) return;
    if (!here && !dropping && chips.some((c) => inside(c, x, y))) return;
    const before = columnSlot(chips, x, y);
    if (here && nextChip(dragged) === before) return;
    const palette = Sortable.active;
    const fromPalette = palette && dragged.parentNode === palette.el;
    if (fromPalette && Sortable.get(area)?.lastPutMode !== 'clone') return;
    area.insertBefore(dragged, before);
    dragged.classList.add('bc-ghost');
    // the palette keeps its item: Sortable shows its copy there once the item has left
    if (fromPalette) palette._showClone(Sortable.get(area));
  }

  /** Open ``button``'s tab once the drag has rested on it a moment (passing over does not). */
  springTo(button) {
    if (button === this.springTarget) return;
    this.springTarget?.classList.remove('bc-drop-target');
    clearTimeout(this.springTimer);
    this.springTarget = button;
    if (!button) return;
    button.classList.add('bc-drop-target');
    this.springTimer = setTimeout(() => this.showTab(Number(button.dataset.tabButton)), SPRING_MS);
  }

  render(refocus = true) {
    this.refocus = refocus;
    for (const s of this.sortables) s.destroy();
    this.sortables = [];
    const st = this.state;
    const lang = st.boot.lang;
    const tabs = st.tabs();
    const errorsByField = new Map();
    const errorsBySection = new Set();
    const errorTabs = new Set();
    for (const e of st.errors) {
      if (e.fieldKey) errorsByField.set(e.fieldKey, (errorsByField.get(e.fieldKey) || 0) + 1);
      if (e.section !== null) errorsBySection.add(`${e.tab}:${e.section}`);
      const place = e.fieldKey ? st.placeOf(e.fieldKey) : null;
      if (place) errorTabs.add(place[0]);
      else if (e.section !== null) errorTabs.add(e.tab);
    }
    const shown = this.activeTab;
    this.followSelection(tabs.length);
    const tabsBox = el('div', {class: 'bc-tabs', id: 'canvas-tabs'});
    tabs.forEach((tab, t) => {
      const tabBox = el('div', st.hasTabs
        ? {class: 'bc-tab', 'data-tab': t, id: `canvas-tab-${t}`, role: 'tabpanel',
          'aria-labelledby': `canvas-tab-button-${t}`, hidden: t !== this.activeTab}
        : {class: 'bc-tab', 'data-tab': t});
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
    const box = el('div', {class: 'bc-canvas'});
    if (st.hasTabs) box.append(this.tabStrip(tabs, lang, errorTabs));
    box.append(tabsBox);
    this.root.replaceChildren(box);
    if (this.activeTab !== shown) this.revealTop();
    this.bind(box);
  }

  /** The tab holding the selection (a tab, a section or a field in it), else null. */
  selectionTab() {
    const st = this.state;
    const sel = st.selection;
    if (!st.hasTabs) return null;
    if (sel.type === 'tab' || sel.type === 'section') return sel.tab;
    if (sel.type === 'field') return st.placeOf(sel.key)?.[0] ?? null;
    return null;
  }

  /**
   * Show the selection's tab when the selection changed or moved to another tab (a click, an
   * arrow-key move, undo, an error link); a drop into the tab on show leaves it on show.
   */
  followSelection(count) {
    const selection = JSON.stringify(this.state.selection);
    const tab = this.selectionTab();
    if (tab !== null && (selection !== this.followed.selection || tab !== this.followed.tab)) {
      this.activeTab = tab;
    }
    this.followed = {selection, tab};
    this.activeTab = Math.max(0, Math.min(this.activeTab, count - 1));
  }

  /**
   * One button per tab (its label in the UI language and its number of fields): a tablist
   * whose buttons select and show their tab; drag a button to reorder the tabs.
   */
  tabStrip(tabs, lang, errorTabs) {
    const st = this.state;
    const sel = st.selection;
    const strip = el('div', {class: 'bc-tab-strip', id: 'canvas-tab-strip', role: 'tablist',
      'aria-label': this.t.tab});
    tabs.forEach((tab, t) => {
      const active = t === this.activeTab;
      const selected = sel.type === 'tab' && sel.tab === t;
      const count = tab.sections.flatMap((s) => s.fields).filter((k) => st.field(k)).length;
      const label = pickLabel(tab.label, lang, tab.key);
      const classes = ['bc-tab-button', selected ? 'bc-selected' : '', errorTabs.has(t) ? 'bc-error' : ''];
      strip.append(el('button', {type: 'button', role: 'tab', id: `canvas-tab-button-${t}`,
        class: classes.filter(Boolean).join(' '), title: `${label} (${tab.key})`,
        'data-tab-button': t, 'data-select-tab': t, 'aria-selected': String(active),
        'aria-controls': `canvas-tab-${t}`, tabindex: active ? 0 : -1},
      el('span', {class: 'bc-tab-label'}, label), ' ',
      el('span', {class: 'bc-tab-count', 'data-tab-count': count}, String(count))));
    });
    return strip;
  }

  /** Show tab ``t`` without redrawing (so a drag in progress goes on into it). */
  showTab(t) {
    if (t === this.activeTab) return;
    this.activeTab = t;
    this.root.querySelectorAll('[data-tab-button]').forEach((button) => {
      const on = Number(button.dataset.tabButton) === t;
      button.setAttribute('aria-selected', String(on));
      button.tabIndex = on ? 0 : -1;
    });
    this.root.querySelectorAll('.bc-tab[role=tabpanel]').forEach((panel) => {
      panel.hidden = Number(panel.dataset.tab) !== t;
    });
    this.revealTop();
  }

  /** Scrolled down a long tab: bring the top of the one now shown back under the strip. */
  revealTop() {
    const margin = parseFloat(getComputedStyle(this.root).scrollMarginTop) || 0;
    if (this.root.getBoundingClientRect().top < margin) this.root.scrollIntoView({block: 'start'});
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
        onEnd: (evt) => {
          const lists = [...box.querySelectorAll('.bc-fields')].map((l) => [
            Number(l.dataset.tab), Number(l.dataset.section),
            [...l.querySelectorAll(':scope > .bc-field')].map((c) => c.dataset.key)]);
          const key = evt.from !== evt.to ? evt.item.dataset.key : null;
          setTimeout(() => {
            st.setLayout(lists);
            // moved to another section (maybe another tab): select it there, in sight
            if (key) st.select({type: 'field', key, sub: null});
          }, 0);
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
        onEnd: (evt) => {
          const order = [...box.querySelectorAll('.bc-sections')].map((l) => [
            ...l.querySelectorAll(':scope > .bc-section')].map((sec) => [
            Number(sec.dataset.tab), Number(sec.dataset.section)]));
          const to = {type: 'section', tab: Number(evt.to.dataset.tab), section: evt.newIndex};
          setTimeout(() => {
            st.moveSections(order);
            st.select(to);  // the section dragged, at its new place
          }, 0);
        },
      }));
    });
    const strip = box.querySelector('.bc-tab-strip');
    if (strip) this.bindStrip(strip);
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

  bindStrip(strip) {
    const st = this.state;
    this.sortables.push(Sortable.create(strip, {
      group: {name: 'tabs', pull: false, put: false}, draggable: '.bc-tab-button', animation: 120,
      forceFallback: true, fallbackTolerance: 4, ghostClass: 'bc-ghost', direction: 'horizontal',
      onEnd: (evt) => {
        if (evt.oldIndex === evt.newIndex) return;
        const order = [...strip.querySelectorAll('.bc-tab-button')]
          .map((b) => Number(b.dataset.tabButton));
        setTimeout(() => {
          st.moveTabs(order);
          st.select({type: 'tab', tab: evt.newIndex});
        }, 0);
      },
    }));
    // arrow keys along the strip (the tabs pattern); ↑ / ↓ still move the selected tab
    strip.addEventListener('keydown', (evt) => {
      const button = evt.target.closest('[data-tab-button]');
      if (!button) return;
      const count = strip.querySelectorAll('[data-tab-button]').length;
      const at = Number(button.dataset.tabButton);
      const to = {ArrowLeft: at - 1, ArrowRight: at + 1, Home: 0, End: count - 1}[evt.key];
      if (to === undefined) return;
      evt.preventDefault();
      st.select({type: 'tab', tab: (to + count) % count});
    });
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

const inside = (node, x, y) => {
  const r = node.getBoundingClientRect();
  return x >= r.left && x <= r.right && y >= r.top && y <= r.bottom;
};

/** The column chip after ``node`` in its area (null: it is the last). */
function nextChip(node) {
  let next = node.nextElementSibling;
  while (next && !next.matches('.bc-subfield')) next = next.nextElementSibling;
  return next;
}

/**
 * Where a column dropped at (x, y) in a column area goes, as the chip it goes before (null: at
 * the end). Below the chips: at the end. Otherwise in the row of chips nearest to y, before the
 * first chip whose middle is right of x, else after that row's last chip: right of the last
 * chip is the end.
 */
function columnSlot(chips, x, y) {
  if (!chips.length) return null;
  const rects = chips.map((c) => c.getBoundingClientRect());
  if (y > Math.max(...rects.map((r) => r.bottom))) return null;
  const distance = (r) => (y < r.top ? r.top - y : y > r.bottom ? y - r.bottom : 0);
  const nearest = rects.reduce((best, r) => (distance(r) < distance(best) ? r : best));
  const row = rects.map((r, i) => [r, i]).filter(([r]) => Math.abs(r.top - nearest.top) < r.height / 2);
  const hit = row.find(([r]) => x < r.left + r.width / 2);
  if (hit) return chips[hit[1]];
  return chips[row[row.length - 1][1] + 1] || null;
}
