// Small DOM helpers shared by the builder's modules.

export const TYPE_ICONS = {
  text: 'input-cursor-text', textarea: 'textarea-t', integer: '123', decimal: 'calculator',
  money: 'currency-yen', percent: 'percent', date: 'calendar-date', datetime: 'calendar-event',
  boolean: 'toggle-on', select: 'menu-button-wide', multiselect: 'ui-checks', reference: 'link-45deg',
  subtable: 'table', user: 'person', file: 'paperclip', phone: 'phone', email: 'envelope',
  id_number: 'person-vcard', uscc: 'building', region: 'geo-alt', auto_number: 'hash',
  computed: 'braces',
};

/** el('div', {class: 'x', 'data-a': 1}, child, 'text', ...): children may be nodes or text. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'checked' || name === 'selected' || name === 'disabled') node[name] = Boolean(value);
    else if (name === 'value') node.value = value;
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === '') continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export const icon = (name) => el('i', {class: `bi bi-${name}`, 'aria-hidden': 'true'});

export function pickLabel(label, lang, fallback = '') {
  if (!label) return fallback;
  if (typeof label === 'string') return label;
  return label[lang] || label[lang === 'zh' ? 'en' : 'zh'] || fallback;
}

export function format(text, params = {}) {
  return String(text).replace(/\{(\w+)\}/g, (m, k) => (k in params ? String(params[k]) : m));
}
