// The runs page: every run of the backend, newest first, filtered by phase and name, live.
"use strict";
DF.runsPage = function (main, params) {
  const { el, clear } = DF;
  const PHASES = ["", "Running", "Pending", "Succeeded", "Failed", "Error"];
  const state = { phase: params.get("phase") || "", q: params.get("q") || "", limit: 50, rows: new Map(), order: [] };
  let close = null;

  const search = el("input", { class: "search", attrs: { type: "search", placeholder: "filter by name or id", value: state.q, "aria-label": "filter by name or id" } });
  const phase = el("select", { class: "phase-filter", attrs: { "aria-label": "phase" } },
    PHASES.map((p) => el("option", { attrs: { value: p }, text: p || "all phases" })));
  phase.value = state.phase;
  const count = el("span", { class: "count" });
  const body = el("tbody");
  const more = el("button", { class: "more hidden", text: "Show more", on: { click: () => { state.limit += 50; open(); } } });
  const empty = el("p", { class: "empty hidden", text: "No runs yet. Submit a workflow and it shows up here." });
  const table = el("table", { class: "runs" },
    el("thead", {}, el("tr", {}, ["Name", "ID", "Phase", "Progress", "Started", "Duration"].map((h) => el("th", { text: h })))),
    body);
  clear(main).appendChild(el("section", { class: "runs-page" },
    el("div", { class: "filters" }, search, phase, count), table, empty, more));
  DF.crumbs([{ text: "runs" }]);

  let typing = null;
  search.addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { state.q = search.value; remember(); open(); }, 250); });
  phase.addEventListener("change", () => { state.phase = phase.value; remember(); open(); });

  function remember() {
    // keep the filter in the address (with the token) so a reload shows the same rows
    const q = new URLSearchParams(window.location.search);
    if (state.q) q.set("q", state.q); else q.delete("q");
    if (state.phase) q.set("phase", state.phase); else q.delete("phase");
    history.replaceState(null, "", "?" + q.toString() + window.location.hash);
  }

  function row(r) {
    const href = "#/run/" + encodeURIComponent(r.id);
    return el("tr", { class: "run-row phase-" + r.phase, data: { id: r.id } },
      el("td", {}, el("a", { class: "run-name", attrs: { href }, text: r.name })),
      el("td", { class: "mono" }, el("a", { attrs: { href }, text: r.id })),
      el("td", {}, DF.badge(r.phase), r.message ? el("span", { class: "msg", text: r.message, title: r.message }) : null),
      el("td", { class: "progress", text: r.progress || "" }),
      el("td", { class: "time", text: DF.time(r.started || r.created) }),
      el("td", {}, DF.FINAL.includes(r.phase) && !r.finished ? el("span", { class: "dur" }) : DF.liveDuration(r.started, r.finished)));
  }

  function render(msg) {
    msg.upsert.forEach((r) => state.rows.set(r.id, r));
    state.order = msg.order;
    for (const id of Array.from(state.rows.keys())) if (!msg.order.includes(id)) state.rows.delete(id);
    clear(body);
    msg.order.forEach((id) => body.appendChild(row(state.rows.get(id))));
    count.textContent = msg.total === msg.all ? msg.all + " runs" : msg.total + " of " + msg.all + " runs";
    more.classList.toggle("hidden", msg.total <= msg.order.length);
    empty.classList.toggle("hidden", msg.all > 0);
  }

  function open() {
    if (close) close();
    state.rows.clear();
    const p = { limit: String(state.limit), q: state.q };
    if (state.phase) p.phase = state.phase;
    close = DF.stream("/api/runs/events", p, {
      runs: render,
      error: (e) => DF.toast(e.error, "error"),
    });
  }
  open();
  return { close: () => { if (close) close(); } };
};
