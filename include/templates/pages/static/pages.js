// Links to Airflow's own pages (data-airflow-link) leave the plugin's frame. The Airflow UI shows
// plugin pages in a sandboxed iframe that may not navigate the top window, so when framed (same
// origin), hand the path to the Airflow UI's router through its history instead; opened on its
// own, the link is an ordinary link.
(function () {
  "use strict";
  // Framed by the Airflow UI: use its light/dark mode (a class on its <html>), and follow changes.
  try {
    if (window.top !== window.self) {
      var airflowRoot = window.top.document.documentElement;
      var syncTheme = function () {
        document.documentElement.setAttribute("data-theme", airflowRoot.classList.contains("dark") ? "dark" : "light");
      };
      syncTheme();
      new MutationObserver(syncTheme).observe(airflowRoot, { attributes: true, attributeFilter: ["class"] });
    }
  } catch (error) {
    // Not the Airflow UI's frame: the system's preference applies.
  }
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-airflow-link]");
    if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return;
    }
    if (window.top === window.self) {
      return;
    }
    try {
      var top = window.top;
      var url = new URL(link.href, window.location.href);
      if (url.origin !== top.location.origin) {
        return;
      }
      var index = (top.history.state && typeof top.history.state.idx === "number") ? top.history.state.idx : 0;
      var state = { usr: null, key: Math.random().toString(36).slice(2, 10), idx: index + 1 };
      top.history.pushState(state, "", url.pathname + url.search + url.hash);
      top.dispatchEvent(new top.PopStateEvent("popstate", { state: state }));
      event.preventDefault();
    } catch (error) {
      // Not allowed to reach the Airflow UI's window: follow the link inside the frame.
    }
  });
  // "Run now" on a workflow's page: the automation API's run route, with the record id or the inputs.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches || !form.matches("form[data-run-url]")) {
      return;
    }
    event.preventDefault();
    var out = form.querySelector(".run-result");
    var body = {};
    var entity = form.querySelector("[name=entity_id]");
    if (entity) {
      body.entity_id = /^\d+$/.test(entity.value.trim()) ? Number(entity.value.trim()) : entity.value.trim();
    }
    out.textContent = "Starting...";
    fetch(form.getAttribute("data-run-url"), {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": form.getAttribute("data-csrf") },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (answer) {
        if (!response.ok) {
          var problems = (answer.errors || []).map(function (e) { return (e.path ? e.path + ": " : "") + e.message; }).join("; ");
          out.textContent = "Not started: " + (problems || answer.detail || "the server answered " + response.status);
          return;
        }
        // the execution's own page (the step timeline, its event), and the run in Airflow
        out.textContent = "Started: ";
        var page = document.createElement("a");
        page.href = form.getAttribute("data-executions-url") + encodeURIComponent(answer.run_id);
        page.textContent = "execution " + answer.run_id;
        out.appendChild(page);
        out.appendChild(document.createTextNode(" · "));
        var link = document.createElement("a");
        link.href = answer.airflow_url || "#";
        link.setAttribute("data-airflow-link", "");
        link.textContent = "this run in Airflow";
        out.appendChild(link);
      });
    }).catch(function (error) {
      out.textContent = "Not started: " + error.message;
    });
  });
})();
