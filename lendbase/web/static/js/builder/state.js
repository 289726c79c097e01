// The builder's state: the form document being edited, the selection, the save errors, and
// undo / redo as a stack of snapshots. Every change goes through commit(), which snapshots
// first, so one user action is one undo step.

const UNDO_LIMIT = 100;
const KEY_RE = /^[a-z][a-z0-9_]{0,39}$/;
/** The label a sub-table's starting column gets (besides each type's name): see newField. */
const COLUMN_LABEL = {zh: '名称', en: 'Name'};
const OTHER = {zh: 'en', en: 'zh'};

const clone = (value) => JSON.parse(JSON.stringify(value));

/**
 * JSON with every object's keys sorted: two documents that differ only in key order (the server
 * answers a save with its keys sorted) compare equal.
 */
export function canonicalJson(value) {
  return JSON.stringify(value, (_key, v) => (v && typeof v === 'object' && !Array.isArray(v)
    ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]])) : v));
}

export class BuilderState {
  constructor(boot) {
    this.boot = boot;
    this.key = boot.key;
    this.doc = normalize(clone(boot.doc));
    this.lockVersion = boot.lock_version;
    this.savedJson = canonicalJson(boot.doc);
    this.selection = {type: 'form'};
    // Per field (its key; a column: "parent.key"), the label languages the admin typed in this
    // session: kept by key, not by object, because undo and redo rebuild the document.
    this.typedLabels = new Map();
    this.errors = [];  // [{pointer, message, fieldKey, subKey, section, prop}]
    this.undoStack = [];
    this.redoStack = [];
    this.listeners = [];
  }

  // --- change notification ---------------------------------------------------------------
  subscribe(listener) { this.listeners.push(listener); }

  notify(source = '') { for (const l of this.listeners) l(this, source); }

  /** The document differs from the last saved draft (in content: key order does not count). */
  get dirty() { return canonicalJson(this.doc) !== this.savedJson; }

  snapshot() { return JSON.stringify({doc: this.doc, selection: this.selection}); }

  /** Apply ``mutate(doc)`` as one undoable step; ``source`` tells renderers who changed it. */
  commit(mutate, source = '') {
    const before = this.snapshot();
    const result = mutate(this.doc);
    if (this.snapshot() === before) return result;
    this.undoStack.push(before);
    if (this.undoStack.length > UNDO_LIMIT) this.undoStack.shift();
    this.redoStack = [];
    this.notify(source);
    return result;
  }

  undo() { this.travel(this.undoStack, this.redoStack); }

  redo() { this.travel(this.redoStack, this.undoStack); }

  travel(from, to) {
    if (!from.length) return;
    to.push(this.snapshot());
    const {doc, selection} = JSON.parse(from.pop());
    this.doc = doc;
    this.selection = selection;
    this.notify('history');
  }

  /** Replace the document (loaded or restored from the server): a fresh start. */
  reset(doc, lockVersion) {
    this.doc = normalize(clone(doc));
    this.lockVersion = lockVersion;
    this.savedJson = canonicalJson(doc);
    this.undoStack = [];
    this.redoStack = [];
    this.errors = [];
    this.typedLabels = new Map();
    if (this.selection.type === 'field' && !this.field(this.selection.key)) {
      this.selection = {type: 'form'};
    }
    this.notify('reset');
  }

  markSaved(doc, lockVersion) {
    this.lockVersion = lockVersion;
    this.savedJson = canonicalJson(doc);
    this.errors = [];
    this.notify('saved');
  }

  select(selection) {
    this.selection = selection;
    this.notify('select');
  }

  // --- reading the document ----------------------------------------------------------------
  /** The tabs; without tabs, one virtual tab (key null) whose sections are layout.sections. */
  tabs() {
    const layout = this.doc.layout;
    if (layout.tabs) return layout.tabs;
    return [{key: null, label: null, sections: layout.sections}];
  }

  get hasTabs() { return Boolean(this.doc.layout.tabs); }

  field(key) { return this.doc.fields.find((f) => f.key === key) || null; }

  selectedField() {
    const s = this.selection;
    if (s.type !== 'field') return null;
    const f = this.field(s.key);
    if (!f || !s.sub) return f;
    return (f.fields || []).find((c) => c.key === s.sub) || null;
  }

  selectedSection() {
    const s = this.selection;
    if (s.type !== 'section') return null;
    return this.tabs()[s.tab]?.sections[s.section] || null;
  }

