// noveum-trace ui: three views (traces, one trace, overview) over the JSON API, hash-routed.
// Every value from the files is set as text (never as HTML).
"use strict";

const main = document.getElementById("main");
const live = document.getElementById("live");
const POLL_MS = 2000;
const FOLD_CHARS = 600;
const PALETTE = ["#6366f1", "#a855f7", "#0ea5e9", "#f59e0b", "#10b981", "#ef4444", "#ec4899", "#84cc16"];
let state = { version: null, status: null, view: null };

// --- small helpers -----------------------------------------------------------------------

function h(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
const svgNS = "http://www.w3.org/2000/svg";
function s(tag, props) {
  const node = document.createElementNS(svgNS, tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "text") node.textContent = value; else node.setAttribute(key, value);
  }
  return node;
}

const fmt = {
  duration(ms) {
    if (ms === null || ms === undefined) return "-";
    if (ms < 1) return `${(ms * 1000).toFixed(0)}µs`;
    if (ms < 1000) return `${ms.toFixed(1)}ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(2)}s`;
    return `${(ms / 60000).toFixed(1)}m`;
  },
  cost(usd) {
    if (usd === null || usd === undefined) return "-";
    if (usd === 0) return "$0";
    return usd < 0.01 ? `$${usd.toFixed(6)}` : `$${usd.toFixed(4)}`;
  },
  count(n) {
    if (n === null || n === undefined) return "-";
    return Number.isInteger(n) ? n.toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 1 });
  },
  time(ns, withDate = true) {
    if (!ns) return "-";
    const d = new Date(Number(BigInt(ns) / 1000000n));
    const pad = (x, n = 2) => String(x).padStart(n, "0");
    const clock = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
    return withDate ? `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock}` : clock;
  },
  percent(x) { return `${(x * 100).toFixed(1)}%`; },
};

async function api(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.error || response.statusText);
  return body;
}

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "trace" && parts[1]) return { view: "trace", id: parts[1], params };
  if (parts[0] === "overview") return { view: "overview", params };
  return { view: "traces", params };
}

function go(view, params) {
  const query = params && params.toString();
  location.hash = `#/${view}${query ? "?" + query : ""}`;
}

function setTitle(text) { document.title = text ? `${text} · noveum-trace` : "noveum-trace"; }

// --- empty state -------------------------------------------------------------------------

function emptyState() {
  const path = (state.status && state.status.path) || "./traces";
  return h("div", { class: "empty panel", "data-testid": "empty" },
    h("strong", { text: `No traces in ${path} yet: run noveum-trace demo` }),
    h("span", {}, "Run ", h("code", { text: "noveum-trace demo" }),
      " (offline, no API key), or point an app's ", h("code", { text: "log_directory" }),
      " here. New traces show up on their own."));
}

// --- traces view -------------------------------------------------------------------------

