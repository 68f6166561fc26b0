// The meeting page: live job progress, the sheets-read counter and the reconciliation tables,
// pushed by the console's SSE stream (/api/meetings/{id}/events).
"use strict";
(function () {
  const page = JSON.parse(document.getElementById("page-data").textContent);
  const L = page.labels;
  const csrf = document.body.dataset.csrf;
  const list = document.getElementById("job-list");
  const jobs = new Map();

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") node.className = v; else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c);
    return node;
  }

  function renderJob(j) {
    let card = jobs.get(j.id);
    if (!card) {
      card = el("div", { class: "job", "data-job": j.id });
      jobs.set(j.id, card);
      list.prepend(card);
    }
    const counts = el("div", { class: "counts" });
    for (const [k, v] of Object.entries(j.counts)) {
      const bad = ["unreadable", "refused", "unknown_serial", "duplicate", "not_stored"].includes(k);
      counts.append(el("span", { class: bad ? "bad" : "", "data-outcome": k }, `${L[k] || k} ${v}`));
    }
    const head = el("header", {},
      el("span", { class: `state ${j.state}`, "data-state": j.state }, L[j.state] || j.state),
      el("span", { class: "big", "data-pages": j.pages }, `${j.pages}`), ` ${L.pages}`,
      el("span", { class: "muted" }, ` · ${j.label} · ${j.operator}`),
      el("span", { class: "muted" }, j.pages_per_minute ? ` · ${L.rate} ${j.pages_per_minute} ${L.per_min}` : ""));
    card.replaceChildren(head, counts);
    if (j.state === "running" && page.can_operate && j.kind !== "api") {
      const f = el("form", { method: "post", action: `/meetings/${page.meeting}/jobs/${j.id}/stop`, class: "inline" },
        el("input", { type: "hidden", name: "csrf_token", value: csrf }),
        el("button", { class: "link danger" }, L.stop));
      head.append(f);
    }
    if (j.refeed.length) {
      card.append(el("b", {}, L.refeed), el("ul", { class: "refeed" }, ...j.refeed.map((r) => el("li", {}, r))));
    }
    if (j.refused.length) {
      card.append(el("b", {}, L.refused_list), el("ul", {}, ...j.refused.map((r) => el("li", {}, r))));
    }
    if (j.note) card.append(el("p", { class: "muted", "data-note": "" }, j.note));
    if (j.error) card.append(el("p", { class: "error" }, j.error));
  }

  for (const j of JSON.parse(document.getElementById("jobs-data").textContent).reverse()) renderJob(j);

  function pct(x) { return x === null || x === undefined ? "–" : (x * 100).toFixed(1) + "%"; }
  function dash(x) { return x === null || x === undefined ? "–" : String(x); }

  function renderTally(results) {
    const alarms = document.getElementById("alarms");
    alarms.replaceChildren();
    const shown = new Set();  // a meeting-wide notice (pages unresolved) once, not per form
    for (const r of results) {
      const rec = r.reconciliation;
      if (rec.vote_void) {
        alarms.append(el("div", { class: "alarm", role: "alert", "data-alarm": "vote_void" },
          `⚠ ${r.form.title}：${L.vote_void} (${L.issued} ${rec.issued}, ${L.returned} ${rec.returned})`));
      }
      for (const n of r.alarms) if (n.code !== "returned_exceeds_issued") alarms.append(el("div", { class: "alarm", role: "alert" }, "⚠ " + n.message));
      const recon = ["participation_low", "returned_exceeds_present", "pending_review",
        "pages_unresolved", "present_exceeds_expected", "batch_without_category"];
      for (const n of r.warnings) if (recon.includes(n.code) && !shown.has(n.message) && shown.add(n.message)) alarms.append(el("div", { class: "warning", "data-code": n.code }, "⚠ " + n.message));
      const notes = r.warnings.filter((n) => !recon.includes(n.code));
      if (notes.length) {
        const lines = r.warning_summary || [];
        const all = notes.map((n) => el("div", { class: "warning" }, n.message));
        // the summary lines (one per cadre, translated) first, every notice folded under them
        const d = el("details", { class: "warnings", "data-form": r.form.id },
          el("summary", { class: "warning" }, `${r.form.title}：${notes.length} ${L.notices}`),
          ...lines.map((w) => el("div", { class: "warning", "data-summary": w.subject }, w.message)),
          ...(lines.length ? [el("details", { class: "warnings-all" }, el("summary", { class: "muted" }, L.all_notices), ...all)] : all));
        if (lines.length <= 6) d.open = true;
        alarms.append(d);
      }
      const note = document.querySelector(`p[data-recon-note="${CSS.escape(r.form.id)}"]`);
      if (note) note.textContent = `${L.issued} ${dash(rec.issued)} · ${L.returned} ${rec.returned}` + (r.provisional ? ` · ${L.provisional}` : "");
      const table = document.querySelector(`table[data-recon="${CSS.escape(r.form.id)}"] tbody`);
      if (!table) continue;
      table.replaceChildren(...rec.rows.map((row) => {
        const tr = el("tr", { class: `${row.participation_low ? "low" : ""} ${row.bucket === "_all" ? "total" : ""}` });
        for (const v of [row.label, dash(row.expected), row.present, row.returned, row.valid, row.invalid,
          row.abstain, row.pending_review, pct(row.participation) + (row.participation_low ? " ⚠" : "")]) {
          tr.append(el("td", {}, String(v)));
        }
        return tr;
      }));
    }
  }

  let refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(async () => {
      refreshTimer = null;
      // the figures with their notices already in the page's language (not the API's record)
      const res = await fetch(`/meetings/${page.meeting}/live.json`, { headers: { Accept: "application/json" } });
      if (res.ok) renderTally(await res.json());
      const rq = await fetch(`/api/meetings/${page.meeting}/review`, { headers: { Accept: "application/json" } });
      if (rq.ok) document.getElementById("open-items").textContent = (await rq.json()).length;
    }, 1200);
  }

  const events = new EventSource(`/api/meetings/${page.meeting}/events`);
  events.addEventListener("job", (e) => renderJob(JSON.parse(e.data)));
  events.addEventListener("aggregate", (e) => {
    document.getElementById("live-read").textContent = JSON.parse(e.data).read;
    refreshSoon();
  });
  events.addEventListener("decision", refreshSoon);
  events.addEventListener("meeting", refreshSoon);
  // logged out, disabled or given another role: the page as this user may see it now
  events.addEventListener("revoked", () => { events.close(); location.reload(); });
})();