  /** [tabIndex, sectionIndex, position] of a top-level field in the layout. */
  placeOf(key) {
    const tabs = this.tabs();
    for (let t = 0; t < tabs.length; t++) {
      for (let s = 0; s < tabs[t].sections.length; s++) {
        const i = tabs[t].sections[s].fields.indexOf(key);
        if (i !== -1) return [t, s, i];
      }
    }
    return null;
  }

  uniqueKey(base, taken) {
    let stem = base.replace(/[^a-z0-9_]/g, '_').replace(/^[^a-z]+/, '') || 'field';
    stem = stem.slice(0, 34);
    if (!taken.has(stem)) return stem;
    for (let n = 2; ; n++) if (!taken.has(`${stem}_${n}`)) return `${stem}_${n}`;
  }

  // --- changing the document ----------------------------------------------------------------
  /** Add a new field of ``type`` to section [tab, section] at ``index``; selects it. */
  addField(type, tab, section, index) {
    return this.commit((doc) => {
      const taken = new Set(doc.fields.map((f) => f.key));
      const f = newField(type, this.uniqueKey(type, taken), this.boot);
      this.forgetTyped(f.key, true);  // a key used before (deleted, undone) starts afresh
      doc.fields.push(f);
      const fields = this.tabs()[tab].sections[section].fields;
      fields.splice(index ?? fields.length, 0, f.key);
      this.selection = {type: 'field', key: f.key, sub: null};
      return f.key;
    });
  }

  addSubField(parentKey, type, index) {
    return this.commit(() => {
      const parent = this.field(parentKey);
      parent.fields = parent.fields || [];
      const taken = new Set(parent.fields.map((c) => c.key));
      const f = newField(type, this.uniqueKey(type, taken), this.boot);
      this.forgetTyped(`${parentKey}.${f.key}`);
      parent.fields.splice(index ?? parent.fields.length, 0, f);
      this.selection = {type: 'field', key: parentKey, sub: f.key};
    });
  }

  /** Lay the fields out as ``lists`` ([[tab, section, [keys]]...]), e.g. read from the canvas. */
  setLayout(lists) {
    this.commit(() => {
      const tabs = this.tabs();
      for (const [t, s, keys] of lists) tabs[t].sections[s].fields = keys;
    });
  }

  reorderSubFields(parentKey, keys) {
    this.commit(() => {
      const parent = this.field(parentKey);
      const byKey = new Map(parent.fields.map((c) => [c.key, c]));
      parent.fields = keys.map((k) => byKey.get(k)).filter(Boolean);
    });
  }

  moveSections(order) {  // order: [[fromTab, fromSection]...] per tab
    this.commit(() => {
      const tabs = this.tabs();
      const old = tabs.map((t) => t.sections.slice());
      order.forEach((refs, t) => {
        tabs[t].sections.splice(0, tabs[t].sections.length,
          ...refs.map(([ft, fs]) => old[ft][fs]));
      });
    });
  }

  moveTabs(order) {  // order: the old index of each tab, in its new place
    this.commit((doc) => {
      const old = doc.layout.tabs.slice();
      doc.layout.tabs = order.map((i) => old[i]);
      const s = this.selection;  // a selected tab or section goes with its tab
      if (s.type === 'tab' || s.type === 'section') this.selection = {...s, tab: order.indexOf(s.tab)};
    });
  }

  /**
   * Move the selection one place up/left (-1) or down/right (+1): a field across section
   * boundaries, a section within its tab and on into the neighbouring tab, a tab among tabs.
   */
  moveSelected(delta) {
    const s = this.selection;
    if (s.type === 'section') return this.moveSelectedSection(delta);
    if (s.type === 'tab') return this.moveSelectedTab(delta);
    if (s.type !== 'field') return;
    if (s.sub) {
      const parent = this.field(s.key);
      const i = parent.fields.findIndex((c) => c.key === s.sub);
      const j = i + delta;
      if (j < 0 || j >= parent.fields.length) return;
      this.commit(() => { parent.fields.splice(j, 0, parent.fields.splice(i, 1)[0]); });
      return;
    }
    const place = this.placeOf(s.key);
    if (!place) return;
    const flat = [];
    this.tabs().forEach((tab, t) => tab.sections.forEach((_, si) => flat.push([t, si])));
    this.commit(() => {
      const [t, si, i] = place;
      const list = this.tabs()[t].sections[si].fields;
      const j = i + delta;
      if (j >= 0 && j < list.length) {
        list.splice(j, 0, list.splice(i, 1)[0]);
        return;
      }
      const at = flat.findIndex(([a, b]) => a === t && b === si) + delta;
      if (at < 0 || at >= flat.length) return;
      list.splice(i, 1);
      const target = this.tabs()[flat[at][0]].sections[flat[at][1]].fields;
      if (delta < 0) target.push(s.key); else target.unshift(s.key);
    });
  }

