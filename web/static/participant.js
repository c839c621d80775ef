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
});
