// The step panel: a step's facts, parameters, artifacts, and its log followed live.
"use strict";
DF.StepPanel = function (panel, runId, onClose) {
  const { el, clear } = DF;
  const LOG_LIMIT = 2 * 1024 * 1024; // characters kept on the page; older text is dropped
  let stepId = null, closeLog = null, refreshTimer = null, current = null, logSize = 0;

  function base(sid) { return "/api/runs/" + encodeURIComponent(runId) + "/steps/" + encodeURIComponent(sid); }

  function value(p) {
    if (p.text === null || p.text === undefined) return el("span", { class: "none", text: "(no value yet)" });
    if (p.opaque || p.hidden) return el("em", { class: "opaque", text: p.text });
    const lines = p.text.split("\n").length;
    const note = p.cut ? el("div", { class: "cut", text: "(the first " + p.text.length + " of " + p.size + " characters)" }) : null;
    if (p.text.length <= 160 && lines <= 3) return el("span", {}, el("code", { class: "value", text: p.text }), note);
    return el("details", { class: "value-fold" },
      el("summary", {}, el("code", { text: p.text.slice(0, 100).replace(/\n/g, " ⏎ ") + "…" }),
        el("span", { class: "size", text: " " + p.size + " characters" })),
      el("pre", { class: "value", text: p.text }), note);
  }

  function params(list) {
    if (!list.length) return el("p", { class: "none", text: "none" });
    return el("table", { class: "params" }, el("tbody", {}, list.map((p) =>
      el("tr", {}, el("th", { text: p.name }), el("td", { class: "ptype", text: p.type || "" }), el("td", { class: "pvalue" }, value(p))))));
  }

  function artifacts(step, list) {
    if (!list.length) return null;
    return el("ul", { class: "artifacts" }, list.map((a) => el("li", {},
      el("a", { class: "download", text: "↓ " + a.name,
        attrs: { href: DF.url(base(step.id) + "/artifacts/" + a.direction + "/" + encodeURIComponent(a.name)), download: "" } }),
      el("span", { class: "akey", text: " " + (a.key || "") + (a.parts ? " (" + a.parts + " parts)" : "") }))));
  }

  function fact(name, v) {
    if (v === null || v === undefined || v === "") return null;
    return [el("dt", { text: name }), el("dd", {}, v instanceof Node ? v : String(v))];
  }

  function render(s) {
    const launch = s.launch || {};
    const head = el("header", {},
      el("h2", { text: s.display }), DF.badge(s.phase),
      el("button", { class: "close", text: "×", title: "close", attrs: { "aria-label": "close" }, on: { click: onClose } }));
    const facts = el("dl", { class: "facts" },
      fact("type", s.type), fact("template", s.template), fact("key", s.key), fact("id", s.id),
      fact("started", DF.time(s.started)), fact("duration", DF.liveDuration(s.started, s.finished || (DF.FINAL.includes(s.phase) ? s.started : null))),
      fact("attempts", s.attempts || null), fact("progress", s.progress),
      fact("executor", s.executor || "the backend's own (no executor)"), fact("where", s.where),
      fact("job", launch.job), fact("job state", launch.state));
    const body = el("div", { class: "step-body" }, facts,
      s.message ? el("pre", { class: "message phase-" + s.phase, text: s.message }) : null,
      el("h3", { text: "Inputs" }), params(s.inputs.parameters), artifacts(s, s.inputs.artifacts),
      el("h3", { text: "Outputs" }), params(s.outputs.parameters), artifacts(s, s.outputs.artifacts));
    const keepLog = panel.querySelector(".log-box");
    clear(panel).appendChild(head);
    panel.appendChild(body);
    if (s.has_log) panel.appendChild(keepLog || logBox(s));
  }

  function logBox(s) {
    const pre = el("pre", { class: "log", attrs: { "aria-label": "log" } });
    const status = el("span", { class: "log-status", text: "connecting…" });
    const box = el("section", { class: "log-box" },
      el("h3", {}, "Log ", status,
        el("a", { class: "log-download", text: "whole log", attrs: { href: DF.url(base(s.id) + "/log.txt"), download: "" } })),
      pre);
    logSize = 0;
    const append = (text) => {
      const stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 8;
      pre.appendChild(document.createTextNode(text));
      logSize += text.length;
      while (logSize > LOG_LIMIT && pre.firstChild) { logSize -= pre.firstChild.textContent.length; pre.removeChild(pre.firstChild); }
      if (stick) pre.scrollTop = pre.scrollHeight;
    };
    if (closeLog) closeLog();
    closeLog = DF.stream(base(s.id) + "/log", {}, {
      open: () => { status.textContent = "following"; },
      append: (m) => append(m.text),
      skipped: (m) => append("[… the first " + m.size + " bytes are not shown: see the whole log …]\n"),
      reset: () => { clear(pre); logSize = 0; },
      end: () => { status.textContent = "complete"; if (closeLog) closeLog(); closeLog = null; },
      nolog: (m) => { status.textContent = m.message; if (closeLog) closeLog(); closeLog = null; },
      error: (m) => { status.textContent = m.error || "error"; },
    });
    return box;
  }

  async function load() {
    if (!stepId) return;
    const sid = stepId;
    try {
      const s = await DF.api(base(sid));
      if (sid !== stepId) return;
      current = s;
      render(s);
    } catch (e) {
      if (sid !== stepId) return;
      clear(panel).appendChild(el("header", {}, el("h2", { text: "step " + sid }),
        el("button", { class: "close", text: "×", on: { click: onClose } })));
      panel.appendChild(el("p", { class: "error", text: e.message }));
    }
    clearTimeout(refreshTimer);
    // a folded slice gets no patches: look again while it is not final
    if (current && !DF.FINAL.includes(current.phase)) refreshTimer = setTimeout(load, 3000);
  }

  function open(sid) {
    if (sid === stepId) return;
    close(true);
    stepId = sid;
    panel.classList.remove("hidden");
    clear(panel).appendChild(el("p", { class: "loading", text: "loading step…" }));
    load();
  }

  function close(keepVisible) {
    if (closeLog) closeLog();
    closeLog = null;
    clearTimeout(refreshTimer);
    stepId = null; current = null;
    if (!keepVisible) panel.classList.add("hidden");
  }

  // the run changed: reload the panel when its step did
  function changed(ids) { if (stepId && ids.includes(stepId)) { clearTimeout(refreshTimer); refreshTimer = setTimeout(load, 200); } }

  return { open, close, changed, get stepId() { return stepId; } };
};
