// The console's only script: confirm returns and destructive actions, a back link, the menu on phones, search
// suggestions, table labels for the card layout, printing. Pages work without it.
document.documentElement.classList.add("js");
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("a[data-back]").forEach((a) => a.addEventListener("click", (e) => {
    if (history.length > 1) { e.preventDefault(); history.back(); }
  }));
  document.querySelectorAll("form.action.ret").forEach((form) => form.addEventListener("submit", (e) => {
    const note = form.querySelector("input[name=note]");
    if (note && !note.value.trim()) { e.preventDefault(); note.focus(); }
  }));

  // the menu collapses under a narrow screen: one button opens it
  const toggle = document.querySelector(".menu-toggle");
  const menu = document.getElementById("site-menu");
  if (toggle && menu) {
    toggle.addEventListener("click", () => {
      const open = toggle.getAttribute("aria-expanded") !== "true";
      toggle.setAttribute("aria-expanded", String(open));
      menu.classList.toggle("open", open);
    });
  }

  // tables become cards on a phone: each cell is labelled by its column's header
  document.querySelectorAll("main table").forEach((table) => {
    const heads = Array.from(table.querySelectorAll("thead th")).map((th) => th.textContent.trim());
    if (!heads.length) return;
    table.classList.add("cards");
    table.querySelectorAll("tbody tr").forEach((tr) => {
      Array.from(tr.children).forEach((td, i) => { if (heads[i] && !td.hasAttribute("colspan")) td.dataset.label = heads[i]; });
    });
  });

  // search suggestions (code, name, pinyin initials) into the datalist of every [data-search] input
  document.querySelectorAll("input[data-search]").forEach((input) => {
    const list = input.list;
    if (!list) return;
    let timer = null;
    let last = "";
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(async () => {
        const q = input.value.trim();
        if (!q || q === last) return;
        last = q;
        try {
          const response = await fetch("/api/search?q=" + encodeURIComponent(q), { credentials: "same-origin" });
          if (!response.ok) return;
          const hits = await response.json();
          list.replaceChildren(...hits.map((h) => {
            const option = document.createElement("option");
            option.value = input.dataset.search === "name" ? h.name : h.code;
            option.label = h.name + " · " + h.code + (h.trail ? " · " + h.trail : "");
            return option;
          }));
        } catch (error) { /* suggestions are a convenience: the form still submits */ }
      }, 150);
    });
  });

  document.querySelectorAll("button[data-print]").forEach((b) => b.addEventListener("click", () => window.print()));
  document.querySelectorAll("form[data-confirm]").forEach((form) => form.addEventListener("submit", (e) => {
    if (!window.confirm(form.dataset.confirm)) e.preventDefault();
  }));
});