  moveSelectedSection(delta) {
    const {tab, section} = this.selection;
    const tabs = this.tabs();
    const list = tabs[tab]?.sections;
    if (!list || !list[section]) return;
    let to = [tab, section + delta];
    if (to[1] < 0 || to[1] >= list.length) {  // past the end of the tab: into the next one
      const next = tab + delta;
      if (next < 0 || next >= tabs.length || list.length === 1) return;  // a tab keeps one
      to = [next, delta < 0 ? tabs[next].sections.length : 0];
    }
    this.commit(() => {
      const [moved] = list.splice(section, 1);
      this.tabs()[to[0]].sections.splice(to[1], 0, moved);
      this.selection = {type: 'section', tab: to[0], section: to[1]};
    });
  }

  moveSelectedTab(delta) {
    const i = this.selection.tab;
    const tabs = this.doc.layout.tabs;
    const j = i + delta;
    if (!tabs || j < 0 || j >= tabs.length) return;
    this.commit((doc) => {
      doc.layout.tabs.splice(j, 0, doc.layout.tabs.splice(i, 1)[0]);
      this.selection = {type: 'tab', tab: j};
    });
  }

  deleteSelected() {
    const s = this.selection;
    if (s.type === 'field') {
      this.commit((doc) => {
        if (s.sub) {
          const parent = this.field(s.key);
          if (parent.fields.length <= 1) return;  // a sub-table keeps one column
          parent.fields = parent.fields.filter((c) => c.key !== s.sub);
          this.selection = {type: 'field', key: s.key, sub: null};
          return;
        }
        if (doc.fields.length <= 1) return;  // a form keeps one field
        doc.fields = doc.fields.filter((f) => f.key !== s.key);
        forgetKey(doc, this.tabs(), s.key);
        this.selection = {type: 'form'};
      });
    } else if (s.type === 'section') {
      this.commit(() => {
        const tab = this.tabs()[s.tab];
        const all = this.tabs().flatMap((t) => t.sections);
        if (all.length <= 1) return;
        const [gone] = tab.sections.splice(s.section, 1);
        const heir = tab.sections[Math.max(0, s.section - 1)] || this.tabs().flatMap((t) => t.sections)[0];
        heir.fields.push(...gone.fields);
        this.selection = {type: 'form'};
      });
    } else if (s.type === 'tab' && this.hasTabs) {
      this.commit((doc) => {
        const tabs = doc.layout.tabs;
        const [gone] = tabs.splice(s.tab, 1);
        if (!tabs.length) {
          doc.layout = {sections: gone.sections};
        } else {
          tabs[Math.max(0, s.tab - 1)].sections.push(...gone.sections);
          if (tabs.length === 1) doc.layout = {sections: tabs[0].sections};
        }
        this.selection = {type: 'form'};
      });
    }
  }

  addSection(tab) {
    this.commit(() => {
      const taken = new Set(this.tabs().flatMap((t) => t.sections.map((s) => s.key)));
      const key = this.uniqueKey('section', taken);
      const label = this.boot.labels.new_section;
      const t = tab ?? this.tabs().length - 1;
      this.tabs()[t].sections.push({key, label: {...label}, columns: 2, fields: []});
      this.selection = {type: 'section', tab: t, section: this.tabs()[t].sections.length - 1};
    });
  }

  addTab() {
    this.commit((doc) => {
      const label = this.boot.labels.new_tab;
      if (!doc.layout.tabs) {
        const first = {key: 'main', label: {...this.boot.labels.first_tab},
                       sections: doc.layout.sections};
        doc.layout = {tabs: [first]};
      }
      const taken = new Set(doc.layout.tabs.map((t) => t.key));
      const key = this.uniqueKey('tab', taken);
      const sectionKeys = new Set(doc.layout.tabs.flatMap((t) => t.sections.map((s) => s.key)));
      doc.layout.tabs.push({key, label: {...label}, sections: [
        {key: this.uniqueKey(`${key}_section`, sectionKeys), columns: 2, fields: []}]});
      this.selection = {type: 'tab', tab: doc.layout.tabs.length - 1};
    });
  }

