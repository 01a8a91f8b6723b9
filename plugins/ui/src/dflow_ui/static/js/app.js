// The router: #/ (runs), #/run/<id> (a run), #/run/<id>/step/<step id> (a run with a step open).
"use strict";
(function () {
  const main = document.getElementById("main");
  document.getElementById("backend").textContent = document.body.dataset.backend ? "backend: " + document.body.dataset.backend : "";
  let page = null;

  function route() {
    const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (parts[0] === "run" && parts[1]) {
      if (!page || page.runId !== parts[1]) {
        if (page) page.close();
        page = DF.runPage(main, parts[1]);
      }
      page.step(parts[2] === "step" && parts[3] ? parts[3] : null);
      document.title = parts[1] + " · dflow";
      return;
    }
    if (page) page.close();
    page = DF.runsPage(main, new URLSearchParams(window.location.search));
    document.title = "dflow runs";
  }

  window.addEventListener("hashchange", route);
  route();
})();