const FILTERS = ["q", "service", "model", "vendor", "session", "conversation", "user", "errors", "since"];
const RANGES = [["", "Any time"], ["15m", "Last 15 minutes"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"]];

async function tracesView(params) {
  setTitle("Traces");
  const facets = await api("/api/facets");
  const page = Number(params.get("page") || 1);
  const query = new URLSearchParams();
  for (const name of FILTERS) if (params.get(name)) query.set(name, params.get(name));
  query.set("page", String(page));
  const data = await api(`/api/traces?${query}`);
  const filtered = FILTERS.some((name) => params.get(name));

  const update = (name, value) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value); else next.delete(name);
    next.delete("page");
    go("", next);
  };
  const select = (name, label) => h("select", {
    "aria-label": label, name,
    onchange: (e) => update(name, e.target.value),
  }, h("option", { value: "", text: `All ${label.toLowerCase()}s` }),
  ...(facets[name] || []).map((v) => h("option", { value: v, selected: params.get(name) === v, text: v })));

  let timer = null;
  const search = h("input", {
    type: "search", id: "search", placeholder: "Search names, models, errors, content…  ( / )",
    "aria-label": "Search traces", value: params.get("q") || "",
    oninput: (e) => { clearTimeout(timer); timer = setTimeout(() => update("q", e.target.value.trim()), 300); },
    onkeydown: (e) => { if (e.key === "Enter") { clearTimeout(timer); update("q", e.target.value.trim()); } },
  });
  const toolbar = h("div", { class: "toolbar", role: "search" },
    search,
    select("service", "Service"),
    select("model", "Model"),
    select("vendor", "Provider"),
    // only when the spans carry them
    ...[["session", "Session"], ["conversation", "Conversation"], ["user", "User"]]
      .map(([name, label]) => (facets[name] || []).length ? select(name, label) : null),
    h("select", { "aria-label": "Time range", name: "since", onchange: (e) => update("since", e.target.value) },
      ...RANGES.map(([v, label]) => h("option", { value: v, selected: (params.get("since") || "") === v, text: label }))),
    h("label", { class: "check" },
      h("input", { type: "checkbox", name: "errors", checked: params.get("errors") === "1", onchange: (e) => update("errors", e.target.checked ? "1" : "") }),
      "Errors only"),
  );

  const pages = Math.max(1, Math.ceil(data.total / data.page_size));
  const heading = h("h1", {}, "Traces ", h("span", { class: "muted", "data-testid": "trace-count", text: `${fmt.count(data.total)} ${filtered ? "matching" : "in all"}` }));
  let body;
  if (!data.total && !filtered) {
    body = emptyState();
  } else if (!data.total) {
    body = h("div", { class: "empty panel" }, h("strong", { text: "No traces match these filters." }),
      h("button", { type: "button", onclick: () => go("", new URLSearchParams()) }, "Clear filters"));
  } else {
    body = h("div", { class: "panel table-wrap" }, tracesTable(data.rows),
      h("div", { class: "pager" },
        h("span", { class: "muted", text: `page ${data.page} of ${pages}` }),
        h("button", { type: "button", disabled: page <= 1, onclick: () => { const n = new URLSearchParams(params); n.set("page", page - 1); go("", n); } }, "← Newer"),
        h("button", { type: "button", disabled: page >= pages, onclick: () => { const n = new URLSearchParams(params); n.set("page", page + 1); go("", n); } }, "Older →")));
  }
  return [heading, toolbar, body];
}

function tracesTable(rows) {
  const cols = [
    ["Start", ""], ["Root", ""], ["Service", ""], ["Models", ""], ["Duration", "num"], ["Spans", "num"],
    ["LLM calls", "num"], ["Tokens in", "num"], ["Tokens out", "num"], ["Cost", "num"], ["Errors", "num"],
  ];
  const open = (id) => go(`trace/${id}`);
  return h("table", { "aria-label": "Traces, newest first" },
    h("thead", {}, h("tr", {}, ...cols.map(([name, cls]) => h("th", { scope: "col", class: cls, text: name })))),
    h("tbody", {}, ...rows.map((row) => h("tr", {
      tabindex: "0", "data-trace": row.trace_id,
      onclick: () => open(row.trace_id),
      onkeydown: (e) => rowKeys(e, () => open(row.trace_id)),
    },
    h("td", { class: "mono", text: fmt.time(row.start_ns) }),
    h("td", { class: "name" }, h("a", { href: `#/trace/${row.trace_id}`, tabindex: "-1", text: row.root_name || "(unnamed)" })),
    h("td", { text: row.service || "-" }),
    h("td", {}, ...(row.models || []).map((m) => h("span", { class: "tag", text: m }))),
    h("td", { class: "num", text: fmt.duration(row.duration_ms) }),
    h("td", { class: "num", text: fmt.count(row.spans) }),
    h("td", { class: "num", text: fmt.count(row.llm_calls) }),
    h("td", { class: "num", text: fmt.count(row.tokens_in) }),
    h("td", { class: "num", text: fmt.count(row.tokens_out) }),
    h("td", { class: "num", text: fmt.cost(row.cost) }),
    h("td", { class: row.errors ? "num err" : "num", text: row.errors ? fmt.count(row.errors) : "" }),
    ))));
}

function rowKeys(e, open) {
  const row = e.currentTarget;
  if (e.key === "Enter") { e.preventDefault(); open(); }
  else if (e.key === "ArrowDown" || e.key === "j") { e.preventDefault(); (row.nextElementSibling || row).focus(); }
  else if (e.key === "ArrowUp" || e.key === "k") { e.preventDefault(); (row.previousElementSibling || row).focus(); }
}

// --- one trace ---------------------------------------------------------------------------

