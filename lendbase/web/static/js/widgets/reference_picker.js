// The reference picker: a <select data-reference-picker data-lookup-url="..."> becomes a
// type-to-search box over the target form's records. The server renders only the current
// value (its title); suggestions come from GET <lookup-url>?q=&limit=&after=, which applies
// the caller's row scope and pages by cursor (lendbase/api/lookup.py). The form still posts
// the record id under the field's name.
import { Combobox } from "./combobox.js";

const PAGE_SIZE = 20;

export function lookupSource(url) {
  return async (text, after, signal) => {
    const params = new URLSearchParams({ q: text, limit: String(PAGE_SIZE) });
    if (after) params.set("after", after);
    const response = await fetch(`${url}?${params}`, {
      headers: { Accept: "application/json", "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal,
    });
    if (!response.ok) throw new Error(`lookup answered ${response.status}`);
    return response.json();
  };
}

export function enhanceReferencePicker(select) {
  if (select.closest("template")) return null; // a sub-table's row template: done per row
  const picker = new Combobox(select, { source: lookupSource(select.dataset.lookupUrl) });
  picker.root.classList.add("lb-reference-picker");
  return picker;
}

export function enhanceReferencePickers(root = document) {
  return [...root.querySelectorAll("select[data-reference-picker]")]
    .map(enhanceReferencePicker).filter(Boolean);
}
