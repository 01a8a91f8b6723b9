// The run page: header with actions and failures, step tree, graph, step panel; all live.
"use strict";
DF.runPage = function (main, runId) {
  const { el, clear } = DF;
  const state = { run: null, nodes: new Map(), edges: [], notable: {}, root: null, summary: null, error: null };
  const base = "/api/runs/" + encodeURIComponent(runId);

  const head = el("section", { class: "run-head" });
  const treeBox = el("div", { class: "tree-box" }, el("p", { class: "loading", text: "loading run…" }));
  const graphBox = el("div", { class: "graph" });
  const panel = el("aside", { class: "step-panel hidden", attrs: { "aria-label": "step" } });
  clear(main).appendChild(el("section", { class: "run-page" }, head,
    el("div", { class: "run-body" },
      el("section", { class: "pane tree-pane" }, el("h2", { text: "Steps" }), treeBox),
      el("section", { class: "pane graph-pane" }, el("h2", { text: "Graph" }), el("p", { class: "graph-note" }), graphBox)),
    panel));
  DF.crumbs([{ text: "runs", href: "#/" }, { text: runId }]);

  const select = (id) => { window.location.hash = "#/run/" + encodeURIComponent(runId) + "/step/" + encodeURIComponent(id); };
  const tree = DF.Tree(treeBox, runId, select);
  const graph = DF.Graph(graphBox, select);
  const stepPanel = DF.StepPanel(panel, runId, () => { window.location.hash = "#/run/" + encodeURIComponent(runId); });

  const ACTIONS = [
    { name: "terminate", label: "Terminate", when: ["Pending", "Running"], danger: true,
      ask: "Stop this run now? Its running steps are killed and nothing new starts." },
    { name: "resume", label: "Resume", when: ["Failed", "Error"],
      ask: "Run this run on from where it stopped? Steps that succeeded are kept." },
    { name: "retry", label: "Retry", when: ["Failed", "Error"],
      ask: "Run the failed steps of this run again? Steps that succeeded are kept." },
    { name: "resubmit", label: "Resubmit", when: null,
      ask: "Submit this workflow again as a new run? Succeeded steps that have a key are reused, not run again." },
  ];

  async function act(a) {
    const ok = await DF.confirm(a.label + " run " + runId + "?", a.ask, a.label);
    if (!ok) return;
    try {
      const res = await DF.post(base + "/actions/" + a.name);
      if (a.name === "resubmit" && res.id && res.id !== runId) {
        DF.toast("resubmitted as " + res.id + (res.reused ? " (" + res.reused + " steps reused)" : ""));
        window.location.hash = "#/run/" + encodeURIComponent(res.id);
      } else {
        DF.toast(a.label.toLowerCase() + ": done");
      }
    } catch (e) {
      DF.toast(e.message, "error");
    }
  }

  function counts(summary) {
    if (!summary || !summary.steps_total) return null;
    return el("span", { class: "counts" }, Object.keys(summary.counts).sort().map((p) =>
      el("span", { class: "chip phase-" + p, text: summary.counts[p] + " " + p })));
  }

  function failures() {
    const s = state.summary;
    const failed = state.run && ["Failed", "Error"].includes(state.run.phase);
    if (!failed) return null;
    const box = el("div", { class: "failures", attrs: { role: "alert" } },
      el("strong", { text: "This run " + state.run.phase.toLowerCase() + (state.run.message ? ": " + state.run.message : ".") }));
    if (s && s.failed.length) {
      box.appendChild(el("div", { text: s.failed_total === 1 ? "The step that failed:" : s.failed_total + " steps failed:" }));
      box.appendChild(el("ul", {}, s.failed.map((f) => el("li", {},
        el("a", { attrs: { href: "#/run/" + encodeURIComponent(runId) + "/step/" + encodeURIComponent(f.id) }, text: f.display }),
        f.message ? el("span", { class: "why", text: " — " + f.message }) : null))));
      if (s.failed_total > s.failed.length) box.appendChild(el("div", { text: "… and " + (s.failed_total - s.failed.length) + " more" }));
    }
    return box;
  }

  function renderHead() {
    const r = state.run;
    clear(head);
    if (!r) { if (state.error) head.appendChild(el("p", { class: "error", text: state.error })); return; }
    head.appendChild(el("div", { class: "title" },
      el("h1", { text: r.name }), el("span", { class: "mono run-id", text: r.id }), DF.badge(r.phase)));
    head.appendChild(el("div", { class: "meta" },
      el("span", { text: "started " + (DF.time(r.started || r.created) || "—") }),
      el("span", {}, "duration ", DF.liveDuration(r.started, r.finished || (DF.FINAL.includes(r.phase) ? r.started : null))),
      r.progress ? el("span", { text: "progress " + r.progress }) : null,
      counts(state.summary)));
    head.appendChild(el("div", { class: "actions" }, ACTIONS.map((a) => el("button", {
      class: "action " + a.name + (a.danger ? " danger" : ""), text: a.label,
      attrs: a.when && !a.when.includes(r.phase) ? { disabled: "" } : {},
      on: { click: () => act(a) } }))));
    const f = failures();
    if (f) head.appendChild(f);
    if (state.error) head.appendChild(el("p", { class: "error", text: "could not read the run: " + state.error }));
  }

  let drawTimer = null, lastDraw = 0;
  function paint() {
    drawTimer = null;
    lastDraw = Date.now();
    renderHead();
    tree.update(state.nodes, state.notable, state.root);
    graph.update(state.nodes, state.edges);
    if (stepPanel.stepId) { tree.select(stepPanel.stepId); graph.select(stepPanel.stepId); }
  }
  function draw() {
    // patches come in bursts: draw at once after a quiet spell, else at most every 200 ms
    if (drawTimer) return;
    drawTimer = setTimeout(paint, Math.max(0, 200 - (Date.now() - lastDraw)));
  }

  function snapshot(m) {
    state.run = m.run; state.error = m.error; state.root = m.root; state.edges = m.edges;
    state.notable = m.notable || {}; state.summary = m.summary;
    state.nodes = new Map(m.nodes.map((n) => [n.id, n]));
    clearTimeout(drawTimer);
    paint();
  }

  function patch(m) {
    m.upsert.forEach((n) => state.nodes.set(n.id, n));
    m.remove.forEach((id) => state.nodes.delete(id));
    if ("run" in m) { state.run = m.run; state.error = m.error; }
    if ("edges" in m) state.edges = m.edges;
    if ("summary" in m) { state.summary = m.summary; state.notable = m.notable || {}; tree.refreshPages(); }
    if ("root" in m) state.root = m.root;
    stepPanel.changed(m.upsert.map((n) => n.id));
    draw();
  }

  function failed(readyState) {
    // a stream the server refused (an unknown run, a server started again with a new token)
    if (readyState !== EventSource.CLOSED) return;
    DF.api(base).then(snapshot, (e) => {
      state.error = e.message;
      renderHead();
      clear(treeBox).appendChild(el("p", { class: "error", text: e.message }));
    });
  }

  const closeStream = DF.stream(base + "/events", {}, { snapshot, patch, fail: failed });
  // what the page draws, for a person debugging it in the console (and for the browser tests)
  DF.current = { state, graph };
  const onResize = () => graph.resize();
  window.addEventListener("resize", onResize);

  return {
    runId,
    step: (sid) => {
      if (sid) { stepPanel.open(sid); tree.select(sid); graph.select(sid); } else { stepPanel.close(); tree.select(null); graph.select(null); }
      if (document.body.classList.contains("with-panel") !== Boolean(sid)) {
        document.body.classList.toggle("with-panel", Boolean(sid));
        setTimeout(onResize, 0); // the graph pane changed size
      }
    },
    close: () => { closeStream(); stepPanel.close(); graph.destroy(); window.removeEventListener("resize", onResize); document.body.classList.remove("with-panel"); },
  };
};
