// The review queue: one item at a time, decided with the keyboard.
// M marked · E empty · C cancelled (涂改作废: no vote) · W write-in (type the name first) · V void · U unvoid · A accept ·
// D dismiss · J next · K previous. Every decision carries the reason typed in its field.
"use strict";
(function () {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const csrf = document.body.dataset.csrf;
  const items = Array.from(document.querySelectorAll("section.item"));
  const KEYS = { m: "marked", e: "empty", c: "cancel", w: "writein", v: "void", u: "unvoid", a: "accept", d: "dismiss" };
  let current = 0;

  function select(i) {
    if (!items.length) return;
    current = Math.max(0, Math.min(items.length - 1, i));
    items.forEach((it, k) => it.classList.toggle("current", k === current));
    items[current].scrollIntoView({ block: "center", behavior: "smooth" });
  }

  function nextOpen(from) {
    for (let k = from + 1; k < items.length; k++) if (!items[k].classList.contains("done")) return k;
    return from;
  }

  async function decide(item, kind) {
    if (!page.can_decide || item.classList.contains("done")) return;
    if (!item.dataset.choices.split(" ").includes(kind)) return;
    const form = item.querySelector("form.decide");
    const out = form.querySelector(".result");
    const why = form.querySelector(".why").value;
    const nameField = form.querySelector(".writein");
    if (kind === "writein" && nameField && !nameField.value.trim()) { nameField.focus(); return; }
    const body = { kind, why, text: kind === "writein" && nameField ? nameField.value : "" };
    const res = await fetch(`/api/meetings/${page.meeting}/review/${encodeURIComponent(item.dataset.item)}`, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf, Accept: "application/json" },
      body: JSON.stringify(body),
    });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) {
      out.textContent = typeof data.detail === "string" ? data.detail : JSON.stringify(data.detail);
      out.className = "result error";
      if (/reason|why|原因/.test(out.textContent)) form.querySelector(".why").focus();
      return;
    }
    out.textContent = `✓ ${(page.kinds || {})[kind] || kind}`;  // the decision, in the page's language
    out.className = "result";
    const names = document.getElementById("writein-names");
    if (kind === "writein" && names && ![...names.options].some((o) => o.value === body.text)) {
      const option = document.createElement("option");
      option.value = body.text;
      names.append(option);  // suggested on the next write-in of this page
    }
    item.classList.add("done");
    const left = document.getElementById("remaining");
    left.textContent = String(Math.max(0, Number(left.textContent) - 1));
    select(nextOpen(current));
  }

  for (const item of items) {
    item.addEventListener("click", () => select(items.indexOf(item)));
    const form = item.querySelector("form.decide");
    if (!form) continue;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const kind = e.submitter && e.submitter.value;
      if (kind) decide(item, kind);
    });
  }

  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = e.target instanceof HTMLInputElement;
    const key = e.key.toLowerCase();
    if (typing) {
      if (e.key === "Escape") e.target.blur();
      return;
    }
    if (key === "j") { select(current + 1); e.preventDefault(); return; }
    if (key === "k") { select(current - 1); e.preventDefault(); return; }
    if (key === "r") { const w = items[current] && items[current].querySelector(".why"); if (w) { w.focus(); e.preventDefault(); } return; }
    const kind = KEYS[key];
    if (kind && items[current]) { e.preventDefault(); decide(items[current], kind); }
  });

  select(0);
})();