async function traceView(id, params) {
  const data = await api(`/api/trace/${encodeURIComponent(id)}`);
  const spans = data.spans;
  const t = data.trace || {};
  const root = spans[0];
  setTitle(root ? root.name : id);
  const t0 = Math.min(...spans.map((sp) => sp.start_time_unix_nano));
  const t1 = Math.max(...spans.map((sp) => sp.end_time_unix_nano));
  const total = Math.max(1, t1 - t0);
  const wanted = params.get("span");
  let selected = spans.find((sp) => sp.span_id === wanted) || spans.find((sp) => sp.llm) || root;

  const details = h("section", { class: "panel details", "aria-label": "Selected span", "data-testid": "span-details" });
  const rows = spans.map((sp) => {
    const left = ((sp.start_time_unix_nano - t0) / total) * 100;
    const width = Math.max(0.3, ((sp.end_time_unix_nano - sp.start_time_unix_nano) / total) * 100);
    const error = sp.status.code === "ERROR";
    const labelLeft = left + width > 80;
    return h("button", {
      type: "button", role: "option", class: `wrow${sp.llm ? " llm" : ""}${error ? " error" : ""}`,
      "data-span": sp.span_id, "aria-selected": sp === selected ? "true" : "false",
      title: `${sp.name} · ${fmt.duration(sp.duration_ms)}`,
      onclick: () => choose(sp),
      onkeydown: (e) => {
        const row = e.currentTarget;
        if (e.key === "ArrowDown" || e.key === "j") { e.preventDefault(); const n = row.nextElementSibling; if (n) { n.focus(); n.click(); } }
        if (e.key === "ArrowUp" || e.key === "k") { e.preventDefault(); const p = row.previousElementSibling; if (p) { p.focus(); p.click(); } }
      },
    },
    h("span", { class: "wname", style: `padding-left:${sp.depth * 14}px` },
      h("span", { class: "dot", "aria-hidden": "true" }), sp.name,
      sp.llm ? h("span", { class: "muted", text: "  LLM" }) : null,
      error ? h("span", { class: "err", text: "  error" }) : null),
    h("span", { class: "track", "aria-hidden": "true" },
      h("span", { class: "bar", style: `left:${left}%;width:${width}%` }),
      h("span", { class: "bar-label", style: labelLeft ? `right:${100 - left + 1}%` : `left:${left + width + 1}%`, text: fmt.duration(sp.duration_ms) })));
  });
  const list = h("div", { class: "waterfall", role: "listbox", "aria-label": "Spans on a shared time axis" }, ...rows);

  function choose(sp) {
    selected = sp;
    for (const row of rows) row.setAttribute("aria-selected", row.dataset.span === sp.span_id ? "true" : "false");
    details.replaceChildren(...spanDetails(sp));
    const next = new URLSearchParams(params);
    next.set("span", sp.span_id);
    history.replaceState(null, "", `#/trace/${id}?${next}`);
  }
  details.replaceChildren(...spanDetails(selected));

  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => h("span", { text: fmt.duration((total * f) / 1e6) }));
  const head = [
    h("p", {}, h("a", { href: "#/" }, "← Traces")),
    h("h1", { text: root ? root.name : id }),
    h("div", { class: "facts" },
      h("span", {}, "trace ", h("b", { class: "mono", text: id })),
      h("span", {}, "started ", h("b", { text: fmt.time(t.start_ns || t0) })),
      h("span", {}, "duration ", h("b", { text: fmt.duration(total / 1e6) })),
      h("span", {}, h("b", { text: fmt.count(spans.length) }), " spans"),
      h("span", {}, h("b", { text: fmt.count(t.llm_calls || 0) }), " LLM calls"),
      h("span", {}, "tokens ", h("b", { text: `${fmt.count(t.tokens_in || 0)} in / ${fmt.count(t.tokens_out || 0)} out` })),
      h("span", {}, "cost ", h("b", { text: fmt.cost(t.cost) })),
      t.errors ? h("span", { class: "err", text: `${t.errors} error${t.errors > 1 ? "s" : ""}` }) : null),
  ];
  return [...head, h("div", { class: "split" },
    h("section", { class: "panel", "aria-label": "Waterfall" },
      h("div", { class: "axis", "aria-hidden": "true" }, h("span", { text: "span" }), h("span", { class: "ticks" }, ...ticks)),
      list),
    details)];
}

function metric(label, value) {
  return h("div", { class: "metric" }, h("div", { class: "label", text: label }), h("div", { class: "value", text: value }));
}

function folded(text) {
  const pre = h("pre", { text });
  if (text.length <= FOLD_CHARS && text.split("\n").length <= 8) return [pre];
  pre.classList.add("folded");
  const button = h("button", {
    type: "button", class: "fold", "aria-expanded": "false",
    onclick: () => {
      const open = pre.classList.toggle("folded") === false;
      button.setAttribute("aria-expanded", String(open));
      button.textContent = open ? "Fold" : `Show all (${fmt.count(text.length)} characters)`;
    },
  }, `Show all (${fmt.count(text.length)} characters)`);
  return [pre, button];
}

