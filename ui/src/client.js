// The API client both entries use: base is "" (standalone page) or "/extensions/freightyard" (Argo CD's proxy).

export function client(base, headers) {
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
export function mount(root, api, pipeline, opts = {}) {
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
