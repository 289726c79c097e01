// File fields upload as soon as a file is chosen, with a progress bar and a cancel button.
//
// The page without scripts posts <input type=file name="<field>.upload"> with the record
// form. With this module, a chosen file is first checked against the field's type and size
// limits (the server's messages, from validation.js), then sent on its own with
// XMLHttpRequest to the files API (POST /api/v1/files: form, field, file; the session cookie
// plus the X-CSRFToken header, lendbase/api/auth.py). The stored file's id goes into the
// field's hidden input, which the record form posts; the record service then attaches it
// (only files this user uploaded for this form and field, lendbase/records/service.py).
import { fileError } from "../validation.js";

const SUFFIX = ".upload";
const MIB = 1024 * 1024;

/** The files API's name of a field: "documents", or "contacts.scan" for a sub-table's. */
export function apiFieldName(name) {
  const parts = name.split(".");
  return parts.length === 3 ? `${parts[0]}.${parts[2]}` : name;
}

function sizeText(bytes) {
  return bytes >= MIB ? `${(bytes / MIB).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1024))} KB`;
}

function element(tag, className, text) {
  const el = document.createElement(tag);
  if (className) el.className = className;
  if (text !== undefined) el.textContent = text;
  return el;
}

function serverMessage(xhr, fallback) {
  const body = xhr.response && typeof xhr.response === "object" ? xhr.response : null;
  const error = body && body.error;
  if (!error) return fallback;
  const fields = error.fields || {};
  for (const key of ["file", "field", "form"]) {
    if (fields[key] && fields[key].length) return fields[key][0];
  }
  return error.message || fallback;
}

/**
 * Uploads of one record form. `hooks.rulesFor(name)` gives a field's rules,
 * `hooks.message(code, params)` formats the server's catalogue, `hooks.setUploadError(name,
 * text|null)` shows or clears an error under the field, `hooks.uploaded(name)` runs when a
 * file's id is in place.
 */
export class FileUploads {
  constructor(form, config, hooks) {
    this.form = form;
    this.config = config;
    this.hooks = hooks;
    this.active = new Map(); // field name -> XMLHttpRequest in flight
    form.addEventListener("change", (event) => {
      const input = event.target;
      if (input.matches("input[type=file]") && input.name.endsWith(SUFFIX)) this.chosen(input);
    });
  }

  /** The name of a field whose file is still on its way, or null. */
  pending() {
    return this.active.size ? this.active.keys().next().value : null;
  }

  isPending(name) {
    return this.active.has(name);
  }

  text(key, params = {}) {
    const template = this.config.texts[key] || key;
    return template.replace(/\{(\w+)\}/g, (_, name) => String(params[name] ?? ""));
  }

  chosen(input) {
    const name = input.name.slice(0, -SUFFIX.length);
    const file = input.files && input.files[0];
    this.cancel(name, false);
    this.hooks.setUploadError(name, null);
    if (!file) return;
    const rules = this.hooks.rulesFor(name) || { accept: [] };
    const refusal = fileError(rules, file, this.hooks.message, this.config.limits);
    if (refusal) {
      input.value = ""; // never posted: the server would refuse it the same way
      this.status(input).replaceChildren();
      this.hooks.setUploadError(name, refusal);
      return;
    }
    this.upload(name, input, file);
  }

  status(input) {
    const box = input.closest(".lb-file") || input.parentElement;
    let status = box.querySelector(":scope > [data-upload-status]");
    if (!status) {
      status = element("div", "lb-upload");
      status.dataset.uploadStatus = "";
      status.setAttribute("aria-live", "polite");
      box.append(status);
    }
    return status;
  }