  /** Set property ``prop`` of the selected field (``undefined`` / '' removes it). */
  setFieldProp(prop, value, source = 'props') {
    const s = this.selection;
    if (s.type !== 'field') return;
    this.commit((doc) => {
      const f = this.selectedField();
      if (!f) return;
      if (prop === 'key') {
        renameField(doc, this, f, value);
        return;
      }
      const before = f[prop];
      if (value === undefined || value === '' || value === null) delete f[prop];
      else f[prop] = clone(value);
      if (prop === 'label') this.keyFromLabel(doc, f, before?.en);
    }, source);
  }

  // --- labels in two languages ------------------------------------------------------------------
  //
  // A new field gets placeholder labels: its type's name ("Long text" / "多行文本"; a sub-table's
  // starting column "Name" / "名称"). An admin who names it in one language only would publish
  // the placeholder in the other, so one rule, the same for both languages:
  //
  //   while a never-published field's label in one language is still a placeholder (or a copy
  //   of the other language) and the admin has not typed in that box, it takes the text typed
  //   in the other box.
  //
  // The UI language gets no exception: "Name" on a column whose Chinese label became 证件号码 is
  // as much a leftover as "Sub-table", and a "Name" the admin does mean is kept by typing it
  // once (typing in a box, even the same text, makes that label theirs: never overwritten).
  // The property panel copies as the admin types and says which language is a copy, so what
  // is on screen is what is saved. Published labels never follow: someone chose them.

  /** The selected field's place in ``typedLabels``: its key, or "parent.key" for a column. */
  labelPath() {
    const s = this.selection;
    return s.sub ? `${s.key}.${s.sub}` : s.key;
  }

  /** The languages of the selected field's label the admin typed in this session. */
  typedLangs() { return this.typedLabels.get(this.labelPath()) || new Set(); }

  /** The selected field's label in ``lang`` was typed by the admin (never overwritten). */
  markLabelTyped(lang) {
    if (!this.selectedField()) return;
    const path = this.labelPath();
    if (!this.typedLabels.has(path)) this.typedLabels.set(path, new Set());
    this.typedLabels.get(path).add(lang);
  }

  /** A new field under ``path`` (and, for ``withColumns``, its columns) forgets typed labels. */
  forgetTyped(path, withColumns = false) {
    for (const known of [...this.typedLabels.keys()]) {
      if (known === path || (withColumns && known.startsWith(`${path}.`))) this.typedLabels.delete(known);
    }
  }

  /** The selected field (column) is in the published form: its labels are someone's choice. */
  selectedPublished() {
    const s = this.selection;
    return (this.boot.published_keys || []).includes(s.sub ? `${s.key}.${s.sub}` : s.key);
  }

  /** Whether the selected field's label in ``lang`` takes the text typed in the other box. */
  labelFollows(lang) {
    const f = this.selectedField();
    if (!f || this.typedLangs().has(lang) || this.selectedPublished()) return false;
    const text = f.label?.[lang] || '';
    const placeholders = [COLUMN_LABEL, ...Object.values(this.boot.type_labels || {})];
    return !text || text === f.label?.[OTHER[lang]] || placeholders.some((p) => p[lang] === text);
  }

  /**
   * Which language of ``label`` ({zh, en}) is a copy of the other, or null: both hold the same
   * text and the admin typed only the other one, or (typed in neither: a label from the saved
   * draft) it is the English one when the text is Chinese, the Chinese one otherwise.
   */
  copiedLanguage(label, typed = new Set()) {
    const zh = (label?.zh || '').trim();
    if (!zh || zh !== (label?.en || '').trim()) return null;
    if (typed.has('zh') !== typed.has('en')) return typed.has('zh') ? 'en' : 'zh';
    if (typed.size) return null;  // both typed: the same text on purpose
    return /[\u3400-\u9fff\uf900-\ufaff]/.test(zh) ? 'en' : 'zh';
  }

