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
  const px = (size) => Math.round(size * vh());

  function text(size) { return { color: "#f3f6fa", fontFamily: FONT, fontSize: px(size) }; }

  // how wide a text is drawn, in CSS pixels (for the room a chart keeps for its labels)
  const ruler = document.createElement("canvas").getContext("2d");
  function textWidth(s, fontPx) {
    ruler.font = `${fontPx}px ${FONT}`;
    return ruler.measureText(String(s)).width;
  }
  const pct = (r) => (r == null ? "" : `${(r * 100).toFixed(1)}%`);

  function panels(agg) {
    const out = [];
    const counts = new Set(agg.forms.map((f) => f.returned));
    for (const f of agg.forms) {
      // when the forms returned different numbers, every panel says its own form's
      const own = counts.size > 1 ? ` · ${T.returned} ${f.returned}` : "";
      f.positions.forEach((p, i) => out.push({ id: `${f.id}/p${i}`, kind: "bars", title: p.title,
        sub: `${f.title}${own} · ${T.quota} ${p.quota} · ${T.valid} ${p.valid} · ${T.invalid} ${p.void} · ${T.abstain} ${p.abstain}`,
        data: p, rows: p.bars.length }));
      f.stacks.forEach((s, i) => out.push({ id: `${f.id}/s${i}`, kind: "stack", title: s.title,
        sub: `${f.title}${own} · ${T.people.replace("{n}", s.people)}` + (s.sub_rows ? ` · ${T.sub_rows_mean.replace("{k}", s.sub_rows)}` : "")
          + (s.rate_label ? ` · ${T.right_of_bars}${s.rate_label}` : ""),
        data: s, rows: s.rows.length }));
      f.donuts.forEach((d, i) => out.push({ id: `${f.id}/d${i}`, kind: "donut", title: d.title, sub: `${f.title}${own}`, data: d, rows: 4 }));
    }
    return out;
  }

  // the font of a chart's row labels: the screen's size, smaller when many rows share the box
  function rowFont(box, rows, base) {
    const rowPx = box.clientHeight / Math.max(rows, 1);
    return Math.max(10, Math.min(px(base), Math.floor(rowPx * 0.62)));
  }

  // category labels (names) at most `maxShare` of the chart's width, cut with … (full on hover)
  function nameAxis(names, font, box, maxShare) {
    const widest = Math.max(...names.map((n) => textWidth(n, font)), 0);
    const width = Math.min(Math.ceil(widest) + 6, Math.floor(box.clientWidth * maxShare));
    return { width, label: { color: "#f3f6fa", fontFamily: FONT, fontSize: font, interval: 0, width, overflow: "truncate", ellipsis: "…" } };
  }

  function tooltip(rows) {
    return { trigger: "axis", axisPointer: { type: "shadow" }, confine: true,
      textStyle: { fontFamily: FONT, fontSize: px(1.9) },
      formatter: (items) => { const i = items[0].dataIndex; return rows(i); } };
  }

  function barsOption(p, box) {
    const names = p.bars.map((b) => b.label);
    const font = rowFont(box, names.length, 2.3);
    const axis = nameAxis(names, font, box, 0.38);
    const valueText = (b) => (b.rate == null ? `${b.value}` : `${b.value}  ${pct(b.rate)}`);
    const labelFont = Math.max(10, Math.round(font * 0.9));
    const right = Math.ceil(Math.max(...p.bars.map((b) => textWidth(valueText(b), labelFont)), 0)) + 12;
    return {
      textStyle: text(2), animationDurationUpdate: 400,
      tooltip: tooltip((i) => `${p.bars[i].full || p.bars[i].label}<br>${valueText(p.bars[i])}`),
      grid: { left: axis.width + 10, right, top: 6, bottom: px(3.2) },
      yAxis: { type: "category", inverse: true, data: names, axisLine: { lineStyle: { color: "#4a6480" } },
        axisTick: { show: false }, axisLabel: axis.label, triggerEvent: true },
      xAxis: { type: "value", minInterval: 1, axisLabel: text(1.5), splitLine: { lineStyle: { color: "#22384f" } } },
      series: [{ type: "bar", barMaxWidth: "70%", data: p.bars.map((b) => b.value),
        itemStyle: { color: "#f2c14e", borderRadius: [0, 4, 4, 0] },
        label: { show: true, position: "right", color: "#f3f6fa", fontFamily: FONT, fontSize: labelFont, fontWeight: "bold",
          formatter: (x) => valueText(p.bars[x.dataIndex]) } }],
    };
  }

  function stackOption(s, box) {
    const rows = s.rows.map((r) => r.label);
    const colours = levelColours(s.levels);
    const legendFont = Math.max(10, px(1.8));
    const legendLines = legendRows(s.levels, legendFont, box.clientWidth);
    const legendH = legendLines * (legendFont + 10);
    const font = Math.max(10, Math.min(px(2.2), Math.floor(((box.clientHeight - legendH) / Math.max(rows.length, 1)) * 0.62)));
    const axis = nameAxis(rows, font, box, 0.36);
    const rateFont = Math.max(10, Math.round(font * 0.9));
    const right = Math.ceil(Math.max(...s.rows.map((r) => textWidth(pct(r.rate), rateFont)), 0)) + 12;
    const plotW = box.clientWidth - axis.width - 10 - right;
    const share = (r, k) => (r.shares && r.shares[k] != null ? 100 * r.shares[k] : 0);
    const segFont = Math.max(9, Math.round(font * 0.75));
    const rowPx = (box.clientHeight - legendH - 4 - px(3.2)) / Math.max(rows.length, 1);
    const segments = rowPx * 0.6 >= segFont + 2;  // bars tall enough to carry a share inside
    return {
      textStyle: text(2), animationDurationUpdate: 400,
      tooltip: tooltip((i) => { const r = s.rows[i]; return `${r.full || r.label}<br>` + s.levels.map((l, k) => `${l} ${share(r, k).toFixed(1)}%`).join("<br>"); }),
      legend: { top: 0, left: "center", width: box.clientWidth - 8, itemGap: LEGEND_GAP, textStyle: { color: "#f3f6fa", fontFamily: FONT, fontSize: legendFont }, itemWidth: legendFont * 1.4, itemHeight: legendFont * 0.9 },
      grid: { left: axis.width + 10, right, top: legendH + 4, bottom: px(3.2) },
      xAxis: { type: "value", max: 100, axisLabel: { ...text(1.5), formatter: "{value}%" }, splitLine: { lineStyle: { color: "#22384f" } } },
      yAxis: { type: "category", inverse: true, data: rows, axisLabel: axis.label, axisTick: { show: false }, triggerEvent: true },
      series: s.levels.map((level, k) => ({
        name: level, type: "bar", stack: "all", data: s.rows.map((r) => share(r, k)),
        itemStyle: { color: colours[k] }, barCategoryGap: rows.length > 10 ? "25%" : "35%",
        label: { show: true, color: "#0c1a2b", fontFamily: FONT, fontSize: segFont,
          // a segment carries its share only when the share fits inside it
          formatter: (x) => (segments && x.value > 0 && (x.value / 100) * plotW > textWidth(`${x.value.toFixed(0)}%`, segFont) + 6 ? `${x.value.toFixed(0)}%` : "") },
      })).concat([{
        type: "bar", stack: "all", silent: true, data: s.rows.map(() => 0), itemStyle: { color: "transparent" },
        label: { show: true, position: "right", color: "#f2c14e", fontFamily: FONT, fontSize: rateFont,
          formatter: (x) => pct(s.rows[x.dataIndex].rate) },
      }]),
    };
  }

  // how many lines a legend of `names` takes across `width` (ECharts wraps it)
  const LEGEND_GAP = 10;
  function legendRows(names, font, width) {
    let lines = 1, used = 0;
    for (const n of names) {
      const w = font * 1.4 + 5 + textWidth(n, font) + LEGEND_GAP;
      if (used + w > width - 8 && used > 0) { lines += 1; used = 0; }
      used += w;
    }
    return lines;
  }

  function donutOption(d, box) {
    const colours = levelColours(d.slices.map((s) => s.label));
    const rate = d.rate == null ? "–" : pct(d.rate);
    const legendFont = Math.max(10, Math.min(px(1.9), Math.floor(box.clientWidth / 24)));
    const legendNames = d.slices.map((s) => `${s.label} ${s.value}`);
    const legendH = legendRows(legendNames, legendFont, box.clientWidth) * (legendFont + 10);
    const side = Math.max(40, Math.min(box.clientWidth, box.clientHeight - legendH));
    const outer = Math.floor(side * 0.46);
    const big = Math.max(11, Math.round(outer * 0.36));
    const cy = Math.floor((box.clientHeight - legendH) / 2);
    return {
      textStyle: text(2), animationDurationUpdate: 400,
      tooltip: { trigger: "item", confine: true, textStyle: { fontFamily: FONT, fontSize: px(1.9) } },
      legend: { bottom: 0, left: "center", width: box.clientWidth - 8, itemGap: LEGEND_GAP, textStyle: { color: "#f3f6fa", fontFamily: FONT, fontSize: legendFont },
        itemWidth: legendFont * 1.2, itemHeight: legendFont * 0.8,
        formatter: (name) => { const s = d.slices.find((x) => x.label === name); return s ? `${name} ${s.value}` : name; } },
      title: [{ text: rate, left: "center", top: cy - Math.round(big * 0.85),
        textStyle: { color: "#f2c14e", fontFamily: FONT, fontSize: big, fontWeight: "bold" } },
      { text: d.rate_label, left: "center", top: cy + Math.round(big * 0.3),
        textStyle: { color: "#f3f6fa", fontFamily: FONT, fontSize: Math.max(9, Math.round(big * 0.42)), fontWeight: "normal" } }],
      series: [{ type: "pie", radius: [Math.floor(outer * 0.68), outer], center: ["50%", cy], label: { show: false },
        data: d.slices.map((s, k) => ({ name: s.label, value: s.value, itemStyle: { color: colours[k] } })) }],
    };
  }

  function optionFor(p, box) {
    return p.kind === "bars" ? barsOption(p.data, box) : p.kind === "stack" ? stackOption(p.data, box) : donutOption(p.data, box);
  }

  // the least height a panel needs: title, subtitle, legend and axis, and its rows at the
  // smallest legible size; what is left over is shared out by rows (flex-grow)
  const MIN_ROW_PX = 16;
  function need(p) {
    const head = px(2.6) * 1.25 + px(1) + 2 * px(1.7) * 1.3 + px(0.7);
    if (p.kind === "donut") return head + 150;
    const legend = p.kind === "stack" ? Math.max(10, px(1.8)) + 14 : 0;
    return head + legend + px(3.2) + 10 + p.rows * MIN_ROW_PX;
  }
  const grow = (p) => (p.kind === "donut" ? 3 : p.rows);

  // the panels in reading order, cut into columns of about equal need (the least heaviest
  // column); as few columns as hold every panel at its need, at least as many as the count
  // of panels asks for, at most 4
  function columns(list, height) {
    const w = list.map(need);
    const split = (limit) => {
      const out = [[]];
      let used = 0;
      list.forEach((p, i) => {
        if (used + w[i] > limit && used > 0) { out.push([]); used = 0; }
        out[out.length - 1].push(p);
        used += w[i];
      });
      return out;
    };
    const first = list.length <= 1 ? 1 : list.length <= 4 ? 2 : 3;
    let best = null;
    for (let cols = first; cols <= 4; cols++) {
      let lo = Math.max(...w), hi = w.reduce((a, b) => a + b, 0);
      while (hi - lo > 1) { const mid = (lo + hi) / 2; if (split(mid).length <= cols) hi = mid; else lo = mid; }
      best = split(hi);
      if (hi <= height || cols === Math.min(4, list.length)) break;
    }
    return best;
  }

  function layout(list) {
    const key = list.map((p) => p.id).join("|") + `@${window.innerWidth}x${window.innerHeight}`;
    if (key === layoutKey) return;
    layoutKey = key;
    for (const c of charts.values()) { c.observer.disconnect(); c.inst.dispose(); }
    charts.clear();
    main.replaceChildren();
    const cols = columns(list, main.clientHeight - 2 * px(1.6));
    main.style.setProperty("--cols", String(cols.length));
    const boxes = [];
    for (const col of cols) {
      const column = document.createElement("div");
      column.className = "column";
      main.append(column);
      for (const p of col) {
        const box = document.createElement("section");
        box.className = "chart";
        box.dataset.panel = p.id;
        box.dataset.kind = p.kind;
        box.style.flex = `${grow(p)} 1 ${Math.round(need(p))}px`;
        const h = document.createElement("h2");
        const sub = document.createElement("div");
        sub.className = "sub";
        const canvas = document.createElement("div");
        canvas.className = "canvas";
        box.append(h, sub, canvas);
        column.append(box);
        boxes.push([p, box, canvas]);
      }
    }
    // every panel is in place before any chart measures its box
    for (const [p, box, canvas] of boxes) {
      const inst = echarts.init(canvas, null, { renderer: "svg" });
      const observer = new ResizeObserver(() => inst.resize());
      observer.observe(canvas);
      charts.set(p.id, { inst, box, canvas, observer });
    }
  }

  function render(agg) {
    latest = agg;
    const counts = [...new Set(agg.forms.map((f) => f.returned))];
    document.getElementById("read").textContent = agg.read;
    const of = agg.present != null ? [T.present, agg.present] : agg.expected != null ? [T.expected, agg.expected] : null;
    document.getElementById("of").textContent = of ? `/ ${of[1]} ${of[0]}` : "";
    // forms that returned different numbers: each form's own count, so "200 / 223" is not read
    // as the count of every form
    const per = document.getElementById("per-form");
    per.textContent = counts.length > 1 ? agg.forms.map((f) => `${f.title} ${f.returned}`).join(" · ") : "";
    per.title = per.textContent;
    per.hidden = counts.length <= 1;
    document.getElementById("read-label").textContent = counts.length > 1 ? T.read_most : T.read;
    document.getElementById("read-bar").style.width = of && of[1] ? `${Math.min(100, (100 * agg.read) / of[1])}%` : "0";
    document.getElementById("alarm").hidden = !agg.vote_void;
    document.getElementById("provisional").hidden = !(agg.pending > 0 || agg.forms.some((f) => f.provisional));
    document.getElementById("pending").textContent = String(agg.pending || 0);  // 待处理 N (a count only)
    const list = panels(agg);
    layout(list);
    for (const p of list) {
      const c = charts.get(p.id);
      const h = c.box.querySelector("h2");
      const sub = c.box.querySelector(".sub");
      h.textContent = p.title;
      sub.textContent = p.sub;
      h.title = p.title;
      sub.title = p.sub;
      c.inst.resize();
      c.inst.setOption(optionFor(p, c.canvas), { notMerge: false, lazyUpdate: false });
    }
    body.dataset.rendered = String(Number(body.dataset.rendered || 0) + 1);
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
