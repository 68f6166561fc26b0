// The hall screen: live charts of one meeting's aggregates (ECharts), pushed by SSE.
// Reconnects by itself: EventSource retries (retry: 1000 ms); if the server refused the
// stream (e.g. while restarting) a new EventSource is made every 2 s; after every reconnect the
// full aggregate is fetched again, so nothing missed while away stays missing.
"use strict";
(function () {
  const body = document.body;
  const meeting = body.dataset.meeting;
  const query = body.dataset.query || "";
  const T = JSON.parse(document.getElementById("hall-text").textContent);
  const status = document.getElementById("status");
  const main = document.getElementById("charts");
  const FONT = '"Scantally CJK", "Scantally CJK Extra", "Noto Sans CJK SC", sans-serif';
  const GREEN = "#2fb67c", BLUE = "#3b82f6", ORANGE = "#f2a93b", RED = "#e5484d", GREY = "#8a99ab";
  const RANKED = { 1: [GREEN], 2: [GREEN, RED], 3: [GREEN, BLUE, RED], 4: [GREEN, BLUE, ORANGE, RED] };

  // best level green … worst red; 不了解 (don't know) grey
  function levelColours(levels) {
    const known = levels.filter((l) => !l.includes("不了解"));
    const ranked = RANKED[known.length] || [GREEN, BLUE, "#a78bfa", ORANGE, RED].slice(0, known.length);
    let k = 0;
    return levels.map((l) => (l.includes("不了解") ? GREY : ranked[k++] || GREY));
  }
  const charts = new Map();
  let layoutKey = "";
  let latest = null;
  let source = null;
  let lost = false;

  const vh = () => window.innerHeight / 100;

  function text(size) { return { color: "#f3f6fa", fontFamily: FONT, fontSize: Math.round(size * vh()) }; }

  function panels(agg) {
    const out = [];
    for (const f of agg.forms) {
      f.positions.forEach((p, i) => out.push({ id: `${f.id}/p${i}`, kind: "bars", title: p.title,
        sub: `限推 ${p.quota} 人 · ${T.valid} ${p.valid} · ${T.invalid} ${p.void} · ${T.abstain} ${p.abstain}`, data: p }));
      f.stacks.forEach((s, i) => out.push({ id: `${f.id}/s${i}`, kind: "stack", title: s.title,
        sub: s.rate_label ? `${f.title} · ${T.right_of_bars}${s.rate_label}` : f.title, data: s, tall: s.rows.length > 8 }));
      f.donuts.forEach((d, i) => out.push({ id: `${f.id}/d${i}`, kind: "donut", title: d.title, sub: f.title, data: d }));
    }
    return out;
  }

  function barsOption(p) {
    const names = p.bars.map((b) => b.label);
    return {
      textStyle: text(2), animationDurationUpdate: 400,
      grid: { left: "3%", right: "3%", top: "24%", bottom: "4%", containLabel: true },
      xAxis: { type: "category", data: names, axisLine: { lineStyle: { color: "#4a6480" } },
        axisLabel: { ...text(names.length > 6 ? 2 : 2.4), interval: 0, overflow: "break" } },
      yAxis: { type: "value", minInterval: 1, axisLabel: text(1.6), splitLine: { lineStyle: { color: "#22384f" } } },
      series: [{ type: "bar", barMaxWidth: "45%", data: p.bars.map((b) => b.value),
        itemStyle: { color: "#f2c14e", borderRadius: [6, 6, 0, 0] },
        label: { show: true, position: "top", ...text(p.bars.length > 6 ? 1.8 : 2.4), fontWeight: "bold", align: "center",
          formatter: (x) => { const r = p.bars[x.dataIndex].rate; return r == null || !x.value ? `${x.value}` : `${x.value}\n${(r * 100).toFixed(1)}%`; } } }],
    };
  }

  function stackOption(s) {
    const rows = s.rows.map((r) => r.label);
    const colours = levelColours(s.levels);
    const small = rows.length > 10;
    return {
      textStyle: text(2), animationDurationUpdate: 400,
      legend: { top: 0, textStyle: text(2), itemWidth: 2.4 * vh(), itemHeight: 1.6 * vh() },
      grid: { left: "2%", right: "9%", top: Math.round(5 * vh()), bottom: "3%", containLabel: true },
      xAxis: { type: "value", minInterval: 1, axisLabel: text(1.5), splitLine: { lineStyle: { color: "#22384f" } } },
      yAxis: { type: "category", inverse: true, data: rows, axisLabel: { ...text(small ? 1.8 : 2.3), interval: 0 } },
      series: s.levels.map((level, k) => ({
        name: level, type: "bar", stack: "all", data: s.rows.map((r) => r.counts[k]),
        itemStyle: { color: colours[k] }, barCategoryGap: small ? "25%" : "35%",
        label: { show: true, ...text(small ? 1.3 : 1.5), formatter: (x) => (x.value > 0 ? x.value : "") },
      })).concat([{
        type: "bar", stack: "all", silent: true, data: s.rows.map(() => 0), itemStyle: { color: "transparent" },
        label: { show: true, position: "right", ...text(small ? 1.5 : 1.8), color: "#f2c14e",
          formatter: (x) => { const r = s.rows[x.dataIndex].rate; return r == null ? "" : `${(r * 100).toFixed(1)}%`; } },
      }]),
    };
  }

  function donutOption(d) {
    const colours = levelColours(d.slices.map((s) => s.label));
    const rate = d.rate == null ? "–" : `${(d.rate * 100).toFixed(1)}%`;
    return {
      textStyle: text(2), animationDurationUpdate: 400,
      legend: { bottom: 0, textStyle: text(2.2) },
      title: { text: rate, subtext: d.rate_label, left: "center", top: "38%",
        textStyle: { ...text(5), color: "#f2c14e", fontWeight: "bold" }, subtextStyle: text(2.2) },
      series: [{ type: "pie", radius: ["45%", "72%"], center: ["50%", "46%"],
        data: d.slices.map((s, k) => ({ name: s.label, value: s.value, itemStyle: { color: colours[k] } })),
        label: { ...text(2.2), formatter: "{b}\n{c}" }, labelLine: { length: 10, length2: 10 } }],
    };
  }

  function optionFor(p) {
    return p.kind === "bars" ? barsOption(p.data) : p.kind === "stack" ? stackOption(p.data) : donutOption(p.data);
  }

  function layout(list) {
    const key = list.map((p) => p.id).join("|");
    if (key === layoutKey) return;
    layoutKey = key;
    for (const c of charts.values()) { c.observer.disconnect(); c.inst.dispose(); }
    charts.clear();
    main.replaceChildren();
    const n = list.length;
    main.style.setProperty("--cols", String(n <= 1 ? 1 : n <= 4 ? 2 : 3));
    const boxes = list.map((p) => {
      const box = document.createElement("section");
      box.className = "chart";
      box.dataset.panel = p.id;
      if (p.tall && n > 2) box.style.gridRow = "span 2";
      const h = document.createElement("h2");
      const sub = document.createElement("div");
      sub.className = "sub";
      const canvas = document.createElement("div");
      canvas.className = "canvas";
      box.append(h, sub, canvas);
      main.append(box);
      return [p, box, canvas];
    });
    // every panel is in the grid before any chart measures its box
    for (const [p, box, canvas] of boxes) {
      const inst = echarts.init(canvas, null, { renderer: "canvas" });
      const observer = new ResizeObserver(() => inst.resize());
      observer.observe(canvas);
      charts.set(p.id, { inst, box, observer });
    }
  }

  function render(agg) {
    latest = agg;
    document.getElementById("read").textContent = agg.read;
    const of = agg.present != null ? [T.present, agg.present] : agg.expected != null ? [T.expected, agg.expected] : null;
    document.getElementById("of").textContent = of ? `/ ${of[1]} ${of[0]}` : "";
    document.getElementById("read-bar").style.width = of && of[1] ? `${Math.min(100, (100 * agg.read) / of[1])}%` : "0";
    document.getElementById("alarm").hidden = !agg.vote_void;
    document.getElementById("provisional").hidden = !(agg.pending > 0 || agg.forms.some((f) => f.provisional));
    document.getElementById("pending").textContent = String(agg.pending || 0);  // 待处理 N (a count only)
    const list = panels(agg);
    layout(list);
    for (const p of list) {
      const c = charts.get(p.id);
      c.box.querySelector("h2").textContent = p.title;
      c.box.querySelector(".sub").textContent = p.sub;
      c.inst.setOption(optionFor(p), { notMerge: false, lazyUpdate: true });
    }
  }

  async function refetch() {
    try {
      const res = await fetch(`/hall/${meeting}/data${query}`, { headers: { Accept: "application/json" }, cache: "no-store" });
      if (res.ok) render(await res.json());
    } catch (e) { /* the stream's retry covers it */ }
  }

  function setStatus(live) {
    status.textContent = live ? T.live : T.lost;
    status.className = live ? "status live" : "status lost";
  }

  function connect() {
    source = new EventSource(`/hall/${meeting}/events${query}`);
    source.addEventListener("open", () => {
      setStatus(true);
      if (lost) refetch();
      lost = false;
    });
    source.addEventListener("aggregate", (e) => render(JSON.parse(e.data)));
    source.addEventListener("progress", () => { body.dataset.ticks = String(Number(body.dataset.ticks || 0) + 1); });
    source.addEventListener("revoked", () => { source.close(); status.textContent = "⛔"; });
    source.addEventListener("error", () => {
      setStatus(false);
      lost = true;
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
    });
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {  // font sizes follow the window height
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => { if (latest) render(latest); }, 150);
  });

  async function start() {
    if (body.classList.contains("extra-font") && window.FontFace) {
      try {
        const f = new FontFace("Scantally CJK Extra", `url(/hall/${meeting}/font.ttf${query})`);
        document.fonts.add(await f.load());
      } catch (e) { /* fall back to the system's fonts */ }
    }
    try { await document.fonts.load(`20px "Scantally CJK"`, "计票"); } catch (e) { /* ignore */ }
    connect();
  }
  start();
})();