function spanDetails(sp) {
  const out = [h("h2", { text: sp.name })];
  out.push(h("div", { class: "facts" },
    h("span", {}, "span ", h("b", { class: "mono", text: sp.span_id })),
    h("span", {}, "started ", h("b", { text: fmt.time(sp.start_time_unix_nano) })),
    h("span", {}, "status ", h("b", { class: sp.status.code === "ERROR" ? "err" : "", text: sp.status.code }))));
  if (sp.error) out.push(h("div", { class: "error-box", role: "alert", text: sp.error }));
  if (sp.model || sp.llm) {
    const tk = sp.tokens;
    out.push(h("div", { class: "metrics", "data-testid": "llm-metrics" },
      metric("Model", sp.model || "-"),
      metric("Provider", sp.vendor || "-"),
      metric("Tokens in", fmt.count(tk.input)),
      metric("Tokens out", fmt.count(tk.output)),
      metric("Cached", fmt.count(tk.cached)),
      metric("Reasoning", fmt.count(tk.reasoning)),
      metric("Cost", fmt.cost(sp.cost)),
      metric("Latency", fmt.duration(sp.duration_ms)),
      metric("Time to first token", fmt.duration(sp.ttft_ms)),
      metric("Tokens/s", sp.tokens_per_second === null ? "-" : fmt.count(Math.round(sp.tokens_per_second * 10) / 10))));
  } else {
    out.push(h("div", { class: "metrics" }, metric("Duration", fmt.duration(sp.duration_ms)), metric("Service", sp.service_name || "-")));
  }
  if (sp.messages.length) {
    out.push(h("h2", { text: "Conversation" }));
    for (const m of sp.messages) {
      out.push(h("div", { class: `msg role-${m.role}`, "data-role": m.role },
        h("div", { class: "role", text: m.role }),
        m.content ? folded(m.content) : null,
        ...m.tool_calls.map((c) => h("div", { class: "toolcall" },
          h("div", { class: "role", text: `tool call · ${c.name}${c.id ? " · " + c.id : ""}` }),
          ...folded(c.arguments)))));
    }
  }
  const attrs = Object.entries(sp.attributes);
  out.push(h("h2", { text: `Attributes (${attrs.length})` }));
  out.push(attrTable(attrs));
  if (sp.events.length) {
    out.push(h("h2", { text: `Events (${sp.events.length})` }));
    for (const ev of sp.events) {
      out.push(h("div", { class: "msg" }, h("div", { class: "role", text: `${ev.name} · ${fmt.time(ev.time_unix_nano, false)}` }),
        attrTable(Object.entries(ev.attributes))));
    }
  }
  out.push(h("h2", { text: "Resource" }), attrTable(Object.entries(sp.resource)));
  return out;
}

