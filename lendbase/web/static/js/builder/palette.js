// The palette: one item per field type of the meta-schema. Drag an item onto a section (or a
// sub-table) to add a field; or focus it and press Enter to add it to the selected section (or
// to the tab on show).

import Sortable from 'sortablejs';

import {el, icon, TYPE_ICONS} from './dom.js';

/**
 * ``shownTab()``: the index of the tab the canvas shows, where a new field goes by default;
 * ``allowMove(evt, originalEvent)``: Sortable's onMove for an item dragged onto the canvas (false:
 * that list may not take it there).
 */
export function renderPalette(root, state, strings, shownTab = () => null, allowMove = () => true) {
  const list = el('div', {class: 'bc-palette', id: 'palette-list', role: 'list'});
  for (const type of state.boot.field_types) {
    list.append(el('div', {class: 'bc-palette-item', 'data-new-type': type, tabindex: 0,
      role: 'listitem', 'aria-label': `${strings[`type_${type}`] || type}: ${strings.palette_hint}`},
    icon(TYPE_ICONS[type] || 'input-cursor'), ' ', strings[`type_${type}`] || type));
  }
  root.replaceChildren(list);
  Sortable.create(list, {
    group: {name: 'palette', pull: 'clone', put: false}, sort: false, animation: 120, forceFallback: true,
    draggable: '.bc-palette-item',
    onMove: (evt, originalEvent) => (allowMove(evt, originalEvent) === false ? false : undefined),
    // an item let go outside the canvas comes back: without the placeholder's look
    onEnd: () => list.querySelectorAll('.bc-ghost').forEach((item) => item.classList.remove('bc-ghost')),
  });
  list.addEventListener('keydown', (evt) => {
    const item = evt.target.closest('.bc-palette-item');
    if (!item || (evt.key !== 'Enter' && evt.key !== ' ')) return;
    evt.preventDefault();
    addToSelection(state, item.dataset.newType, shownTab());
  });
  list.addEventListener('dblclick', (evt) => {
    const item = evt.target.closest('.bc-palette-item');
    if (item) addToSelection(state, item.dataset.newType, shownTab());
  });
}

/**
 * Add a field of ``type`` after the selected field, else at the end of the selected section,
 * else at the end of the selected tab, the tab on show (``shown``) or the last tab.
 */
export function addToSelection(state, type, shown = null) {
  const sel = state.selection;
  if (sel.type === 'field' && sel.sub !== undefined && state.field(sel.key)?.type === 'subtable'
      && type !== 'subtable') {
    state.addSubField(sel.key, type);
    return;
  }
  if (sel.type === 'field') {
    const place = state.placeOf(sel.key);
    if (place) {
      state.addField(type, place[0], place[1], place[2] + 1);
      return;
    }
  }
  if (sel.type === 'section') {
    state.addField(type, sel.tab, sel.section);
    return;
  }
  const tabs = state.tabs();
  const t = sel.type === 'tab' ? sel.tab : shown ?? tabs.length - 1;
  state.addField(type, t, tabs[t].sections.length - 1);
}
