// Freightyard Argo CD UI extension — built by `make ui` from ui/src (do not edit). SPDX-License-Identifier: Apache-2.0
(function () {
"use strict";
// ---- ui/src/graph.js
// The one rendering code: draws a pipeline view (GET /api/v1/pipelines/{name}) into a DOM element.
// Plain DOM, no framework, so the standalone page and the Argo CD extension (which wraps it in Argo CD's
// own React) draw exactly the same graph. Layout: stages in columns by depth from the warehouses
// (longest path), ordered by their upstreams' rows; edges drawn after the cards are measured.

const STYLE = `
.fy-root{font:13px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1f2933;position:relative}
.fy-bar{display:flex;gap:8px;align-items:center;margin:0 0 10px;flex-wrap:wrap}
.fy-bar input[type=search]{padding:4px 8px;min-width:240px;border:1px solid #c5ccd3;border-radius:4px}
.fy-count{color:#616e7c}
.fy-canvas{position:relative;overflow:auto;padding:4px}
.fy-cols{display:flex;gap:56px;align-items:flex-start;position:relative;z-index:1}
.fy-col{display:flex;flex-direction:column;gap:14px;min-width:250px;max-width:290px}
.fy-col-title{color:#616e7c;font-size:11px;text-transform:uppercase;letter-spacing:.05em}
.fy-edges{position:absolute;left:0;top:0;z-index:0;pointer-events:none;overflow:visible}
.fy-edges path{fill:none;stroke:#9aa5b1;stroke-width:1.5}
.fy-edges text{font-size:10px;fill:#616e7c}
.fy-card{background:#fff;border:1px solid #c5ccd3;border-radius:6px;padding:8px 10px;box-shadow:0 1px 2px rgba(0,0,0,.06)}
.fy-card.fy-focus{border-color:#0dadea;box-shadow:0 0 0 2px #0dadea55}
.fy-warehouse{background:#f5f7fa;border-style:dashed}
.fy-head{display:flex;justify-content:space-between;gap:6px;align-items:baseline}
.fy-name{font-weight:600;font-size:14px}
.fy-tag{font-size:10px;padding:1px 5px;border-radius:8px;background:#e4e7eb;color:#3e4c59;margin-left:3px}
.fy-row{margin-top:6px}
.fy-origin{color:#616e7c;font-size:11px}
.fy-alias{font-weight:600}
.fy-id{font-family:ui-monospace,monospace;color:#616e7c;font-size:11px}
.fy-phase{font-size:11px;padding:0 5px;border-radius:3px}
.fy-ok{background:#d1f7c4;color:#1e5e0e}.fy-bad{background:#fde2e1;color:#8a1c1c}.fy-wait{background:#fff3c4;color:#7a5b00}
.fy-cand{margin-top:6px;padding:5px 6px;border-radius:4px;background:#f0f4f8}
.fy-reason{color:#8a1c1c;font-size:12px}
.fy-btn{margin-top:4px;padding:3px 10px;border:1px solid #0b7cb0;background:#0dadea;color:#fff;border-radius:4px;cursor:pointer;font-size:12px}
.fy-btn.fy-secondary{background:#fff;color:#0b7cb0}
.fy-btn:disabled{opacity:.5;cursor:default}
.fy-apps summary{cursor:pointer;color:#3e4c59;margin-top:6px}
.fy-apps ul{margin:4px 0 0;padding-left:16px;max-height:160px;overflow:auto}
.fy-hold,.fy-window{margin-top:4px;font-size:12px;color:#7a5b00}
.fy-msg{margin:0 0 8px;padding:6px 8px;border-radius:4px}
.fy-msg.fy-error{background:#fde2e1;color:#8a1c1c}.fy-msg.fy-info{background:#d1f7c4;color:#1e5e0e}
.fy-hidden{display:none}
`;

function ensureStyle(doc) {
  if (doc.getElementById("freightyard-style")) return;
  const style = doc.createElement("style");
  style.id = "freightyard-style";
  style.textContent = STYLE;
  doc.head.appendChild(style);
}

function el(doc, tag, attrs, ...children) {
  const node = doc.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.appendChild(typeof child === "string" ? doc.createTextNode(child) : child);
  }
  return node;
}

function phaseClass(phase) {
  if (phase === "Succeeded" || phase === "Skipped") return "fy-phase fy-ok";
  if (phase === "Failed" || phase === "Error") return "fy-phase fy-bad";
  return "fy-phase fy-wait";
}

function span(seconds) {
  const h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
  return (h ? h + "h" : "") + (m ? m + "m" : "") || seconds + "s";
}

// Columns by longest path from the warehouses; rows ordered by the mean row of each stage's upstreams.
function layout(view) {
  const upstream = {};
  for (const stage of view.stages) upstream[stage.name] = [];
  for (const edge of view.edges) {
    if (edge.from in upstream && edge.to in upstream) upstream[edge.to].push(edge.from);
  }
  const depth = {};
  const visit = (name, seen) => {
    if (name in depth) return depth[name];
    if (seen.has(name)) return 0; // a cycle: validation refuses them, but never loop
    seen.add(name);
    depth[name] = upstream[name].length ? 1 + Math.max(...upstream[name].map((u) => visit(u, seen))) : 0;
    return depth[name];
  };
  for (const stage of view.stages) visit(stage.name, new Set());
  const columns = [];
  for (const stage of view.stages) (columns[depth[stage.name]] = columns[depth[stage.name]] || []).push(stage);
  const row = {};
  columns.forEach((column, index) => {
    if (index > 0) {
      const weight = (s) => {
        const ups = upstream[s.name].map((u) => row[u]).filter((r) => r !== undefined);
        return ups.length ? ups.reduce((a, b) => a + b, 0) / ups.length : 0;
      };
      column.sort((a, b) => weight(a) - weight(b));
    }
    column.forEach((stage, i) => (row[stage.name] = i));
  });
  return columns;
}

function matches(stage, query) {
  if (!query) return true;
  const q = query.toLowerCase();
  const words = [stage.name, ...stage.apps.map((a) => a.name)];
  for (const f of Object.values(stage.freight)) words.push(f.alias, f.id);
  return words.some((w) => w && w.toLowerCase().includes(q));
}

function freightRow(doc, stage, origin, entry, request) {
  const verification = entry.verification;
  const soak = request && request.soakSeconds ? `soak ${span(request.soakSeconds)} upstream` : "";
  return el(
    doc,
    "div",
    { class: "fy-row", "data-origin": origin, "data-freight": entry.id },
    el(doc, "div", { class: "fy-origin" }, `from ${origin || "?"}`, soak ? ` · ${soak}` : ""),
    el(doc, "span", { class: "fy-alias" }, entry.alias),
    " ",
    el(doc, "span", { class: "fy-id" }, entry.shortId),
    " ",
    verification
      ? el(doc, "span", { class: phaseClass(verification.phase), title: verification.message || "" }, verification.phase)
      : el(doc, "span", { class: "fy-phase fy-wait" }, "unverified"),
  );
}

function candidateRow(doc, stage, origin, candidate, opts) {
  if (!candidate) return null;
  const act = opts.onPromote && opts.canAct !== false;
  const children = [
    el(doc, "div", { class: "fy-origin" }, `next from ${origin}: `, el(doc, "span", { class: "fy-alias" }, candidate.alias), " ", el(doc, "span", { class: "fy-id" }, candidate.shortId)),
  ];
  if (candidate.eligible) {
    children.push(el(doc, "div", { class: "fy-origin" }, candidate.reason));
    if (act) {
      children.push(
        el(doc, "button", { class: "fy-btn", "data-action": "promote", onclick: (e) => { e.target.disabled = true; opts.onPromote(stage.name, candidate.id); } }, `Promote ${candidate.alias}`),
      );
    }
  } else {
    children.push(el(doc, "div", { class: "fy-reason", "data-reason": "" }, candidate.reason));
    if (act && opts.onApprove) {
      children.push(
        el(doc, "button", { class: "fy-btn fy-secondary", "data-action": "approve", onclick: (e) => { e.target.disabled = true; opts.onApprove(stage.name, candidate.id); } }, `Approve ${candidate.alias} for ${stage.name}`),
      );
    }
  }
  return el(doc, "div", { class: "fy-cand", "data-candidate": candidate.id, "data-eligible": String(candidate.eligible) }, children);
}

function stageCard(doc, stage, opts, collapsed) {
  const requests = Object.fromEntries(stage.requests.map((r) => [r.origin, r]));
  const tags = [
    stage.autoPromotion ? el(doc, "span", { class: "fy-tag" }, "auto") : null,
    el(doc, "span", { class: "fy-tag" }, stage.mechanism),
    stage.verification.configured ? el(doc, "span", { class: "fy-tag" }, "verified") : null,
  ];
  const freight = Object.entries(stage.freight).map(([origin, entry]) => freightRow(doc, stage, origin, entry, requests[origin]));
  const empty = freight.length ? null : el(doc, "div", { class: "fy-row fy-origin" }, "no freight yet");
  const candidates = Object.entries(stage.candidates).map(([origin, c]) => candidateRow(doc, stage, origin, c, opts));
  const approvals = stage.approvals.length
    ? el(doc, "div", { class: "fy-origin fy-row" }, "approved here: ", stage.approvals.map((a) => `${a.alias} by ${a.by || "?"}`).join(", "))
    : null;
  const hold = stage.hold ? el(doc, "div", { class: "fy-hold" }, `auto-promotion held at ${stage.hold.alias} (a manual rollback)`) : null;
  const windows = (stage.windows || []).map((w) => el(doc, "div", { class: "fy-window" }, `window: ${w.description || JSON.stringify(w)}`));
  const holds = (stage.holds || []).map((h) => el(doc, "div", { class: "fy-hold" }, `hold: ${h.reason || JSON.stringify(h)}`));
  const apps = stage.apps.length
    ? el(
        doc,
        "details",
        { class: "fy-apps", open: !collapsed },
        el(doc, "summary", {}, `${stage.apps.length} app${stage.apps.length === 1 ? "" : "s"}`),
        el(doc, "ul", {}, stage.apps.map((a) => el(doc, "li", { "data-app": a.name }, a.name, " ", el(doc, "span", { class: "fy-id" }, Object.values(a.pins).map((id) => id.slice(0, 7)).join(" "))))),
      )
    : null;
  return el(
    doc,
    "div",
    { class: "fy-card" + (opts.focusStage === stage.name ? " fy-focus" : ""), "data-stage": stage.name, id: `fy-stage-${stage.name}` },
    el(doc, "div", { class: "fy-head" }, el(doc, "span", { class: "fy-name" }, stage.name), el(doc, "span", {}, tags)),
    freight,
    empty,
    candidates,
    approvals,
    hold,
    windows,
    holds,
    apps,
  );
}

function drawEdges(doc, canvas, svg, view) {
  const NS = "http://www.w3.org/2000/svg";
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const origin = canvas.getBoundingClientRect();
  const box = (id) => {
    const node = doc.getElementById(id);
    if (!node || node.offsetParent === null) return null;
    const r = node.getBoundingClientRect();
    return { x: r.left - origin.left + canvas.scrollLeft, y: r.top - origin.top + canvas.scrollTop, w: r.width, h: r.height };
  };
  svg.setAttribute("width", String(canvas.scrollWidth));
  svg.setAttribute("height", String(canvas.scrollHeight));
  for (const edge of view.edges) {
    const from = box(edge.from.startsWith("warehouse:") ? `fy-wh-${edge.from.slice(10)}` : `fy-stage-${edge.from}`);
    const to = box(`fy-stage-${edge.to}`);
    if (!from || !to) continue;
    const x1 = from.x + from.w, y1 = from.y + Math.min(from.h / 2, 24), x2 = to.x, y2 = to.y + Math.min(to.h / 2, 24);
    const path = doc.createElementNS(NS, "path");
    let mid = (x1 + x2) / 2;
    let labelY = (y1 + y2) / 2 - 4;
    // An edge that skips columns goes around them (under their lowest visible card), not behind a card.
    const skipped = [...canvas.querySelectorAll(".fy-col")].map((c) => c.getBoundingClientRect())
      .map((r) => ({ left: r.left - origin.left + canvas.scrollLeft, right: r.right - origin.left + canvas.scrollLeft, bottom: r.bottom - origin.top + canvas.scrollTop }))
      .filter((r) => r.left > x1 + 1 && r.right < x2 - 1);
    if (skipped.length) {
      const low = Math.max(...skipped.map((r) => r.bottom)) + 14;
      const a = skipped[0].left - 8, b = skipped[skipped.length - 1].right + 8;
      path.setAttribute("d", `M${x1},${y1} C${a},${y1} ${x1},${low} ${a},${low} L${b},${low} C${x2},${low} ${b},${y2} ${x2},${y2}`);
      mid = (a + b) / 2;
      labelY = low - 4;
    } else {
      path.setAttribute("d", `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`);
    }
    path.setAttribute("data-edge", `${edge.from}->${edge.to}`);
    svg.appendChild(path);
    if (edge.soakSeconds) {
      const label = doc.createElementNS(NS, "text");
      label.setAttribute("x", String(mid - 14));
      label.setAttribute("y", String(labelY));
      label.textContent = `soak ${span(edge.soakSeconds)}`;
      svg.appendChild(label);
    }
  }
}

// opts: {onPromote(stage, id), onApprove(stage, id), canAct, focusStage, message: {kind, text}}
function renderPipeline(root, view, opts = {}) {
  const doc = root.ownerDocument;
  ensureStyle(doc);
  const state = root.__fyState || { query: "", collapsed: null };
  root.__fyState = state;
  const totalApps = view.stages.reduce((n, s) => n + s.apps.length, 0);
  if (state.collapsed === null) state.collapsed = view.stages.length > 8 || totalApps > 20;
  while (root.firstChild) root.removeChild(root.firstChild);
  root.classList.add("fy-root");
  const message = opts.message ? el(doc, "div", { class: `fy-msg fy-${opts.message.kind}`, role: "status" }, opts.message.text) : null;
  const canvas = el(doc, "div", { class: "fy-canvas" });
  const svg = doc.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("class", "fy-edges");
  const count = el(doc, "span", { class: "fy-count" });
  const redraw = () => {
    let shown = 0;
    for (const stage of view.stages) {
      const card = doc.getElementById(`fy-stage-${stage.name}`);
      const visible = matches(stage, state.query);
      shown += visible ? 1 : 0;
      if (card) card.classList.toggle("fy-hidden", !visible);
    }
    count.textContent = `${shown} of ${view.stages.length} stages · ${totalApps} apps`;
    drawEdges(doc, canvas, svg, view);
  };
  const search = el(doc, "input", { type: "search", placeholder: "filter stages, apps, freight…", value: state.query, "aria-label": "filter",
    oninput: (e) => { state.query = e.target.value; redraw(); } });
  const collapse = el(doc, "button", { class: "fy-btn fy-secondary", "data-action": "collapse",
    onclick: () => { state.collapsed = !state.collapsed; renderPipeline(root, view, opts); } }, state.collapsed ? "Expand apps" : "Collapse apps");
  const bar = el(doc, "div", { class: "fy-bar" }, el(doc, "strong", {}, `Pipeline ${view.name}`), search, collapse, count);
  const warehouses = el(doc, "div", { class: "fy-col" }, el(doc, "div", { class: "fy-col-title" }, "warehouses"),
    view.warehouses.map((w) => el(doc, "div", { class: "fy-card fy-warehouse", id: `fy-wh-${w.name}`, "data-warehouse": w.name },
      el(doc, "div", { class: "fy-name" }, w.name),
      w.subscriptions.map((s) => el(doc, "div", { class: "fy-origin" }, `${s.kind}: ${s.repoURL}`)))));
  const columns = layout(view).map((column, i) =>
    el(doc, "div", { class: "fy-col" }, el(doc, "div", { class: "fy-col-title" }, `step ${i + 1}`), column.map((s) => stageCard(doc, s, opts, state.collapsed))));
  canvas.appendChild(svg);
  canvas.appendChild(el(doc, "div", { class: "fy-cols" }, warehouses, columns));
  root.appendChild(bar);
  if (message) root.appendChild(message);
  root.appendChild(canvas);
  for (const details of canvas.querySelectorAll("details")) details.addEventListener("toggle", () => drawEdges(doc, canvas, svg, view));
  redraw();
  if (opts.focusStage) {
    const focus = doc.getElementById(`fy-stage-${opts.focusStage}`);
    if (focus && focus.scrollIntoView) focus.scrollIntoView({ block: "nearest", inline: "center" });
  }
}

// ---- ui/src/client.js
// The API client both entries use: base is "" (standalone page) or "/extensions/freightyard" (Argo CD's proxy).

function client(base, headers) {
  const call = async (method, path, body) => {
    const response = await fetch(base + "/api/v1/pipelines" + path, {
      method,
      credentials: "same-origin",
      headers: Object.assign({ "Content-Type": "application/json" }, headers || {}),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { message: `HTTP ${response.status}` }; }
    if (!response.ok) throw new Error(data.message || `HTTP ${response.status}`);
    return data;
  };
  const at = (pipeline, stage) => `/${encodeURIComponent(pipeline)}/stages/${encodeURIComponent(stage)}`;
  return {
    list: () => call("GET", ""),
    view: (pipeline) => call("GET", `/${encodeURIComponent(pipeline)}`),
    promote: (pipeline, stage, freight) => call("POST", `${at(pipeline, stage)}/promotions`, { freight }),
    approve: (pipeline, stage, freight, reason) => call("POST", `${at(pipeline, stage)}/approvals`, { freight, reason }),
  };
}

// Load, draw, act, redraw: the loop both the page and the extension's app view run.
function mount(root, api, pipeline, opts = {}) {
  let message = null;
  const draw = async () => {
    let view;
    try {
      view = await api.view(pipeline);
    } catch (error) {
      root.textContent = `Freightyard: ${error.message}`;
      return;
    }
    const act = (what) => async (stage, id) => {
      try {
        const reason = what === "approve" ? (opts.prompt ? opts.prompt(`Why approve for ${stage}?`) || "" : "") : undefined;
        const result = what === "approve" ? await api.approve(pipeline, stage, id, reason) : await api.promote(pipeline, stage, id);
        message = { kind: "info", text: what === "approve" ? `approved ${result.alias} for ${stage}` : `${result.phase}: ${result.message || stage}` };
      } catch (error) {
        message = { kind: "error", text: error.message };
      }
      await draw();
    };
    renderPipeline(root, view, { onPromote: act("promote"), onApprove: act("approve"), focusStage: opts.focusStage, message });
    if (opts.onView) opts.onView(view);
  };
  return draw();
}

// ---- ui/src/extension.js
// The Argo CD UI extension: a status-panel item and an app view for Applications Freightyard generates
// (label freightyard.io/pipeline, set by our ApplicationSet templates). Uses Argo CD's global React,
// never a bundled one, and calls only Argo CD's proxy path /extensions/freightyard/..., with the headers
// Argo CD's proxy needs to authorize the call against the Application.

const PROXY = "/extensions/freightyard";
const PIPELINE_LABEL = "freightyard.io/pipeline";
const STAGE_LABEL = "freightyard.io/stage";
const ALIAS_ANNOTATION = "freightyard.io/freight-alias";

function labels(app) {
  return (app && app.metadata && app.metadata.labels) || {};
}

function isOurs(app) {
  return Boolean(labels(app)[PIPELINE_LABEL]);
}

function apiFor(app) {
  return client(PROXY, {
    "Argocd-Application-Name": `${app.metadata.namespace || "argocd"}:${app.metadata.name}`,
    "Argocd-Project-Name": (app.spec && app.spec.project) || "default",
  });
}

function StatusPanel(props) {
  const React = window.React;
  const app = props.application;
  const [stage, setStage] = React.useState(null);
  const ours = isOurs(app);
  const pipeline = labels(app)[PIPELINE_LABEL];
  const stageName = labels(app)[STAGE_LABEL];
  React.useEffect(() => {
    if (!ours) return undefined;
    let live = true;
    apiFor(app).view(pipeline).then(
      (view) => live && setStage(view.stages.find((s) => s.name === stageName) || null),
      () => live && setStage(null),
    );
    return () => { live = false; };
  }, [pipeline, stageName, app.metadata.name]);
  if (!ours) return null;
  const alias = (app.metadata.annotations || {})[ALIAS_ANNOTATION] || "";
  const held = stage ? Object.values(stage.freight) : [];
  const phases = held.map((f) => (f.verification ? f.verification.phase : "unverified")).join(", ");
  const pending = stage ? Object.values(stage.candidates).filter((c) => c).length : 0;
  const h = React.createElement;
  return h(
    "div",
    { className: "freightyard-status", "data-freightyard-status": stageName, style: { cursor: props.openFlyout ? "pointer" : "default" }, onClick: () => props.openFlyout && props.openFlyout() },
    h("div", { style: { fontWeight: 600 } }, `${pipeline} / ${stageName}`),
    h("div", null, `freight ${held.map((f) => f.alias).join(", ") || alias || "none"}`),
    h("div", null, `verification ${phases || "—"}${pending ? ` · ${pending} to promote` : ""}`),
  );
}

function AppView(props) {
  const React = window.React;
  const app = props.application;
  const ref = React.useRef(null);
  const pipeline = labels(app)[PIPELINE_LABEL];
  React.useEffect(() => {
    if (ref.current && pipeline) {
      mount(ref.current, apiFor(app), pipeline, { focusStage: labels(app)[STAGE_LABEL], prompt: (q) => window.prompt(q, "") });
    }
  }, [pipeline, app.metadata.name]);
  if (!pipeline) return React.createElement("div", null, "Not an Application generated by Freightyard.");
  return React.createElement("div", { ref, className: "freightyard-app-view" });
}

function Flyout(props) {
  return AppView(props);
}

(function register(window) {
  const api = window.extensionsAPI;
  if (!api || !window.React) return;
  if (api.registerStatusPanelExtension) api.registerStatusPanelExtension(StatusPanel, "Freightyard", "freightyard", Flyout);
  if (api.registerAppViewExtension) api.registerAppViewExtension(AppView, "Pipeline", "fa-project-diagram", isOurs);
})(window);

})();
