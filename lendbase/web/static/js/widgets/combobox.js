// A type-to-search combobox that replaces a <select> (ARIA 1.2 combobox + listbox pattern).
//
// The <select> gives way to a text input (which takes over its id, so the <label> and the
// error summary's links still reach it) and a hidden input carrying the select's name and the
// chosen value: the form posts exactly what the select would have posted. Suggestions come from
// `source(text, after, signal)`, which resolves to {items: [{id, title, subtitle}], next_cursor};
// typing is debounced and a newer request aborts the older one. Keys: Down/Up move, Enter
// picks, Escape closes (and restores the chosen title), Tab leaves. Leaving the input without
// picking shows the chosen title again, so what the field shows is what will be saved.

const TEXTS = {
  zh: { placeholder: "输入关键字搜索…", loading: "搜索中…", empty: "无匹配记录",
        failed: "搜索失败，请重试", more: "加载更多…", clear: "清除", hint: "至少输入 1 个字" },
  en: { placeholder: "Type to search…", loading: "Searching…", empty: "No matches",
        failed: "Search failed; try again", more: "Load more…", clear: "Clear",
        hint: "Type at least 1 character" },
};

export function texts() {
  return (document.documentElement.lang || "").startsWith("zh") ? TEXTS.zh : TEXTS.en;
}

let counter = 0;

export class Combobox {
  constructor(select, { source, debounceMs = 200, minChars = 1 } = {}) {
    this.source = source;
    this.debounceMs = debounceMs;
    this.minChars = minChars;
    this.t = texts();
    this.items = [];
    this.active = -1;
    this.cursor = null;
    this.controller = null;
    this.timer = null;
    this.#build(select);
  }

  #build(select) {
    const chosen = select.selectedOptions[0];
    this.value = chosen && chosen.value ? chosen.value : "";
    this.title = this.value ? chosen.textContent.trim() : "";
    const listId = `${select.id || "lb-combo-" + ++counter}-list`;

    this.root = document.createElement("div");
    this.root.className = "lb-combobox";
    this.root.dataset.combobox = "";
    this.hidden = document.createElement("input");
    this.hidden.type = "hidden";
    this.hidden.name = select.name;
    this.hidden.value = this.value;

    const group = document.createElement("div");
    group.className = "input-group";
    this.input = document.createElement("input");
    this.input.type = "text";
    this.input.className = select.className.replace("form-select", "form-control") +
      " lb-combobox-input";
    this.input.id = select.id;
    this.input.value = this.title;
    this.input.placeholder = this.t.placeholder;
    this.input.autocomplete = "off";
    this.input.spellcheck = false;
    this.input.setAttribute("role", "combobox");
    this.input.setAttribute("aria-autocomplete", "list");
    this.input.setAttribute("aria-expanded", "false");
    this.input.setAttribute("aria-controls", listId);
    for (const attr of ["aria-label", "aria-invalid", "aria-required", "aria-labelledby"]) {
      if (select.hasAttribute(attr)) this.input.setAttribute(attr, select.getAttribute(attr));
    }
    this.clearButton = document.createElement("button");
    this.clearButton.type = "button";
    this.clearButton.className = "btn btn-outline-secondary lb-combobox-clear";
    this.clearButton.setAttribute("aria-label", this.t.clear);
    this.clearButton.title = this.t.clear;
    this.clearButton.tabIndex = -1;
    this.clearButton.innerHTML = '<i class="bi bi-x-lg" aria-hidden="true"></i>';
    this.clearButton.hidden = !this.value;
    group.append(this.input, this.clearButton);

    this.list = document.createElement("ul");
    this.list.className = "lb-combobox-list list-unstyled shadow";
    this.list.id = listId;
    this.list.setAttribute("role", "listbox");
    this.list.hidden = true;
    this.status = document.createElement("div");
    this.status.className = "visually-hidden";
    this.status.setAttribute("role", "status");
    this.status.setAttribute("aria-live", "polite");

    this.root.append(this.hidden, group, this.list, this.status);
    select.replaceWith(this.root);