  /**
   * A field still under the key it was given when dropped ("money", "money_2") and never
   * published takes its key from its English label ("Loan amount" -> loan_amount), so a
   * newcomer need not invent keys. Published keys never change this way: data lives under them.
   */
  keyFromLabel(doc, f, previousEn) {
    const s = this.selection;
    const en = f.label?.en;
    if (!en || en === previousEn) return;
    // the key still follows: the drop-time key, or the one an earlier English label gave (an
    // English label with no key in it, such as a copy of the Chinese one, left a new column's
    // key "name" as it was)
    const follows = (stem) => stem && new RegExp(`^${stem}(_\\d+)?$`).test(f.key);
    const earlier = keyStem(previousEn || '') || keyStem(COLUMN_LABEL.en);
    if (!follows(f.type) && !follows(earlier)) return;
    if (!s.sub && (this.boot.published_keys || []).includes(f.key)) return;
    if (s.sub && (this.boot.published_keys || []).includes(`${s.key}.${f.key}`)) return;
    const stem = keyStem(en);
    if (!isKey(stem) || stem === f.key) return;
    const siblings = s.sub ? (this.field(s.key)?.fields || []) : doc.fields;
    const taken = new Set(siblings.filter((x) => x !== f).map((x) => x.key));
    renameField(doc, this, f, this.uniqueKey(stem, taken));
  }

  setSectionProp(prop, value, source = 'props') {
    this.commit(() => {
      const target = this.selection.type === 'tab'
        ? this.tabs()[this.selection.tab] : this.selectedSection();
      if (!target) return;
      if (value === undefined || value === '' || value === null) delete target[prop];
      else target[prop] = value;
    }, source);
  }

  setFormProp(prop, value, source = 'props') {
    this.commit((doc) => {
      if (value === undefined || value === '' || value === null) delete doc[prop];
      else doc[prop] = value;
    }, source);
  }
}

// --- pure helpers -----------------------------------------------------------------------------

/** Every field placed: a document without a layout gets one section holding all fields. */
export function normalize(doc) {
  doc.fields = doc.fields || [];
  if (!doc.layout || (!doc.layout.tabs && !doc.layout.sections)) {
    doc.layout = {sections: [{key: 'main', columns: 2, fields: doc.fields.map((f) => f.key)}]};
    return doc;
  }
  let sections = doc.layout.tabs
    ? doc.layout.tabs.flatMap((t) => t.sections) : doc.layout.sections;
  if (!sections.length) {
    const holder = {key: 'main', columns: 2, fields: []};
    if (doc.layout.tabs) doc.layout.tabs[0].sections.push(holder);
    else doc.layout.sections.push(holder);
    sections = [holder];
  }
  const placed = new Set(sections.flatMap((s) => s.fields));
  const last = sections[sections.length - 1];
  for (const f of doc.fields) if (!placed.has(f.key)) last.fields.push(f.key);
  return doc;
}

export function newField(type, key, boot) {
  const names = boot.type_labels[type] || {zh: type, en: type};
  const f = {key, type, label: {zh: names.zh, en: names.en}};
  const option = (value, zh, en) => ({value, label: {zh, en}});
  if (type === 'select' || type === 'multiselect') {
    f.options = [option('option_1', '选项1', 'Option 1'), option('option_2', '选项2', 'Option 2')];
  } else if (type === 'reference') {
    f.target = (boot.published_forms[0] || {key: boot.key}).key;
  } else if (type === 'subtable') {
    f.fields = [{key: 'name', type: 'text', label: {zh: '名称', en: 'Name'}}];  // its key follows its label
  } else if (type === 'id_number' || type === 'phone') {
    // Personal information (PIPL): stored encrypted and shown masked unless switched off.
    f.sensitive = true;
    f.mask = type;
  } else if (type === 'auto_number') {
    f.format = 'NO-{YYYY}-{SEQ:6}';
  } else if (type === 'computed') {
    f.formula = '0';
    f.result_type = 'integer';
  }
  return f;
}

function forgetKey(doc, tabs, key) {
  for (const tab of tabs) for (const s of tab.sections) s.fields = s.fields.filter((k) => k !== key);
  if (doc.title_field === key) delete doc.title_field;
  if (doc.list) {
    for (const prop of ['columns', 'filters']) {
      if (doc.list[prop]) doc.list[prop] = doc.list[prop].filter((k) => k !== key);
    }
    if (doc.list.default_sort) {
      doc.list.default_sort = doc.list.default_sort.filter((k) => k.replace(/^-/, '') !== key);
    }
  }
  for (const p of Object.values(doc.permissions || {})) {
    for (const prop of ['hidden_fields', 'readonly_fields']) {
      if (p[prop]) p[prop] = p[prop].filter((k) => k !== key);
    }
  }
}

