// Loaded first, in <head>: when the address is a run's, its event stream is opened at
// once, while the rest of the page loads; the run page takes it over (DF.adopt).
"use strict";
window.DFBoot = (function () {
  const m = window.location.hash.match(/^#\/run\/([^/]+)/);
  if (!m || !window.EventSource) return null;
  const runId = decodeURIComponent(m[1]);
  const q = new URLSearchParams({ token: new URLSearchParams(window.location.search).get("token") || "" });
  const source = new EventSource("/api/runs/" + encodeURIComponent(runId) + "/events?" + q.toString());
  const buffered = [];
  const keep = (ev) => buffered.push(ev);
  ["snapshot", "patch"].forEach((name) => source.addEventListener(name, keep));
  return { path: "/api/runs/" + encodeURIComponent(runId) + "/events", source, buffered, keep };
})();
