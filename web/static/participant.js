// Participants' pages: the organizer's live count of ballots received (polls a small JSON read). Pages work without it.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("[data-live]").forEach((el) => {
    const url = el.getAttribute("data-live");
    const tick = () => fetch(url, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((d) => { if (d && typeof d.received === "number") el.textContent = String(d.received); })
      .catch(() => {});
    setInterval(tick, 5000);
  });
  // the reviewer's return form: ticking a finding writes it into the reason (the server skips findings already there)
  document.querySelectorAll("form.ret").forEach((form) => {
    const note = form.querySelector("textarea[name=note]");
    form.querySelectorAll("input[name=finding]").forEach((box) => box.addEventListener("change", () => {
      const lines = note.value.split("\n").filter((line) => line.trim() && line !== box.value);
      if (box.checked) lines.push(box.value);
      note.value = lines.join("\n");
    }));
  });
});