    this.input.addEventListener("input", () => this.#onInput());
    this.input.addEventListener("keydown", (event) => this.#onKey(event));
    this.input.addEventListener("blur", () => setTimeout(() => this.#onBlur(), 120));
    this.input.addEventListener("focus", () => this.input.select());
    if (this.minChars === 0) { // a local list: a click shows every option, like a select
      this.input.addEventListener("click", () => {
        if (this.list.hidden) this.#search("", null);
      });
    }
    this.clearButton.addEventListener("click", () => {
      this.choose(null);
      this.input.focus();
    });
    // mousedown, not click: the input must keep focus (and not blur-revert) while picking
    this.list.addEventListener("mousedown", (event) => {
      const option = event.target.closest("[role=option]");
      event.preventDefault();
      if (!option) return;
      this.#activate(Number(option.dataset.index));
      this.#pickActive();
    });
  }

  // --- choosing -----------------------------------------------------------------------------

  choose(item) {
    const before = this.hidden.value;
    this.value = item ? String(item.id) : "";
    this.title = item ? item.title : "";
    this.hidden.value = this.value;
    this.input.value = this.title;
    this.clearButton.hidden = !this.value;
    this.close();
    if (before !== this.value) {
      this.hidden.dispatchEvent(new Event("change", { bubbles: true }));
    }
  }

  #pickActive() {
    const item = this.items[this.active];
    if (!item) return;
    if (item.more) {
      this.#search(this.query, this.cursor);
      return;
    }
    this.choose(item);
  }

  // --- searching ----------------------------------------------------------------------------

  #onInput() {
    clearTimeout(this.timer);
    const text = this.input.value.trim();
    if (text === "") {
      this.choose(null); // an emptied field clears the reference
      return;
    }
    if (text.length < this.minChars) {
      this.#message(this.t.hint);
      return;
    }
    this.timer = setTimeout(() => this.#search(text, null), this.debounceMs);
  }

  async #search(text, after) {
    if (this.controller) this.controller.abort(); // a stale answer must never win
    const controller = new AbortController();
    this.controller = controller;
    this.query = text;
    if (!after) this.#message(this.t.loading);
    let page;
    try {
      page = await this.source(text, after, controller.signal);
    } catch (error) {
      if (error.name === "AbortError") return;
      console.warn("combobox search failed", error);
      this.#message(this.t.failed);
      return;
    }
    if (controller !== this.controller) return;
    this.controller = null;
    const kept = after ? this.items.filter((item) => !item.more) : [];
    this.items = [...kept, ...page.items];
    this.cursor = page.next_cursor || null;
    if (this.cursor) this.items.push({ more: true, title: this.t.more });
    if (!this.items.length) {
      this.#message(this.t.empty);
      return;
    }
    this.#render(after ? kept.length : 0);
  }

  // --- the list -----------------------------------------------------------------------------

  #render(activeIndex) {
    this.list.replaceChildren();
    this.items.forEach((item, index) => {
      const li = document.createElement("li");
      li.id = `${this.list.id}-${index}`;
      li.setAttribute("role", "option");
      li.dataset.index = String(index);
      li.className = item.more ? "lb-combobox-option lb-combobox-more" : "lb-combobox-option";
      const title = document.createElement("span");
      title.className = "lb-combobox-title";
      title.textContent = item.title;
      li.append(title);
      if (item.subtitle) {
        const sub = document.createElement("span");
        sub.className = "lb-combobox-subtitle";
        sub.textContent = item.subtitle;
        li.append(sub);
      }
      if (!item.more && String(item.id) === this.value) li.setAttribute("aria-selected", "true");
      this.list.append(li);
    });
    this.#open();
    this.#activate(activeIndex);
    this.status.textContent = `${this.items.filter((i) => !i.more).length}`;
  }

  #message(text) {
    this.items = [];
    this.active = -1;
    const li = document.createElement("li");
    li.className = "lb-combobox-message";
    li.textContent = text;
    this.list.replaceChildren(li);
    this.status.textContent = text;
    this.input.removeAttribute("aria-activedescendant");
    this.#open();
  }

  #open() {
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
  }

  close() {
    clearTimeout(this.timer);
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
    this.active = -1;
  }

  #activate(index) {
    const options = this.list.querySelectorAll("[role=option]");
    if (!options.length) return;
    this.active = Math.max(0, Math.min(index, options.length - 1));
    options.forEach((option, i) => option.classList.toggle("active", i === this.active));
    const current = options[this.active];
    this.input.setAttribute("aria-activedescendant", current.id);
    current.scrollIntoView({ block: "nearest" });
  }

  #onKey(event) {
    const open = !this.list.hidden && this.items.length > 0;
    switch (event.key) {
      case "ArrowDown":
        event.preventDefault();
        if (open) this.#activate(this.active + 1);
        else if (this.input.value.trim().length >= this.minChars) {
          this.#search(this.input.value === this.title ? "" : this.input.value.trim(), null);
        }
        break;
      case "ArrowUp":
        if (open) {
          event.preventDefault();
          this.#activate(this.active - 1);
        }
        break;
      case "Enter":
        if (!this.list.hidden) event.preventDefault(); // picking must not submit the form
        if (open) this.#pickActive();
        break;
      case "Escape":
        if (!this.list.hidden) {
          event.preventDefault();
          this.close();
          this.input.value = this.title;
        }
        break;
      default:
        break;
    }
  }

  #onBlur() {
    if (this.root.contains(document.activeElement)) return;
    this.close();
    if (this.input.value.trim() !== "" && this.input.value !== this.title) {
      this.input.value = this.title; // nothing picked: show (and keep) the chosen record
    }
  }
}
