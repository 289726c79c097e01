// A long option list (more than ~15 options, marked data-searchable-select by the server)
// becomes a type-to-filter box. The options are already on the page, so the search runs
// locally: every option whose label contains the typed text, case-insensitively.
import { Combobox } from "./combobox.js";

export function localSource(options) {
  return async (text) => {
    const needle = text.trim().toLowerCase();
    const items = options.filter((o) => !needle || o.title.toLowerCase().includes(needle));
    return { items, next_cursor: null };
  };
}

export function enhanceSearchableSelect(select) {
  if (select.closest("template")) return null;
  const options = [...select.options].filter((o) => o.value)
    .map((o) => ({ id: o.value, title: o.textContent.trim(), subtitle: "" }));
  const box = new Combobox(select, { source: localSource(options), debounceMs: 0,
                                     minChars: 0 });
  box.root.classList.add("lb-searchable-select");
  return box;
}

export function enhanceSearchableSelects(root = document) {
  return [...root.querySelectorAll("select[data-searchable-select]")]
    .map(enhanceSearchableSelect).filter(Boolean);
}
