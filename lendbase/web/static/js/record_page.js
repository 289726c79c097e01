// The record page: show a masked sensitive value after the user states a reason (the server
// checks the unmask right and logs the view).
const modal = document.getElementById("unmask-modal");
const unmaskForm = document.getElementById("unmask-form");

if (modal && unmaskForm) {
  const reason = unmaskForm.querySelector("[name=reason]");
  const error = unmaskForm.querySelector("[data-unmask-error]");
  let field = null;

  modal.addEventListener("show.bs.modal", (event) => {
    const button = event.relatedTarget;
    field = button.dataset.unmaskField;
    unmaskForm.action = button.dataset.unmaskUrl;
    unmaskForm.querySelector("[data-unmask-label]").textContent = button.dataset.unmaskLabel;
    reason.classList.remove("is-invalid");
    error.textContent = "";
  });
  modal.addEventListener("shown.bs.modal", () => reason.focus());

  unmaskForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const response = await fetch(unmaskForm.action, {
      method: "POST",
      body: new FormData(unmaskForm),
      headers: { Accept: "application/json", "X-Requested-With": "fetch" },
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      const fields = (body.error && body.error.fields) || {};
      error.textContent = (fields.reason || [body.error ? body.error.message : response.statusText])
        .join(" ");
      reason.classList.add("is-invalid");
      return;
    }
    const target = document.querySelector(`[data-sensitive-value="${field}"]`);
    if (target) {
      target.textContent = body.value;
      target.classList.add("lb-revealed");
      const button = document.querySelector(`[data-unmask-field="${field}"]`);
      if (button) button.remove();
    }
    reason.value = "";
    window.bootstrap.Modal.getOrCreateInstance(modal).hide();
  });
}