function attrTable(entries) {
  return h("table", { class: "attrs" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Key" }), h("th", { scope: "col", text: "Value" }))),
    h("tbody", {}, ...entries.map(([key, value]) => h("tr", {},
      h("td", { class: "mono", text: key }),
      h("td", {}, folded(typeof value === "string" ? value : JSON.stringify(value, null, 1)))))));
}

// --- overview ----------------------------------------------------------------------------

async function overviewView(params) {
  setTitle("Overview");
  const by = params.get("by") === "vendor" ? "vendor" : "model";
  const data = await api(`/api/overview?${new URLSearchParams([...params].filter(([k]) => k !== "by"))}`);
  const heading = h("h1", {}, "Overview ", h("span", { class: "muted", text: data.calls ? `${fmt.time(data.first_ns)} → ${fmt.time(data.last_ns)}` : "" }));
  if (!data.calls) return [heading, state.status && state.status.spans ? h("div", { class: "empty panel" }, h("strong", { text: "No LLM calls to summarise." })) : emptyState()];
  const sum = (key) => data.by_model.reduce((a, m) => a + (m[key] || 0), 0);
  const cards = h("div", { class: "cards" },
    card("LLM calls", fmt.count(data.calls)),
    card("Error rate", `${fmt.percent(data.error_rate)} (${fmt.count(data.errors)})`),
    card("Tokens in / out", `${fmt.count(sum("tokens_in"))} / ${fmt.count(sum("tokens_out"))}`),
    card("Cost", fmt.cost(sum("cost"))));
  const toggle = h("div", { class: "toolbar" }, h("span", { class: "muted", text: "Group charts by" }),
    ...["model", "vendor"].map((g) => h("button", {
      type: "button", "aria-pressed": String(by === g),
      class: by === g ? "" : "ghost",
      onclick: () => { const n = new URLSearchParams(params); n.set("by", g); go("overview", n); },
    }, g === "model" ? "Model" : "Provider")));
  const charts = h("div", { class: "charts" },
    chart("Calls over time", data, by, "calls", fmt.count),
    chart("Tokens over time", data, by, "tokens", fmt.count),
    chart("Cost over time", data, by, "cost", fmt.cost));
  const perModel = h("div", { class: "panel table-wrap" }, h("table", { "aria-label": "Per model" },
    h("thead", {}, h("tr", {}, ...["Model", "Provider", "Calls", "Errors", "Error rate", "Tokens in", "Tokens out", "Cached", "Cost", "Latency p50", "p95", "p99", "TTFT p50", "p95", "p99"]
      .map((name, i) => h("th", { scope: "col", class: i > 1 ? "num" : "", text: name })))),
    h("tbody", {}, ...data.by_model.map((m) => h("tr", { tabindex: "0", onclick: () => go("", new URLSearchParams({ model: m.model })), onkeydown: (e) => rowKeys(e, () => go("", new URLSearchParams({ model: m.model }))) },
      h("td", { class: "name", text: m.model }), h("td", { text: m.vendor || "-" }),
      h("td", { class: "num", text: fmt.count(m.calls) }),
      h("td", { class: m.errors ? "num err" : "num", text: fmt.count(m.errors) }),
      h("td", { class: "num", text: fmt.percent(m.errors / m.calls) }),
      h("td", { class: "num", text: fmt.count(m.tokens_in) }),
      h("td", { class: "num", text: fmt.count(m.tokens_out) }),
      h("td", { class: "num", text: fmt.count(m.tokens_cached) }),
      h("td", { class: "num", text: fmt.cost(m.cost) }),
      ...[0, 1, 2].map((i) => h("td", { class: "num", text: fmt.duration(m.latency_ms && m.latency_ms[i]) })),
      ...[0, 1, 2].map((i) => h("td", { class: "num", text: fmt.duration(m.ttft_ms && m.ttft_ms[i]) })))))));
  return [heading, cards, toggle, charts,
    h("h2", { text: "Latency and time to first token per model" }), perModel,
    h("div", { class: "pair" },
      h("div", {}, h("h2", { text: "Slowest calls" }), callTable(data.slowest)),
      h("div", {}, h("h2", { text: "Most expensive calls" }), callTable(data.most_expensive)))];
}

function card(label, value) {
  return h("div", { class: "panel card" }, h("div", { class: "label", text: label }), h("div", { class: "value", text: value }));
}

function callTable(rows) {
  return h("div", { class: "panel table-wrap" }, h("table", {},
    h("thead", {}, h("tr", {}, ...["Start", "Call", "Latency", "TTFT", "Tokens", "Cost"].map((n, i) => h("th", { scope: "col", class: i > 1 ? "num" : "", text: n })))),
    h("tbody", {}, ...rows.map((r) => {
      const open = () => go(`trace/${r.trace_id}`, new URLSearchParams({ span: r.span_id }));
      return h("tr", { tabindex: "0", onclick: open, onkeydown: (e) => rowKeys(e, open) },
        h("td", { class: "mono", text: fmt.time(r.start_ns) }),
        h("td", { class: r.status === 2 ? "name err" : "name", text: r.name }),
        h("td", { class: "num", text: fmt.duration(r.duration_ms) }),
        h("td", { class: "num", text: fmt.duration(r.ttft_ms) }),
        h("td", { class: "num", text: fmt.count((r.tokens_in || 0) + (r.tokens_out || 0)) }),
        h("td", { class: "num", text: fmt.cost(r.cost) }));
    }))));
}

function chart(title, data, by, key, format) {
  const buckets = Math.max(1, Math.round((data.last_ns - data.first_ns) / data.bucket_ns) + 1);
  const groups = [...new Set(data.series.map((r) => r[by] || "?"))];
  const totals = new Array(buckets).fill(0);
  const stacks = groups.map(() => new Array(buckets).fill(0));
  for (const r of data.series) {
    const i = Math.min(buckets - 1, r.bucket);
    const value = r[key] || 0;
    stacks[groups.indexOf(r[by] || "?")][i] += value;
    totals[i] += value;
  }
  const top = Math.max(...totals) || 1;
  const W = 600, H = 180, pad = 26, bw = (W - pad) / buckets;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": `${title}: peak ${format(top)}` });
  for (const f of [0, 0.5, 1]) {
    const y = H - 14 - f * (H - 24);
    svg.append(s("line", { class: "gridline", x1: pad, x2: W, y1: y, y2: y }));
    svg.append(s("text", { x: 0, y: y + 3, text: f === 0 ? "0" : format(top * f) }));
  }
  for (let i = 0; i < buckets; i++) {
    let y = H - 14;
    groups.forEach((_g, gi) => {
      const v = stacks[gi][i];
      if (!v) return;
      const bh = (v / top) * (H - 24);
      y -= bh;
      svg.append(s("rect", { x: pad + i * bw + 0.5, y, width: Math.max(1, bw - 1), height: bh, fill: PALETTE[gi % PALETTE.length] }));
    });
  }
  return h("section", { class: "panel chart" }, h("h2", { text: title }), svg,
    h("div", { class: "legend" }, ...groups.map((g, gi) => h("span", {}, h("i", { style: `background:${PALETTE[gi % PALETTE.length]}` }), g))));
}

// --- rendering, live updates, keys ---------------------------------------------------------

let rendering = 0;
async function render(keepFocus) {
  const r = route();
  const ticket = ++rendering;
  for (const a of document.querySelectorAll("nav a")) {
    const current = (a.dataset.nav === "overview") === (r.view === "overview");
    if (current) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  if (!keepFocus && !main.childElementCount) main.replaceChildren(h("div", { class: "loading", text: "Loading…" }));
  try {
    const nodes = r.view === "trace" ? await traceView(r.id, r.params)
      : r.view === "overview" ? await overviewView(r.params) : await tracesView(r.params);
    if (ticket !== rendering) return;
    const focused = document.activeElement && document.activeElement.id;
    const caret = focused === "search" ? document.activeElement.selectionStart : null;
    main.replaceChildren(...nodes);
    if (focused === "search") {
      const search = document.getElementById("search");
      search.focus();
      if (caret !== null) search.setSelectionRange(caret, caret);
    }
    state.view = r.view;
  } catch (err) {
    if (ticket !== rendering) return;
    main.replaceChildren(h("div", { class: "empty panel", role: "alert" }, h("strong", { text: "Could not load this page." }), String(err.message || err)));
  }
}

async function poll() {
  try {
    const status = await api("/api/status");
    state.status = status;
    live.classList.remove("off");
    live.textContent = `live · ${fmt.count(status.traces)} traces · ${fmt.count(status.spans)} spans`;
    if (state.version !== null && status.version !== state.version) {
      const r = route();
      // The list and the overview follow new data; a trace page is redrawn only if open on one.
      if (r.view !== "trace" || !document.querySelector(".details .fold[aria-expanded='true']")) await render(true);
    }
    state.version = status.version;
  } catch (err) {
    live.classList.add("off");
    live.textContent = "server stopped";
  }
}

function setTheme(theme) {
  document.documentElement.dataset.theme = theme;
  try { localStorage.setItem("noveum-theme", theme); } catch (e) { /* private mode */ }
  document.getElementById("theme").textContent = theme === "dark" ? "Light theme" : "Dark theme";
}

document.getElementById("theme").addEventListener("click", () => {
  setTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark");
});
document.getElementById("theme").textContent = document.documentElement.dataset.theme === "dark" ? "Light theme" : "Dark theme";

document.addEventListener("keydown", (e) => {
  const typing = e.target instanceof HTMLInputElement || e.target instanceof HTMLSelectElement || e.target instanceof HTMLTextAreaElement;
  if (typing) { if (e.key === "Escape") e.target.blur(); return; }
  if (e.key === "/") { const search = document.getElementById("search"); if (search) { e.preventDefault(); search.focus(); } }
  else if (e.key === "g") go("");
  else if (e.key === "o") go("overview");
  else if (e.key === "Escape" && route().view === "trace") history.back();
  else if ((e.key === "j" || e.key === "ArrowDown") && route().view === "traces" && !e.target.closest("tbody")) {
    const first = document.querySelector("tbody tr"); if (first) { e.preventDefault(); first.focus(); }
  }
});

window.addEventListener("hashchange", () => { main.replaceChildren(); render(false); main.focus({ preventScroll: true }); });
poll().then(() => render(false));
setInterval(poll, POLL_MS);