  upload(name, input, file) {
    const status = this.status(input);
    const bar = element("div", "progress-bar progress-bar-striped progress-bar-animated", "0%");
    bar.style.width = "0%";
    const progress = element("div", "progress flex-grow-1 lb-upload-progress");
    progress.setAttribute("role", "progressbar");
    progress.setAttribute("aria-label", this.text("fv_upload_progress"));
    progress.setAttribute("aria-valuemin", "0");
    progress.setAttribute("aria-valuemax", "100");
    progress.setAttribute("aria-valuenow", "0");
    progress.append(bar);
    const cancel = element("button", "btn btn-sm btn-outline-secondary text-nowrap");
    cancel.type = "button";
    cancel.dataset.uploadCancel = "";
    cancel.append(element("i", "bi bi-x-lg"), ` ${this.text("fv_upload_cancel")}`);
    cancel.addEventListener("click", () => this.cancel(name, true));
    const row = element("div", "d-flex align-items-center gap-2");
    row.append(progress, cancel);
    const caption = element("div", "small text-body-secondary mt-1 text-truncate",
      `${this.text("fv_uploading", { name: file.name })} · ${sizeText(file.size)}`);
    status.replaceChildren(row, caption);
    input.disabled = true;

    const xhr = new XMLHttpRequest();
    this.active.set(name, xhr);
    xhr.upload.addEventListener("progress", (event) => {
      if (!event.lengthComputable) return;
      const percent = Math.min(100, Math.floor((event.loaded / event.total) * 100));
      bar.style.width = `${percent}%`;
      bar.textContent = `${percent}%`;
      progress.setAttribute("aria-valuenow", String(percent));
    });
    const finish = () => {
      this.active.delete(name);
      input.disabled = false;
      input.value = ""; // the id stands in for the bytes from now on
    };
    xhr.addEventListener("load", () => {
      finish();
      if (xhr.status === 201 && xhr.response && xhr.response.id) {
        this.done(name, input, xhr.response, status);
      } else {
        status.replaceChildren();
        this.hooks.setUploadError(name, serverMessage(xhr, this.text("fv_upload_failed")));
      }
    });
    xhr.addEventListener("error", () => {
      finish();
      status.replaceChildren();
      this.hooks.setUploadError(name, this.text("fv_upload_failed"));
    });
    xhr.addEventListener("abort", () => {
      finish();
      status.replaceChildren(element("div", "small text-body-secondary mt-1",
        this.text("fv_upload_cancelled")));
    });
    const body = new FormData();
    body.append("form", this.config.upload.form);
    body.append("field", apiFieldName(name));
    body.append("file", file, file.name);
    xhr.open("POST", this.config.upload.url);
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Accept-Language", this.config.lang);
    xhr.setRequestHeader("X-CSRFToken", this.csrfToken());
    xhr.send(body);
  }

  csrfToken() {
    const field = this.form.querySelector("input[name=csrf_token]");
    const meta = document.querySelector("meta[name=csrf-token]");
    return (field && field.value) || (meta && meta.content) || "";
  }

  cancel(name, byUser) {
    const xhr = this.active.get(name);
    if (xhr) xhr.abort();
    else if (byUser) this.active.delete(name);
  }

  done(name, input, stored, status) {
    const box = input.closest(".lb-file") || input.parentElement;
    const hidden = box.querySelector(`input[type=hidden][name="${CSS.escape(name)}"]`);
    if (hidden) hidden.value = String(stored.id);
    const clear = box.querySelector(`input[type=checkbox][name="${CSS.escape(`${name}.clear`)}"]`);
    if (clear) clear.checked = false;
    const current = box.querySelector("[data-current-file]");
    if (current) current.hidden = true; // the new file replaces it on save
    const link = element("a", "", stored.filename);
    link.href = `${this.config.upload.download}${stored.id}`;
    const line = element("div", "small mt-1 lb-upload-done");
    line.append(element("i", "bi bi-check-circle-fill text-success"),
      ` ${this.text("fv_uploaded")}${this.config.separator}`, link, ` · ${sizeText(stored.size)}`);
    status.replaceChildren(line);
    this.hooks.uploaded(name);
  }
}
