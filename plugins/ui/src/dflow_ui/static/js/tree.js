// The step tree of a run. A folded node (a fan-out with many slices) shows counts by
// phase, its failed and running slices, and pages through all of them on request.
"use strict";
DF.Tree = function (container, runId, onSelect) {
  const { el, clear } = DF;
  const collapsed = new Set();
  const pages = new Map(); // node id -> {phase, offset, el}
  let nodes = new Map(), notable = {}, root = null, selected = null;

  function extras(n) {
    const out = [];
    if (n.key) out.push(el("span", { class: "key", text: "key=" + n.key, title: "key" }));
    if (n.attempts > 1) out.push(el("span", { class: "attempts", text: "attempts " + n.attempts }));
    if (n.progress) out.push(el("span", { class: "prog", text: n.progress, title: "progress" }));
    if (n.message && n.phase !== "Succeeded") out.push(el("span", { class: "msg", text: n.message, title: n.message }));
    return out;
  }

  function line(n, depth, withTwisty) {
    const open = !collapsed.has(n.id);
    const twisty = withTwisty
      ? el("button", { class: "twisty", text: open ? "▾" : "▸", attrs: { "aria-label": open ? "collapse" : "expand" },
          on: { click: (ev) => { ev.stopPropagation(); if (open) collapsed.add(n.id); else collapsed.delete(n.id); render(); } } })
      : el("span", { class: "twisty" });
    const row = el("div", { class: "row phase-" + n.phase + (n.id === selected ? " selected" : ""),
      data: { id: n.id }, attrs: { role: "treeitem", tabindex: "0" },
      on: { click: () => onSelect(n.id), keydown: (ev) => { if (ev.key === "Enter") onSelect(n.id); } } },
      twisty, DF.icon(n.phase), el("span", { class: "name", text: n.display, title: n.name }),
      el("span", { class: "type", text: n.type }), el("span", { class: "phase", text: n.phase }),
      DF.liveDuration(n.started, n.finished || (DF.FINAL.includes(n.phase) ? n.started || null : null)),
      extras(n));
    row.style.paddingLeft = (depth * 16 + 4) + "px";
    return row;
  }

  function counts(n) {
    const g = n.group;
    const box = el("div", { class: "group-counts" }, el("span", { class: "total", text: g.total + " slices:" }));
    Object.keys(g.counts).sort().forEach((p) => {
      box.appendChild(el("button", { class: "chip phase-" + p, text: g.counts[p] + " " + p,
        title: "list the " + p + " slices", on: { click: () => showPage(n.id, p, 0) } }));
    });
    box.appendChild(el("button", { class: "chip all", text: "list all", on: { click: () => showPage(n.id, null, 0) } }));
    return box;
  }

  function group(n, depth) {
    const box = el("div", { class: "group", data: { group: n.id } });
    box.style.marginLeft = (depth * 16 + 24) + "px";
    box.appendChild(counts(n));
    const notes = notable[n.id] || [];
    if (notes.length) {
      box.appendChild(el("div", { class: "notable-title", text: "failed and running slices:" }));
      notes.forEach((c) => box.appendChild(line(c, 0, false)));
    }
    const page = pages.get(n.id);
    if (page) box.appendChild(page.el);
    return box;
  }

  async function showPage(nodeId, phase, offset) {
    const holder = el("div", { class: "page" }, el("p", { class: "loading", text: "loading…" }));
    pages.set(nodeId, { phase, offset, el: holder });
    render();
    try {
      const p = { offset: String(offset), limit: "50" };
      if (phase) p.phase = phase;
      const page = await DF.api("/api/runs/" + encodeURIComponent(runId) + "/nodes/" + encodeURIComponent(nodeId) + "/children", p);
      clear(holder);
      const end = Math.min(page.offset + page.rows.length, page.total);
      holder.appendChild(el("div", { class: "page-bar" },
        el("span", { text: (phase || "all") + ": " + (page.total ? (page.offset + 1) + "–" + end : "0") + " of " + page.total }),
        el("button", { text: "‹ prev", attrs: page.offset > 0 ? {} : { disabled: "" }, on: { click: () => showPage(nodeId, phase, Math.max(0, offset - 50)) } }),
        el("button", { text: "next ›", attrs: end < page.total ? {} : { disabled: "" }, on: { click: () => showPage(nodeId, phase, offset + 50) } }),
        el("button", { text: "close", on: { click: () => { pages.delete(nodeId); render(); } } })));
      page.rows.forEach((c) => holder.appendChild(line(c, 0, false)));
    } catch (e) {
      clear(holder).appendChild(el("p", { class: "error", text: e.message }));
    }
  }

  function walk(out, n, depth) {
    const kids = (n.kids || []).map((id) => nodes.get(id)).filter(Boolean);
    out.appendChild(line(n, depth, kids.length > 0));
    if (n.group) out.appendChild(group(n, depth));
    if (!collapsed.has(n.id)) kids.forEach((k) => walk(out, k, depth + 1));
  }

  function render() {
    const out = el("div", { class: "tree", attrs: { role: "tree" } });
    const top = nodes.get(root);
    if (top) {
      const kids = (top.kids || []).map((id) => nodes.get(id)).filter(Boolean);
      // the root node is the workflow itself: its steps are the top level
      if (top.group) out.appendChild(group(top, 0));
      kids.forEach((k) => walk(out, k, 0));
      if (!kids.length && !top.group) out.appendChild(el("p", { class: "empty", text: "No step has started yet." }));
    }
    const scroll = container.scrollTop;
    clear(container).appendChild(out);
    container.scrollTop = scroll;
  }

  function update(newNodes, newNotable, newRoot) {
    nodes = newNodes; notable = newNotable || {}; root = newRoot;
    render();
  }

  function select(id) {
    selected = id;
    container.querySelectorAll(".row.selected").forEach((r) => r.classList.remove("selected"));
    container.querySelectorAll(".row").forEach((r) => { if (r.dataset.id === id) r.classList.add("selected"); });
  }

  let lastRefresh = 0, refreshTimer = null;
  function refreshPages() {
    // an open page of slices follows the run too, at most every 3 s (each look reads every step)
    if (!pages.size || refreshTimer) return;
    const wait = Math.max(0, 3000 - (Date.now() - lastRefresh));
    refreshTimer = setTimeout(() => {
      refreshTimer = null; lastRefresh = Date.now();
      for (const [id, p] of pages) showPage(id, p.phase, p.offset);
    }, wait);
  }

  return { update, select, refreshPages };
};