/** The keys a condition tree names (leaves and field-against-field values), renamed in place. */
export function renameInCondition(node, oldKey, newKey) {
  if (!node || typeof node !== 'object') return;
  for (const group of ['and', 'or']) if (Array.isArray(node[group])) node[group].forEach((n) => renameInCondition(n, oldKey, newKey));
  if (node.not) renameInCondition(node.not, oldKey, newKey);
  if (node.field === oldKey) node.field = newKey;
  if (node.value && typeof node.value === 'object' && node.value.field === oldKey) node.value.field = newKey;
}

/**
 * Rename a field; a top-level key is renamed in the layout, title, list, permissions and every
 * visibility condition too; a sub-table column in its sibling columns' conditions.
 */
function renameField(doc, state, f, newKey) {
  const oldKey = f.key;
  if (!newKey || newKey === oldKey) return;
  f.key = newKey;
  const s = state.selection;
  // the typed-label memory goes along (and stays under the old key too, for an undo)
  const prefix = s.sub ? `${s.key}.` : '';
  for (const [path, typed] of [...state.typedLabels]) {
    if (path === prefix + oldKey) state.typedLabels.set(prefix + newKey, new Set(typed));
    else if (!s.sub && path.startsWith(`${oldKey}.`)) {
      state.typedLabels.set(newKey + path.slice(oldKey.length), new Set(typed));
    }
  }
  if (s.sub) {
    state.selection = {...s, sub: newKey};
    for (const c of state.field(s.key)?.fields || []) renameInCondition(c.visible_when, oldKey, newKey);
    return;
  }
  state.selection = {...s, key: newKey};
  for (const other of doc.fields) renameInCondition(other.visible_when, oldKey, newKey);
  for (const tab of state.tabs()) for (const sec of tab.sections) renameInCondition(sec.visible_when, oldKey, newKey);
  const swap = (k) => (k === oldKey ? newKey : k);
  for (const tab of state.tabs()) for (const sec of tab.sections) sec.fields = sec.fields.map(swap);
  if (doc.title_field === oldKey) doc.title_field = newKey;
  if (doc.list) {
    for (const prop of ['columns', 'filters']) if (doc.list[prop]) doc.list[prop] = doc.list[prop].map(swap);
    if (doc.list.default_sort) {
      doc.list.default_sort = doc.list.default_sort.map((k) => (k.replace(/^-/, '') === oldKey
        ? k.replace(oldKey, newKey) : k));
    }
  }
  for (const p of Object.values(doc.permissions || {})) {
    for (const prop of ['hidden_fields', 'readonly_fields']) if (p[prop]) p[prop] = p[prop].map(swap);
  }
}

export const isKey = (value) => KEY_RE.test(value);

/** A key from an English label: "Loan amount (CNY)" -> loan_amount_cny ('' when none fits). */
export function keyStem(label) {
  return String(label).toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '_')
    .replace(/^[0-9_]+/, '').slice(0, 40).replace(/_+$/, '');
}

/**
 * Attach each save error (JSON pointer -> messages) to what it concerns in ``doc``:
 * a field (and sub-table column), a section, or the form, and the property inside it.
 */
export function locateErrors(doc, fields) {
  const out = [];
  for (const [pointer, messages] of Object.entries(fields || {})) {
    const parts = pointer.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
    for (const message of messages) {
      const e = {pointer, message, fieldKey: null, subKey: null, section: null, tab: null, prop: null};
      const required = /^'([a-z_]+)' is required/.exec(message);
      if (parts[0] === 'fields' && parts.length >= 2) {
        const f = doc.fields[Number(parts[1])];
        e.fieldKey = f ? f.key : null;
        let rest = parts.slice(2);
        if (rest[0] === 'fields' && rest.length >= 2 && f && f.fields) {
          const c = f.fields[Number(rest[1])];
          e.subKey = c ? c.key : null;
          rest = rest.slice(2);
        }
        e.prop = rest[0] || (required ? required[1] : null);
      } else if (parts[0] === 'layout') {
        let rest = parts.slice(1);
        if (rest[0] === 'tabs') {
          e.tab = Number(rest[1]);
          rest = rest.slice(2);
        } else {
          e.tab = 0;
        }
        if (rest[0] === 'sections' && rest.length >= 2) {
          e.section = Number(rest[1]);
          rest = rest.slice(2);
        }
        e.prop = rest[0] || null;
      } else {
        e.prop = parts[0] || (required ? required[1] : null);
      }
      out.push(e);
    }
  }
  return out;
}
