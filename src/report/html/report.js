"use strict";
// tcpaudit HTML report: draws the anomaly table, the listener timelines and the connection
// waterfall from the JSON in #data. No network access, no libraries.
(function () {
  const D = JSON.parse(document.getElementById("data").textContent);
  const $ = (s) => document.querySelector(s);
  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const NS = "http://www.w3.org/2000/svg";
  const svg = (tag, attrs) => {
    const e = document.createElementNS(NS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    return e;
  };

  // ---- anomaly table: filter, sort, pages -------------------------------------------------
  // A detail (as the JSON lines write it) as `key=value` pairs, lists and maps in brackets.
  const show = (v) => Array.isArray(v) ? "[" + v.map(show).join(", ") + "]"
    : v !== null && typeof v === "object" ? "{" + Object.entries(v).map(([k, x]) => k + "=" + show(x)).join(", ") + "}"
    : v === null ? "-" : v === true ? "yes" : v === false ? "no" : String(v);
  for (const a of D.anomalies) a.detail = Object.entries(a.detail).map(([k, v]) => k + "=" + show(v)).join(" ");
  const PAGE = 200;
  const kinds = [...new Set(D.anomalies.map((a) => a.id))].sort();
  for (const k of kinds) $("#kind").appendChild(el("option", {}, k));
  let sortKey = "frame", sortDir = 1, page = 0;
  function rows() {
    const q = $("#q").value.trim().toLowerCase();
    const sev = $("#sev").value, kind = $("#kind").value;
    let r = D.anomalies.filter((a) =>
      (!sev || a.sev === sev) && (!kind || a.id === kind) &&
      (!q || [a.id, a.listener || "", "#" + (a.conn || ""), a.detail, String(a.frame)]
        .join(" ").toLowerCase().includes(q)));
    r.sort((a, b) => {
      const x = a[sortKey], y = b[sortKey];
      return (x === y ? a.frame - b.frame : (x === null ? 1 : y === null ? -1 : x < y ? -1 : 1)) * sortDir;
    });
    return r;
  }
  function drawTable() {
    const r = rows();
    const pages = Math.max(1, Math.ceil(r.length / PAGE));
    page = Math.min(page, pages - 1);
    const tb = $("#atable tbody");
    tb.textContent = "";
    for (const a of r.slice(page * PAGE, page * PAGE + PAGE)) {
      const tr = el("tr", { "data-id": a.id, "data-sev": a.sev });
      tr.appendChild(el("td", {}, a.frame));
      tr.appendChild(el("td", {}, a.t.toFixed(6)));
      const id = el("td", { title: (D.explain[a.id] || ["", ""])[1] }, a.id);
      tr.appendChild(id);
      const s = el("td");
      s.appendChild(el("span", { class: "sev " + a.sev }, a.sev));
      tr.appendChild(s);
      const c = el("td");
      if (a.conn !== null) {
        const has = document.getElementById("conn-" + a.conn);
        c.appendChild(has ? el("a", { href: "#conn-" + a.conn }, "#" + a.conn) : document.createTextNode("#" + a.conn));
      }
      tr.appendChild(c);
      tr.appendChild(el("td", {}, a.listener || ""));
      tr.appendChild(el("td", { class: "detail" }, a.detail));
      tb.appendChild(tr);
    }
    $("#count").textContent = r.length + " of " + D.anomalies.length;
    const p = $("#pager");
    p.textContent = "";
    if (pages > 1) {
      const b1 = el("button", {}, "‹ previous"), b2 = el("button", {}, "next ›");
      b1.disabled = page === 0; b2.disabled = page >= pages - 1;
      b1.onclick = () => { page--; drawTable(); };
      b2.onclick = () => { page++; drawTable(); };
      p.append(b1, el("span", {}, "page " + (page + 1) + " of " + pages), b2);
    }
    document.querySelectorAll("#atable th").forEach((th) => {
      th.classList.toggle("asc", th.dataset.k === sortKey && sortDir > 0);
      th.classList.toggle("desc", th.dataset.k === sortKey && sortDir < 0);
    });
  }
  // A link can carry a filter: report.html#q=rst_abort&sev=warning&kind=half_open.
  if (location.hash.includes("=")) {
    const h = new URLSearchParams(location.hash.slice(1));
    for (const k of ["q", "sev", "kind"]) if (h.has(k)) $("#" + k).value = h.get(k);
  }
  for (const id of ["#q", "#sev", "#kind"]) $(id).addEventListener("input", () => { page = 0; drawTable(); });
  document.querySelectorAll("#atable th").forEach((th) => th.addEventListener("click", () => {
    sortDir = sortKey === th.dataset.k ? -sortDir : 1;
    sortKey = th.dataset.k;
    drawTable();
  }));
  drawTable();

  // ---- listener timelines -------------------------------------------------------------------
  const lc = $("#lcharts");
  if (!D.listeners.length) lc.appendChild(el("p", { class: "note" }, "No listener had 10 attempts or more."));
  for (const L of D.listeners) {
    const W = 520, H = 150, P = 28, n = L.syns.length;
    const box = el("div", { class: "lchart" });
    box.appendChild(el("h3", {}, L.listener + " · " + L.attempts + " attempts"));
    const s = svg("svg", { width: W, height: H + 20, viewBox: `0 0 ${W} ${H + 20}` });
    const top = Math.max(...L.half_open, ...L.syns.map((v) => v / L.width), 1);
    const ymax = Math.max(top, Math.min(L.backlog, top * 1.5));
    const x = (i) => P + (i / n) * (W - P - 6), y = (v) => H - (v / ymax) * (H - 10);
    for (const [a, b] of L.floods) {
      const xa = x((a - L.start) / L.width), xb = x((b - L.start) / L.width);
      s.appendChild(svg("rect", { x: xa, y: 4, width: Math.max(2, xb - xa), height: H - 4, fill: "#fee4e2" }));
    }
    s.appendChild(svg("line", { x1: P, y1: H, x2: W - 6, y2: H, stroke: "#d0d5dd" }));
    if (L.backlog <= ymax) {
      s.appendChild(svg("line", { x1: P, y1: y(L.backlog), x2: W - 6, y2: y(L.backlog), stroke: "#f79009", "stroke-dasharray": "4 3" }));
      const t = svg("text", { x: W - 8, y: y(L.backlog) - 3, "text-anchor": "end" }); t.textContent = "backlog " + L.backlog; s.appendChild(t);
    }
    const line = (vals, color) => s.appendChild(svg("polyline", {
      points: vals.map((v, i) => x(i + 0.5) + "," + y(v)).join(" "), fill: "none", stroke: color, "stroke-width": 1.6 }));
    line(L.syns.map((v) => v / L.width), "#2e90fa");
    line(L.half_open, "#7f56d9");
    const ratio = L.syns.map((v, i) => (v ? L.completed[i] / v : null));
    s.appendChild(svg("polyline", { points: ratio.map((r, i) => (r === null ? null : x(i + 0.5) + "," + (H - r * (H - 10)))).filter(Boolean).join(" "),
      fill: "none", stroke: "#12b76a", "stroke-width": 1, "stroke-dasharray": "2 2" }));
    const lab = (tx, txt) => { const t = svg("text", { x: tx, y: H + 14 }); t.textContent = txt; s.appendChild(t); };
    lab(P, "+" + L.start.toFixed(1) + " s");
    lab(W - 70, "+" + (L.start + n * L.width).toFixed(1) + " s");
    lab(P + 90, "— SYN/s  — pending  ┄ completed share (0–1)");
    const ym = svg("text", { x: 2, y: 12 }); ym.textContent = Math.round(ymax); s.appendChild(ym);
    box.appendChild(s);
    lc.appendChild(box);
  }

  // ---- waterfall --------------------------------------------------------------------------
  const WPAGE = 500;
  let wpage = 0;
  function drawWaterfall() {
    const C = D.conns, pages = Math.max(1, Math.ceil(C.length / WPAGE));
    const part = C.slice(wpage * WPAGE, wpage * WPAGE + WPAGE);
    const wf = $("#wf");
    wf.textContent = "";
    if (!part.length) { wf.appendChild(el("p", { class: "note" }, "No connection.")); return; }
    const t0 = Math.min(...part.map((c) => c.start));
    const t1 = Math.max(...part.map((c) => Math.max(c.end, c.tw || 0)));
    const W = 1000, LBL = 230, RH = 12, H = part.length * RH + 34;
    const x = (t) => LBL + ((t - t0) / Math.max(t1 - t0, 1e-6)) * (W - LBL - 10);
    const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` });
    // A time axis: five ticks, seconds since the capture's first packet.
    for (let k = 0; k <= 4; k++) {
      const t = t0 + ((t1 - t0) * k) / 4, xx = x(t);
      s.appendChild(svg("line", { x1: xx, y1: 14, x2: xx, y2: H, stroke: "#eaecf0" }));
      const tt = svg("text", { x: xx, y: 10, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle" });
      tt.textContent = "+" + t.toFixed(t1 - t0 < 10 ? 3 : 1) + " s";
      s.appendChild(tt);
    }
    part.forEach((c, i) => {
      const yy = 20 + i * RH;
      const g = svg("g");
      const title = svg("title");
      title.textContent = `#${c.id} ${c.orig} → ${c.resp} ${c.states[0]}/${c.states[1]} (${c.reason})` + (c.anomalies.length ? "\n" + c.anomalies.join(", ") : "");
      g.appendChild(title);
      const label = svg("text", { x: 2, y: yy + 9 });
      label.textContent = `#${c.id} ${c.resp}`;
      const endColor = c.reason === "rst" ? "#d92d20" : (c.reason === "timeout" || c.reason === "capture_end" || c.reason === "open") ? "#f79009" : "#2e90fa";
      const seg = (a, b, color) => { if (b !== null && a !== null && b >= a) g.appendChild(svg("rect", { x: x(a), y: yy + 2, width: Math.max(1.5, x(b) - x(a)), height: RH - 4, fill: color, rx: 1.5 })); };
      const hs = c.hs === null ? c.end : c.hs;
      seg(c.start, hs, "#7f56d9");
      const fin = c.fin === null ? c.end : c.fin;
      if (c.hs !== null) seg(c.hs, fin, endColor);
      if (c.fin !== null) seg(c.fin, c.end, c.reason === "rst" ? "#d92d20" : "#12b76a");
      if (c.tw !== null && c.tw >= c.end) g.appendChild(svg("rect", { x: x(c.end), y: yy + 4, width: Math.max(1, x(c.tw) - x(c.end)), height: RH - 8, fill: "#d0d5dd" }));
      if (c.flagged && document.getElementById("conn-" + c.id)) {
        const a = svg("a", { href: "#conn-" + c.id });
        a.appendChild(label); g.appendChild(a);
      } else g.appendChild(label);
      s.appendChild(g);
    });
    wf.appendChild(s);
    const p = $("#wpager");
    p.textContent = "";
    if (pages > 1) {
      const b1 = el("button", {}, "‹ earlier"), b2 = el("button", {}, "later ›");
      b1.disabled = wpage === 0; b2.disabled = wpage >= pages - 1;
      b1.onclick = () => { wpage--; drawWaterfall(); };
      b2.onclick = () => { wpage++; drawWaterfall(); };
      p.append(b1, el("span", {}, `connections ${wpage * WPAGE + 1}–${wpage * WPAGE + part.length} of ${C.length}`), b2);
    }
  }
  drawWaterfall();

  // ---- page loads -------------------------------------------------------------------------
  function drawPages() {
    const box = $("#pg");
    if (!box) return;
    const ms = (d) => d === null || d === undefined ? "-" : (d * 1e3).toFixed(1) + " ms";
    for (const p of D.pages) {
      const rows = [];
      if (p.dns) rows.push({ label: "dns " + p.name, a: p.dns.ts, b: p.dns.rtt === null ? p.dns.ts : p.dns.ts + p.dns.rtt,
        color: "#98a2b3", tip: `query ${p.name}: ${p.dns.rtt === null ? "no answer" : ms(p.dns.rtt)} ${p.dns.rcode_name || ""} ${p.dns.answers.join(" ")}` });
      for (const c of p.connections) {
        rows.push({ label: `connect #${c.conn_id} ${c.server}`, a: c.connect, b: c.connect + (c.connect_time || 0), color: "#7f56d9",
          tip: `#${c.conn_id} handshake ${ms(c.connect_time)}`, link: c.conn_id });
        if (c.tls_start !== null) rows.push({ label: "tls " + (c.server_name || ""), a: c.tls_start, b: c.tls_start + (c.tls_time || 0),
          color: "#f79009", tip: `TLS handshake ${ms(c.tls_time)}` });
        for (const r of c.requests) {
          const a = r.sent, w = a + (r.send_time || 0) + (r.wait || 0), b = w + (r.download || 0);
          rows.push({ label: `${r.method || "?"} ${r.uri || "?"}`, a, b, wait: w, color: "#2e90fa",
            tip: `${r.method} ${r.uri} → ${r.status_code ?? "no response"}, ${r.response_body_len} B: send ${ms(r.send_time)}, wait ${ms(r.wait)}, download ${ms(r.download)}` });
        }
        rows.push({ label: `close #${c.conn_id}`, a: c.close, b: c.close, color: c.end_reason === "rst" ? "#d92d20" : "#12b76a",
          tip: `${c.end_reason}${c.closed_by ? ", " + c.closed_by + " first" : ""}${c.time_wait_end ? ", TIME-WAIT until +" + (c.time_wait_end - p.start).toFixed(1) + " s" : ""}` });
      }
      const t0 = p.start, t1 = Math.max(p.end, t0 + 1e-4);
      const W = 1000, LBL = 260, RH = 16, H = rows.length * RH + 26;
      const x = (t) => LBL + ((t - t0) / (t1 - t0)) * (W - LBL - 10);
      const div = el("div", { class: "page" });
      div.appendChild(el("h3", {}, `${p.name} from ${p.client} · ${ms(p.end - p.start)}`));
      const s = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}` });
      for (let k = 0; k <= 4; k++) {
        const t = t0 + ((t1 - t0) * k) / 4, xx = x(t);
        s.appendChild(svg("line", { x1: xx, y1: 14, x2: xx, y2: H, stroke: "#eaecf0" }));
        const tt = svg("text", { x: xx, y: 10, "text-anchor": k === 0 ? "start" : k === 4 ? "end" : "middle" });
        tt.textContent = "+" + ((t - t0) * 1e3).toFixed(t1 - t0 < 0.005 ? 3 : 1) + " ms";
        s.appendChild(tt);
      }
      rows.forEach((r, i) => {
        const yy = 18 + i * RH, g = svg("g"), title = svg("title");
        title.textContent = r.tip;
        g.appendChild(title);
        const label = svg("text", { x: 2, y: yy + 11 });
        label.textContent = r.label.length > 40 ? r.label.slice(0, 39) + "…" : r.label;
        if (r.link && document.getElementById("conn-" + r.link)) {
          const a = svg("a", { href: "#conn-" + r.link });
          a.appendChild(label); g.appendChild(a);
        } else g.appendChild(label);
        const bar = (a, b, color, op) => g.appendChild(svg("rect", { x: x(a), y: yy + 3, width: Math.max(2, x(b) - x(a)), height: RH - 6, fill: color, rx: 2, opacity: op }));
        if (r.wait !== undefined && r.wait > r.a) { bar(r.a, r.wait, r.color, 0.35); bar(r.wait, r.b, r.color, 1); }
        else bar(r.a, r.b, r.color, 1);
        s.appendChild(g);
      });
      div.appendChild(s);
      box.appendChild(div);
    }
  }
  drawPages();
})();
