"use strict";
// The agenttrace run view. Every piece of recorded content reaches the page through textContent or
// a text node, never through innerHTML: a model's output that holds HTML or script is shown as text.
// Only the rows in view exist in the DOM (virtualised list), so 10,000 steps scroll and filter smoothly.
(function () {
  const RAW = document.getElementById("run-data").textContent;
  const PAYLOAD = JSON.parse(RAW);
  const RUN = PAYLOAD.run;
  const SUMMARIES = PAYLOAD.summaries || [];
  const STEPS = RUN.steps || [];
  // --compare: a second run, and the aligned pairs of the comparison engine (replay/compare.py).
  const CMP = PAYLOAD.compare || null;
  const STEPS_B = CMP ? CMP.run.steps || [] : [];
  const SUMMARIES_B = CMP ? CMP.summaries || [] : [];
  const ITEMS = CMP ? CMP.pairs : STEPS; // one row per item: a step, or a pair of steps
  function stepOf(i) { // the step a row stands for (a pair: its first run's step, else its second's)
    if (!CMP) return STEPS[i];
    const p = ITEMS[i];
    return p.a !== null ? STEPS[p.a] : STEPS_B[p.b];
  }
  const ROW_H = 30;
  const OVERSCAN = 12;
  const TYPE_LABEL = { workflow: "workflow", node: "node", llm_call: "llm", tool_call: "tool", span: "span" };
  const TYPE_ORDER = ["workflow", "node", "llm_call", "tool_call", "span"];

  const $ = (id) => document.getElementById(id);
  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  // --- formatting ---------------------------------------------------------------------------------
  function dur(ms) {
    if (ms === null || ms === undefined) return "…";
    if (ms > 0 && ms < 1) return ms.toFixed(1) + "ms";
    if (ms < 1000) return Math.round(ms) + "ms";
    if (ms < 60000) return (ms / 1000).toFixed(2) + "s";
    const s = Math.round(ms / 1000);
    return Math.floor(s / 60) + "m" + String(s % 60).padStart(2, "0") + "s";
  }
  function money(cost) {
    if (!cost || typeof cost.amount !== "number") return "";
    const a = cost.amount, cur = cost.currency || "USD";
    const sign = { USD: "$", EUR: "€", GBP: "£" }[cur];
    let t;
    if (a === 0) t = "0";
    else if (a < 1e-8) t = "0.00000001";
    else if (a < 0.01) t = a.toFixed(1 - Math.floor(Math.log10(a)));
    else if (a < 1) t = a.toFixed(4);
    else t = a.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
    if (a > 0 && a < 1e-8) t = "<" + (sign || "") + t;
    else if (sign) t = sign + t;
    return sign ? t : t + " " + cur;
  }
  function tokens(u) {
    if (!u) return "";
    return (u.input_tokens || 0) + "/" + (u.output_tokens || 0);
  }
  function json(v) {
    if (typeof v === "string") {
      // A tool result is often JSON sent as text: shown parsed and indented (\u00b0 as °).
      const t = v.trim();
      if ((t[0] === "{" && t[t.length - 1] === "}") || (t[0] === "[" && t[t.length - 1] === "]")) {
        try { return JSON.stringify(JSON.parse(t), null, 2); } catch (e) { /* not JSON: as it is */ }
      }
      return v;
    }
    try { return JSON.stringify(v, null, 2); } catch (e) { return String(v); }
  }

  // --- header -------------------------------------------------------------------------------------
  function header() {
    const status = String(RUN.status || "");
    const badge = $("run-status");
    badge.textContent = status;
    badge.className = "status " + status;
    $("run-title").textContent = String(RUN.workflow || RUN.run_id || "run");
    const facts = [
      ["run", RUN.run_id],
      ["started", RUN.started_at ? RUN.started_at.replace("T", " ").replace(/\.\d+Z$/, " UTC") : "-"],
      ["duration", dur(RUN.duration_ms)],
      ["steps", STEPS.length],
      ["errors", STEPS.filter((s) => s.status === "error").length],
      ["tokens in/out", tokens(RUN.usage) || "-"],
    ];
    if (RUN.cost) {
      let c = money(RUN.cost);
      if (RUN.cost.unpriced_calls) c += " (+" + RUN.cost.unpriced_calls + " unpriced)";
      facts.push(["cost", c]);
    } else {
      facts.push(["cost", "-"]);
    }
    facts.push(["models", (RUN.models || []).join(", ") || "-"]);
    if (RUN.service && RUN.service.name) facts.push(["service", RUN.service.name]);
    const dl = $("run-facts");
    for (const [k, v] of facts) {
      const d = el("div");
      d.append(el("dt", null, k), el("dd", null, v));
      dl.append(d);
    }
    if (CMP) {
      const b = CMP.run;
      const d = el("div");
      const counts = CMP.counts || {};
      d.append(el("dt", null, "compared with"),
        el("dd", null, String(b.run_id || "").slice(0, 12) + " (" + (b.workflow || "") + ", " + (b.status || "") + ", " + dur(b.duration_ms) + ", tokens " + (tokens(b.usage) || "-") + (b.cost ? ", " + money(b.cost) : "") + ")"));
      dl.append(d);
      const c = el("div");
      c.append(el("dt", null, "steps"), el("dd", "counts", ["same", "changed", "added", "removed"].map((k) => (counts[k] || 0) + " " + k).join(" · ")));
      dl.append(c);
      $("columns").className = "row head pair";
      $("columns").textContent = "";
      for (const [cls, t] of [["c-kind", "pair"], ["c-type", "type"], ["c-node", "node"], ["c-side", "run A  (" + String(RUN.run_id || "").slice(0, 8) + ")"], ["c-side", "run B  (" + String(b.run_id || "").slice(0, 8) + ")"], ["c-changes", "changed fields"]]) {
        $("columns").append(el("span", cls, t));
      }
    }
    document.title = String(RUN.workflow || "run") + " · " + status + " · agenttrace";
    // The embedded run JSON as a download: a blob URL, no request leaves the page.
    const link = $("export");
    link.href = URL.createObjectURL(new Blob([JSON.stringify(RUN, null, 2)], { type: "application/json" }));
    link.download = "run-" + String(RUN.run_id || "trace").slice(0, 12) + ".json";
  }

  // --- filters ------------------------------------------------------------------------------------
  const state = { types: new Set(), node: "", errors: false, diffs: false, query: "", selected: -1 };
  let visible = ITEMS.map((_, i) => i);
  let haystack = null; // lower-cased searchable text per step, built on the first search

  function searchText(i) {
    if (CMP) {
      const p = ITEMS[i];
      return [p.a !== null ? stepText(STEPS[p.a], SUMMARIES[p.a]) : "", p.b !== null ? stepText(STEPS_B[p.b], SUMMARIES_B[p.b]) : ""].join("\n");
    }
    return stepText(STEPS[i], SUMMARIES[i]);
  }

  function stepText(s, summary) {
    const parts = [s.name, s.node, s.model, summary];
    for (const k of ["input", "output", "system_instructions", "tool_definitions", "error"]) {
      if (s[k] !== null && s[k] !== undefined) parts.push(typeof s[k] === "string" ? s[k] : JSON.stringify(s[k]));
    }
    return parts.filter((p) => p !== null && p !== undefined).join("\n").toLowerCase();
  }

  function applyFilters(keepSelection) {
    const q = state.query.trim().toLowerCase();
    if (q && haystack === null) haystack = ITEMS.map((_, i) => searchText(i));
    const selectedStep = state.selected >= 0 ? visible[state.selected] : -1;
    visible = [];
    for (let i = 0; i < ITEMS.length; i++) {
      const s = stepOf(i);
      if (state.types.size && !state.types.has(s.type)) continue;
      if (state.node && s.node !== state.node) continue;
      if (state.errors && !isError(i)) continue;
      if (state.diffs && ITEMS[i].kind === "same") continue;
      if (q && haystack[i].indexOf(q) < 0) continue;
      visible.push(i);
    }
    state.selected = keepSelection ? visible.indexOf(selectedStep) : -1;
    const what = CMP ? " aligned steps" : " events";
    $("count").textContent = visible.length === ITEMS.length
      ? ITEMS.length + what : visible.length + " of " + ITEMS.length + what;
    $("spacer").style.height = visible.length * ROW_H + "px";
    for (const r of pool.values()) r.remove();
    pool.clear();
    paint();
    if (state.selected < 0) closeDetail();
  }

  function isError(i) {
    if (!CMP) return STEPS[i].status === "error";
    const p = ITEMS[i];
    return (p.a !== null && STEPS[p.a].status === "error") || (p.b !== null && STEPS_B[p.b].status === "error");
  }

  function buildFilters() {
    const counts = {};
    const nodes = new Map();
    for (let i = 0; i < ITEMS.length; i++) {
      const s = stepOf(i);
      counts[s.type] = (counts[s.type] || 0) + 1;
      if (s.node) nodes.set(s.node, (nodes.get(s.node) || 0) + 1);
    }
    const chips = $("type-filters");
    for (const t of TYPE_ORDER.concat(Object.keys(counts).filter((t) => TYPE_ORDER.indexOf(t) < 0))) {
      if (!counts[t]) continue;
      const b = el("button", "chip", TYPE_LABEL[t] || t);
      b.type = "button";
      b.dataset.type = t;
      b.append(el("span", "n", counts[t]));
      b.addEventListener("click", () => {
        if (state.types.has(t)) state.types.delete(t); else state.types.add(t);
        b.classList.toggle("on", state.types.has(t));
        applyFilters(true);
      });
      chips.append(b);
    }
    const select = $("node-filter");
    for (const [name, n] of [...nodes.entries()].sort()) {
      const o = el("option", null, name + " (" + n + ")");
      o.value = name;
      select.append(o);
    }
    select.addEventListener("change", () => { state.node = select.value; applyFilters(true); });
    $("errors-only").addEventListener("change", (e) => { state.errors = e.target.checked; applyFilters(true); });
    if (CMP) {
      const label = el("label", "check");
      const box = el("input");
      box.type = "checkbox";
      box.id = "diffs-only";
      box.addEventListener("change", () => { state.diffs = box.checked; applyFilters(true); });
      const key = el("kbd", null, "d");
      label.append(box, document.createTextNode(" differences only "), key);
      $("errors-only").parentNode.after(label);
    }
    let timer = 0;
    $("search").addEventListener("input", (e) => {
      clearTimeout(timer);
      timer = setTimeout(() => { state.query = e.target.value; applyFilters(true); }, ITEMS.length > 2000 ? 120 : 0);
    });
  }

  // --- the virtualised list -----------------------------------------------------------------------
  let runMs = Math.max(RUN.duration_ms || 0, 0.001);
  for (const s of STEPS.concat(STEPS_B)) runMs = Math.max(runMs, (s.relative_ms || 0) + (s.duration_ms || 0));
  if (CMP) runMs = Math.max(runMs, CMP.run.duration_ms || 0);
  const pool = new Map(); // position in `visible` -> row element
  const list = $("list");

  function axis() {
    const a = $("axis");
    if (!a || CMP) return;
    a.textContent = "";
    for (const f of [0, 0.25, 0.5, 0.75, 1]) {
      const t = el("span", f === 0.25 || f === 0.75 ? "tick minor" : "tick", dur(runMs * f));
      t.style.left = f * 100 + "%";
      a.append(t);
    }
  }

  function sideText(s, summary) {
    if (!s) return "";
    let t = summary || s.name || "";
    if (s.status === "error" && s.error) t += "  ✗ " + (s.error.type || "error");
    return "+" + dur(s.relative_ms) + " " + (s.status === "incomplete" ? "…" : dur(s.duration_ms)) + "  " + t;
  }

  function makePairRow(pos) {
    const i = visible[pos];
    const p = ITEMS[i];
    const s = stepOf(i);
    const r = el("div", "row pair " + p.kind);
    r.setAttribute("role", "option");
    r.dataset.index = String(i);
    r.dataset.type = String(s.type);
    r.dataset.kind = p.kind;
    if (isError(i)) r.classList.add("error");
    if (pos === state.selected) r.classList.add("selected");
    r.setAttribute("aria-selected", pos === state.selected ? "true" : "false");
    r.style.top = pos * ROW_H + "px";
    r.append(el("span", "c-kind", p.kind));
    const type = el("span", "c-type");
    type.append(el("span", "t " + s.type, TYPE_LABEL[s.type] || s.type));
    r.append(type);
    r.append(el("span", "c-node", s.node || ""));
    const a = p.a !== null ? STEPS[p.a] : null;
    const b = p.b !== null ? STEPS_B[p.b] : null;
    const ta = sideText(a, a && SUMMARIES[p.a]);
    const tb = sideText(b, b && SUMMARIES_B[p.b]);
    r.append(el("span", "c-side a", ta || "—"));
    r.append(el("span", "c-side b", tb || "—"));
    r.append(el("span", "c-changes", (p.changes || []).map((c) => c.field.split("/")[0]).filter((f, k, all) => all.indexOf(f) === k).join(", ")));
    r.title = (ta + "\n" + tb).slice(0, 2000);
    return r;
  }

  function makeRow(pos) {
    if (CMP) return makePairRow(pos);
    const i = visible[pos];
    const s = STEPS[i];
    const r = el("div", "row");
    r.setAttribute("role", "option");
    r.dataset.index = String(i);
    r.dataset.type = String(s.type);
    if (s.status === "error") r.classList.add("error");
    if (pos === state.selected) r.classList.add("selected");
    r.setAttribute("aria-selected", pos === state.selected ? "true" : "false");
    r.style.top = pos * ROW_H + "px";
    r.append(el("span", "c-time", "+" + dur(s.relative_ms)));
    r.append(el("span", "c-dur", s.status === "incomplete" ? "…" : dur(s.duration_ms)));
    const type = el("span", "c-type");
    type.append(el("span", "t " + s.type, TYPE_LABEL[s.type] || s.type));
    r.append(type);
    r.append(el("span", "c-node", s.node || ""));
    const sum = el("span", "c-sum");
    if (s.status === "error") sum.append(el("span", "mark", "✗"));
    let text = SUMMARIES[i] || s.name || "";
    sum.append(document.createTextNode(text));
    if (s.status === "error" && s.error) {
      const err = (s.error.type || "error") + (s.error.message ? ": " + s.error.message : "");
      sum.append(el("span", "err", "  " + err));
      text += "  " + err;
    }
    if (s.status === "incomplete") sum.append(el("span", "warn", "  never ended"));
    sum.title = text.slice(0, 2000);
    r.append(sum);
    r.append(el("span", "c-tok", tokens(s.usage)));
    r.append(el("span", "c-cost", money(s.cost)));
    const track = el("span", "c-bar");
    const bar = el("span", "bar " + (s.status === "error" ? "error" : s.status === "incomplete" ? "incomplete" : s.type));
    const left = Math.min(100, ((s.relative_ms || 0) / runMs) * 100);
    const width = s.duration_ms === null || s.duration_ms === undefined ? 100 - left : (s.duration_ms / runMs) * 100;
    bar.style.left = left + "%";
    bar.style.width = Math.max(0, Math.min(width, 100 - left)) + "%";
    track.append(bar);
    r.append(track);
    return r;
  }

  let frame = 0;
  function paint() {
    frame = 0;
    const top = list.scrollTop;
    const first = Math.max(0, Math.floor(top / ROW_H) - OVERSCAN);
    const last = Math.min(visible.length, Math.ceil((top + list.clientHeight) / ROW_H) + OVERSCAN);
    for (const [pos, r] of pool) {
      if (pos < first || pos >= last) { r.remove(); pool.delete(pos); }
    }
    const spacer = $("spacer");
    for (let pos = first; pos < last; pos++) {
      if (!pool.has(pos)) {
        const r = makeRow(pos);
        pool.set(pos, r);
        spacer.append(r);
      }
    }
    let empty = spacer.querySelector(".empty");
    if (!visible.length && !empty) spacer.append(el("div", "empty", "No event matches these filters."));
    else if (visible.length && empty) empty.remove();
  }
  list.addEventListener("scroll", () => { if (!frame) frame = requestAnimationFrame(paint); });
  window.addEventListener("resize", () => { if (!frame) frame = requestAnimationFrame(paint); });
  list.addEventListener("click", (e) => {
    const r = e.target.closest(".row");
    if (r) select(visible.indexOf(Number(r.dataset.index)));
  });

  function select(pos) {
    if (pos < 0 || pos >= visible.length) return;
    const old = pool.get(state.selected);
    if (old) { old.classList.remove("selected"); old.setAttribute("aria-selected", "false"); }
    state.selected = pos;
    const top = pos * ROW_H;
    if (top < list.scrollTop) list.scrollTop = top;
    else if (top + ROW_H > list.scrollTop + list.clientHeight) list.scrollTop = top + ROW_H - list.clientHeight;
    paint();
    const r = pool.get(pos);
    if (r) { r.classList.add("selected"); r.setAttribute("aria-selected", "true"); }
    openDetail(visible[pos]);
  }

  // --- the detail panel ---------------------------------------------------------------------------
  function closeDetail() {
    $("detail").hidden = true;
    document.body.classList.remove("with-detail");
    paint();
  }

  function facts(pairs) {
    const dl = el("dl", "facts");
    for (const [k, v] of pairs) {
      if (v === null || v === undefined || v === "") continue;
      dl.append(el("dt", null, k), el("dd", "mono", v));
    }
    return dl;
  }

  function section(body, title, node) {
    body.append(el("h3", null, title));
    body.append(node);
  }

  function pre(text, cls) { return el("pre", cls || null, text); }

  function part(p) {
    const d = el("div", "part");
    if (!p || typeof p !== "object") { d.append(pre(json(p))); return d; }
    if (p.type === "text" || p.type === "reasoning") {
      if (p.type === "reasoning") d.append(el("div", "label", "reasoning"));
      d.append(pre(p.content, "prose"));
    } else if (p.type === "tool_call") {
      d.append(el("div", "label", "tool call " + (p.id || "")));
      d.append(pre((p.name || "?") + "(" + json(p.arguments) + ")"));
    } else if (p.type === "tool_call_response") {
      d.append(el("div", "label", "tool result " + (p.id || "")));
      d.append(pre(json(p.response !== undefined ? p.response : p.result)));
    } else {
      d.append(el("div", "label", String(p.type)));
      d.append(pre(json(p)));
    }
    return d;
  }

  function messages(list_) {
    const box = el("div");
    if (typeof list_ === "string") { box.append(pre(list_)); return box; }
    if (!Array.isArray(list_)) { box.append(pre(json(list_))); return box; }
    for (const m of list_) {
      if (!m || typeof m !== "object") { box.append(pre(json(m))); continue; }
      const role = String(m.role || "?");
      const msg = el("div", "message " + role);
      const head = el("div", "role", role + (m.name ? " · " + m.name : ""));
      if (m.finish_reason) head.append(el("span", "fr", "finish: " + m.finish_reason));
      msg.append(head);
      const parts = Array.isArray(m.parts) ? m.parts : [m.parts];
      for (const p of parts) msg.append(part(p));
      box.append(msg);
    }
    return box;
  }

  function finishReasons(s) {
    const a = s.attributes || {};
    const fr = a["gen_ai.response.finish_reasons"];
    if (Array.isArray(fr)) return fr.join(", ");
    if (Array.isArray(s.output)) {
      const r = s.output.map((m) => m && m.finish_reason).filter(Boolean);
      if (r.length) return r.join(", ");
    }
    return null;
  }

  function openDetail(i) {
    const body = $("detail-body");
    body.textContent = "";
    $("detail").hidden = false;
    document.body.classList.add("with-detail");
    if (CMP) document.body.classList.add("comparing");
    if (CMP) { openPair(i, body); $("detail").scrollTop = 0; return; }
    const s = STEPS[i];
    $("detail-title").textContent = "#" + s.index + " " + (TYPE_LABEL[s.type] || s.type) + " · " + s.name;
    renderStep(s, body);
    $("detail").scrollTop = 0;
  }

  function openPair(i, body) {
    const p = ITEMS[i];
    const s = stepOf(i);
    $("detail-title").textContent = p.kind + " · " + (TYPE_LABEL[s.type] || s.type) + " · " + s.name;
    if (p.changes && p.changes.length) {
      const box = el("div");
      for (const c of p.changes) {
        const d = el("div", "change");
        d.append(el("div", "label", c.field));
        d.append(el("pre", "a", "A: " + json(c.a)));
        d.append(el("pre", "b", "B: " + json(c.b)));
        box.append(d);
      }
      section(body, "what changed (first difference per field)", box);
    }
    const sides = el("div", "sides");
    for (const [label, step] of [["A · " + String(RUN.run_id || "").slice(0, 12), p.a !== null ? STEPS[p.a] : null],
      ["B · " + String(CMP.run.run_id || "").slice(0, 12), p.b !== null ? STEPS_B[p.b] : null]]) {
      const col = el("div", "side");
      col.append(el("h3", null, label));
      if (step) renderStep(step, col); else col.append(el("div", "muted", p.kind === "added" ? "not in run A" : "not in run B"));
      sides.append(col);
    }
    body.append(sides);
  }

  function renderStep(s, body) {
    const a = s.attributes || {};
    const u = s.usage || {};
    const ttfc = a["gen_ai.response.time_to_first_chunk"];
    body.append(facts([
      ["status", s.status],
      ["node", s.node],
      ["started", "+" + dur(s.relative_ms) + "  (" + s.started_at + ")"],
      ["duration", s.status === "incomplete" ? "never ended" : dur(s.duration_ms)],
      ["provider", s.provider],
      ["model", s.model],
      ["finish reason", s.type === "llm_call" ? finishReasons(s) : null],
      ["tokens in", u.input_tokens],
      ["tokens out", u.output_tokens],
      ["cache read", u.cache_read_input_tokens],
      ["cache write", u.cache_creation_input_tokens],
      ["cost", s.cost ? money(s.cost) : (s.type === "llm_call" && s.usage ? "unknown price" : null)],
      ["first chunk", typeof ttfc === "number" ? dur(ttfc * 1000) : null],
      ["tool", a["gen_ai.tool.name"]],
      ["tool call id", a["gen_ai.tool.call.id"]],
      ["span id", s.id],
    ]));
    if (s.error) {
      const box = el("div", "error-box");
      box.append(el("span", "etype", s.error.type || "error"));
      if (s.error.message) box.append(pre(s.error.message, "prose"));
      section(body, "error", box);
    }
    if (s.request && Object.keys(s.request).length) section(body, "request parameters", facts(Object.entries(s.request).map(([k, v]) => [k, json(v)])));
    if (s.type === "tool_call") {
      if (s.input !== null && s.input !== undefined) section(body, "arguments", pre(json(s.input)));
      if (s.output !== null && s.output !== undefined) section(body, "result", pre(json(s.output)));
    } else {
      if (s.system_instructions) section(body, "system instructions", messages([{ role: "system", parts: Array.isArray(s.system_instructions) ? s.system_instructions : [{ type: "text", content: s.system_instructions }] }]));
      if (s.input !== null && s.input !== undefined) section(body, "messages", messages(s.input));
      if (s.output !== null && s.output !== undefined) section(body, "response", messages(s.output));
      if (Array.isArray(s.tool_definitions) && s.tool_definitions.length) {
        const box = el("div");
        for (const t of s.tool_definitions) {
          const d = el("details");
          d.append(el("summary", "mono", (t && (t.name || (t.function && t.function.name))) || "tool"));
          if (t && t.description) d.append(el("div", "part", t.description));
          d.append(pre(json(t)));
          box.append(d);
        }
        section(body, "tool definitions (" + s.tool_definitions.length + ")", box);
      } else if (typeof s.tool_definitions === "string") {
        section(body, "tool definitions", pre(s.tool_definitions));
      }
    }
    const rest = Object.entries(a).filter(([k]) => k !== "gen_ai.response.time_to_first_chunk");
    if (rest.length) {
      const d = el("details");
      d.append(el("summary", null, "attributes (" + rest.length + ")"));
      d.append(pre(rest.map(([k, v]) => k + " = " + JSON.stringify(v)).join("\n")));
      body.append(d);
    }
  }

  // --- keyboard -----------------------------------------------------------------------------------
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    const inField = t && (t.tagName === "SELECT" || (t.tagName === "INPUT" && t.type !== "checkbox"));
    if (e.key === "Escape") {
      if (inField) { t.blur(); list.focus(); return; }
      if (!$("detail").hidden) closeDetail();
      return;
    }
    if (inField || e.ctrlKey || e.metaKey || e.altKey) return;
    const page = Math.max(1, Math.floor(list.clientHeight / ROW_H) - 1);
    let handled = true;
    switch (e.key) {
      case "j": case "ArrowDown": select(Math.min(visible.length - 1, state.selected + 1)); break;
      case "k": case "ArrowUp": select(Math.max(0, state.selected - 1)); break;
      case "PageDown": select(Math.min(visible.length - 1, state.selected + page)); break;
      case "PageUp": select(Math.max(0, state.selected - page)); break;
      case "Home": case "g": select(0); break;
      case "End": case "G": select(visible.length - 1); break;
      case "Enter": if (state.selected >= 0) openDetail(visible[state.selected]); else select(0); break;
      case "/": $("search").focus(); break;
      case "e": { const c = $("errors-only"); c.checked = !c.checked; state.errors = c.checked; applyFilters(true); break; }
      case "d": {
        const c = $("diffs-only");
        if (!c) { handled = false; break; }
        c.checked = !c.checked; state.diffs = c.checked; applyFilters(true); break;
      }
      case "n": { // next error
        const next = visible.findIndex((i, pos) => pos > state.selected && (CMP ? ITEMS[i].kind !== "same" : isError(i)));
        if (next >= 0) select(next);
        break;
      }
      default: handled = false;
    }
    if (handled) e.preventDefault();
  });
  $("close").addEventListener("click", closeDetail);

  header();
  buildFilters();
  axis();
  applyFilters(false);
  list.focus();
  document.body.dataset.ready = "1";
  document.body.dataset.readyMs = String(Math.round(performance.now())); // read by bench/bench_view.py
})();
