// Shared helpers of the dflow page. Everything that comes from a run (names, values,
// messages, logs) goes into the page as text (textContent, text nodes), never as markup.
"use strict";
window.DF = (function () {
  const token = new URLSearchParams(window.location.search).get("token") || "";

  // el("div", {class: "x", text: "y", on: {click: f}, attrs: {href: "#"}}, child, ...)
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    const p = props || {};
    if (p.class) node.className = p.class;
    if (p.text !== undefined && p.text !== null) node.textContent = String(p.text);
    if (p.title) node.title = String(p.title);
    if (p.attrs) for (const [k, v] of Object.entries(p.attrs)) if (v !== undefined && v !== null) node.setAttribute(k, String(v));
    if (p.data) for (const [k, v] of Object.entries(p.data)) node.dataset[k] = String(v);
    if (p.on) for (const [k, f] of Object.entries(p.on)) node.addEventListener(k, f);
    for (const c of children) add(node, c);
    return node;
  }

  function add(node, child) {
    if (child === undefined || child === null || child === false) return;
    if (Array.isArray(child)) { child.forEach((c) => add(node, c)); return; }
    node.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function url(path, params) {
    const q = new URLSearchParams(params || {});
    q.set("token", token);
    return path + "?" + q.toString();
  }

  async function answer(res) {
    let body = null;
    try { body = await res.json(); } catch (e) { body = null; }
    if (!res.ok) throw new Error((body && body.error) || (res.status + " " + res.statusText));
    return body;
  }

  async function api(path, params) {
    const q = new URLSearchParams(params || {});
    const res = await fetch(path + (q.toString() ? "?" + q.toString() : ""),
      { headers: { "X-Dflow-Token": token }, cache: "no-store" });
    return answer(res);
  }

  async function post(path) {
    const res = await fetch(path, { method: "POST", headers: { "X-Dflow-Token": token, "Content-Type": "application/json" }, body: "{}" });
    return answer(res);
  }

  // An EventSource on `path`; handlers by event name. Returns a function that closes it.
  // The stream boot.js opened for this path while the page loaded is taken over, with
  // the events it already received.
  function stream(path, params, handlers) {
    const boot = window.DFBoot;
    const adopt = boot && boot.path === path && !Object.keys(params || {}).length;
    window.DFBoot = null;
    if (boot && !adopt) boot.source.close();
    const source = adopt ? boot.source : new EventSource(url(path, params));
    for (const [name, f] of Object.entries(handlers)) {
      if (name === "open" || name === "fail") continue;
      source.addEventListener(name, (ev) => f(JSON.parse(ev.data)));
    }
    if (adopt) {
      ["snapshot", "patch"].forEach((name) => source.removeEventListener(name, boot.keep));
      boot.buffered.forEach((ev) => { if (handlers[ev.type]) handlers[ev.type](JSON.parse(ev.data)); });
      if (source.readyState === EventSource.OPEN) setConn("live");
      if (source.readyState === EventSource.CLOSED) {
        setConn("closed");
        if (handlers.fail) setTimeout(() => handlers.fail(EventSource.CLOSED), 0);
      }
    }
    source.onopen = () => { setConn("live"); if (handlers.open) handlers.open(); };
    source.onerror = () => {
      setConn(source.readyState === EventSource.CLOSED ? "closed" : "reconnecting");
      if (handlers.fail) handlers.fail(source.readyState);
    };
    return () => source.close();
  }

  function setConn(state) {
    const c = document.getElementById("conn");
    c.className = "conn " + state;
    c.textContent = { live: "● live", reconnecting: "● reconnecting…", closed: "● disconnected" }[state] || "";
  }

  const ICON = { Succeeded: "✔", Failed: "✖", Error: "✖", Running: "●", Pending: "○", Skipped: "–", Omitted: "–" };
  const FINAL = ["Succeeded", "Failed", "Error", "Skipped", "Omitted"];

  function badge(phase) { return el("span", { class: "badge phase-" + phase, text: phase }); }
  function icon(phase) { return el("span", { class: "icon phase-" + phase, text: ICON[phase] || "?", title: phase }); }

  function duration(seconds) {
    if (seconds === null || seconds === undefined || isNaN(seconds)) return "";
    if (seconds < 1) return Math.round(seconds * 1000) + "ms";
    if (seconds < 60) return seconds.toFixed(1) + "s";
    const m = Math.floor(seconds / 60), s = Math.floor(seconds % 60);
    if (m < 60) return m + "m" + String(s).padStart(2, "0") + "s";
    return Math.floor(m / 60) + "h" + String(m % 60).padStart(2, "0") + "m";
  }

  function span(started, finished) {
    if (!started) return null;
    return (finished || Date.now() / 1000) - started;
  }

  function time(ts) {
    if (!ts) return "";
    const d = new Date(ts * 1000);
    const pad = (n) => String(n).padStart(2, "0");
    return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + " " +
      pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  }

  // A live duration: refreshed every second while `finished` is empty.
  function liveDuration(started, finished) {
    const node = el("span", { class: "dur", text: duration(span(started, finished)) });
    if (started && !finished) { node.dataset.started = String(started); node.classList.add("ticking"); }
    return node;
  }
  setInterval(() => {
    document.querySelectorAll(".dur.ticking").forEach((n) => { n.textContent = duration(span(Number(n.dataset.started), null)); });
  }, 1000);

  // A yes/no question in a modal dialog; resolves true when the user confirms.
  function confirm(title, text, okLabel) {
    const dlg = document.getElementById("confirm");
    dlg.querySelector(".title").textContent = title;
    dlg.querySelector(".text").textContent = text;
    const ok = dlg.querySelector(".ok"), cancel = dlg.querySelector(".cancel");
    ok.textContent = okLabel;
    return new Promise((resolve) => {
      const done = (value) => { ok.onclick = cancel.onclick = null; dlg.onclose = null; if (dlg.open) dlg.close(); resolve(value); };
      ok.onclick = () => done(true);
      cancel.onclick = () => done(false);
      dlg.onclose = () => done(false);
      dlg.showModal();
      cancel.focus();
    });
  }

  let toastTimer = null;
  function toast(text, kind) {
    const t = document.getElementById("toast");
    t.textContent = text;
    t.className = "toast show " + (kind || "");
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.className = "toast"; }, kind === "error" ? 8000 : 3000);
  }

  function crumbs(parts) {
    const nav = clear(document.getElementById("crumbs"));
    parts.forEach((p) => {
      add(nav, el("span", { class: "sep", text: "›" }));
      add(nav, p.href ? el("a", { attrs: { href: p.href }, text: p.text }) : el("span", { text: p.text }));
    });
  }

  return { token, el, add, clear, url, api, post, stream, setConn, badge, icon, duration, span, time, liveDuration,
    confirm, toast, crumbs, FINAL, ICON };
})();
