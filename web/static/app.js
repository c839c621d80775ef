// The console's only script: confirm returns and destructive actions, and a back link. Pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("a[data-back]").forEach((a) => a.addEventListener("click", (e) => {
    if (history.length > 1) { e.preventDefault(); history.back(); }
  }));
  document.querySelectorAll("form.action.ret").forEach((form) => form.addEventListener("submit", (e) => {
    const note = form.querySelector("input[name=note]");
    if (note && !note.value.trim()) { e.preventDefault(); note.focus(); }
  }));
});
