// The graph of a run's DAGs and Steps, drawn by Cytoscape.js with the dagre layout.
// Labels are drawn on a canvas, so run data never becomes markup here either.
"use strict";
DF.Graph = function (container, onSelect) {
  const MAX_NODES = 1500;
  const COLORS = { Succeeded: "#2e7d32", Running: "#1565c0", Failed: "#c62828", Error: "#c62828",
    Pending: "#9e9e9e", Skipped: "#bdbdbd", Omitted: "#bdbdbd" };
  if (window.cytoscapeDagre && !DF.Graph.registered) { window.cytoscape.use(window.cytoscapeDagre); DF.Graph.registered = true; }
  const cy = window.cytoscape({
    container,
    minZoom: 0.1,
    maxZoom: 2.5,
    boxSelectionEnabled: false,
    style: [
      { selector: "node", style: {
        "shape": "round-rectangle", "background-color": "#fff", "border-width": 2,
        "border-color": (n) => COLORS[n.data("phase")] || "#9e9e9e",
        "label": "data(label)", "text-valign": "center", "text-halign": "center", "text-wrap": "wrap",
        "font-size": 11, "color": "#212121", "width": (n) => size(n).w, "height": (n) => size(n).h, "padding": "6px" } },
      { selector: "node[kind = 'Pod']", style: { "background-color": (n) => tint(n.data("phase")) } },
      { selector: "node[kind = 'Steps'], node[kind = 'DAG']", style: { "shape": "ellipse", "font-size": 10, "border-style": "double", "border-width": 4 } },
      { selector: "node[kind = 'StepGroup'], node[kind = 'TaskGroup'], node[kind = 'Retry']", style: { "shape": "diamond", "font-size": 10, "padding": "12px" } },
      { selector: "node[kind = 'group']", style: { "shape": "round-rectangle", "border-width": 4, "background-color": (n) => tint(n.data("phase")) } },
      { selector: "node[kind = 'Skipped'], node[phase = 'Skipped'], node[phase = 'Omitted']", style: { "border-style": "dashed", "color": "#757575" } },
      { selector: "node[phase = 'Running']", style: { "border-width": 3 } },
      { selector: "node:selected", style: { "overlay-color": "#1565c0", "overlay-opacity": 0.15, "overlay-padding": 4 } },
      { selector: "edge", style: { "width": 1.5, "line-color": "#b0bec5", "target-arrow-color": "#b0bec5",
        "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
    ],
  });
  let shape = "";
  let layoutTimer = null;
  const note = container.parentNode.querySelector(".graph-note");

  // the box around a label (Cytoscape no longer sizes nodes by their label itself)
  function size(n) {
    const lines = String(n.data("label") || "").split("\n");
    const longest = Math.max(...lines.map((l) => l.length));
    return { w: Math.max(28, longest * 6.7 + 8), h: lines.length * 14 + 6 };
  }

  function tint(phase) {
    return { Succeeded: "#e8f5e9", Running: "#e3f2fd", Failed: "#ffebee", Error: "#ffebee", Pending: "#f5f5f5" }[phase] || "#fafafa";
  }

  function label(n) {
    if (n.group) {
      const c = n.group.counts;
      const parts = Object.keys(c).sort().map((p) => c[p] + " " + (DF.ICON[p] || p));
      return n.display + " ×" + n.group.total + "\n" + parts.join("  ");
    }
    const extra = n.progress && n.phase === "Running" ? "\n" + n.progress : "";
    return n.display + extra;
  }

  // nodes: Map id -> node; edges: [[from, to]]
  function update(nodes, edges) {
    if (nodes.size > MAX_NODES) {
      cy.elements().remove();
      shape = "";
      if (note) note.textContent = "The graph is not drawn: " + nodes.size + " nodes are shown unfolded. The tree lists them.";
      return;
    }
    if (note) note.textContent = "";
    const ids = Array.from(nodes.keys()).sort().join("|") + "#" + edges.map((e) => e.join(">")).join("|");
    cy.batch(() => {
      for (const n of nodes.values()) {
        const data = { id: n.id, label: label(n), phase: n.phase, kind: n.group ? "group" : n.type };
        const existing = cy.getElementById(n.id);
        if (existing.nonempty()) existing.data(data); else cy.add({ group: "nodes", data });
      }
      cy.nodes().forEach((e) => { if (!nodes.has(e.id())) e.remove(); });
      if (ids !== shape) {
        cy.edges().remove();
        edges.forEach(([a, b], i) => {
          if (nodes.has(a) && nodes.has(b)) cy.add({ group: "edges", data: { id: "e" + i, source: a, target: b } });
        });
      }
    });
    if (ids !== shape) {
      shape = ids;
      clearTimeout(layoutTimer);
      // new nodes arrive in bursts while a run starts: lay out once the burst is over
      layoutTimer = setTimeout(layout, cy.nodes().length < 2 ? 0 : 150);
    }
  }

  function layout() {
    cy.layout({ name: window.cytoscapeDagre ? "dagre" : "breadthfirst", rankDir: "TB", nodeSep: 18, rankSep: 36,
      edgeSep: 8, animate: false, fit: true, padding: 16 }).run();
    // a small graph is not blown up to fill the pane
    if (cy.zoom() > 1.1) { cy.zoom(1.1); cy.center(); }
  }

  function select(id) {
    cy.$(":selected").unselect();
    if (id) cy.getElementById(id).select();
  }

  cy.on("tap", "node", (ev) => onSelect(ev.target.id()));
  return { update, select, resize: () => { cy.resize(); cy.fit(undefined, 16); }, destroy: () => cy.destroy(), cy };
};
