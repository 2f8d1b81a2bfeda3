// xdmflow console: progressive enhancement only; every page works without it.
(function () {
  "use strict";
  function csrf() { var i = document.querySelector('input[name="csrf"]'); return i ? i.value : ""; }

  document.querySelectorAll("[data-autosubmit]").forEach(function (el) {
    el.addEventListener("change", function () { el.form.submit(); });
  });
  document.querySelectorAll("form[data-confirm]").forEach(function (f) {
    f.addEventListener("submit", function (e) { if (!window.confirm(f.dataset.confirm)) e.preventDefault(); });
  });

  // live run status: poll until the run finishes, then reload for the full report
  var state = document.getElementById("run-state");
  if (state && state.dataset.poll) {
    var timer = setInterval(function () {
      fetch(state.dataset.poll, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (s) {
        state.textContent = s.state;
        ["input", "output", "failed"].forEach(function (k) { var el = document.getElementById("m-" + k); if (el) el.textContent = s[k]; });
        if (["success", "failed", "cancelled"].indexOf(s.state) >= 0) { clearInterval(timer); window.location.reload(); }
      }).catch(function () {});
    }, 1000);
  }

  // mapping editor: add / remove rows, live Conversion preview
  var form = document.getElementById("wizard-form");
  if (!form) return;
  var body = document.getElementById("mapping-rows");
  var sample = JSON.parse(document.getElementById("sample-rows").textContent || "[]");
  var out = document.getElementById("preview");
  var summary = document.getElementById("preview-summary");
  var pending = null;

  function rows() {
    return Array.prototype.map.call(body.querySelectorAll(".mapping-row"), function (tr) {
      return { src: tr.querySelector('[name="src"]').value.trim(), dst: tr.querySelector('[name="dst"]').value };
    });
  }
  function cell(tag, text) { var c = document.createElement(tag); c.textContent = text; return c; }
  function render(res) {
    out.innerHTML = "";
    var table = document.createElement("table");
    table.className = "preview";
    var head = table.createTHead().insertRow();
    ["Row", "Errors", "Mapped data"].forEach(function (h) { var th = cell("th", h); th.scope = "col"; head.appendChild(th); });
    var tb = table.createTBody();
    res.rows.forEach(function (r, i) {
      var tr = tb.insertRow();
      if (r.errors) tr.className = "rejected-row";
      tr.appendChild(cell("td", String(i + 1)));
      tr.appendChild(cell("td", r.errors ? r.errors.map(function (e) { return (e.destination || "") + ": " + e.exception; }).join("; ") : ""));
      tr.appendChild(cell("td", r.data ? JSON.stringify(r.data) : "—"));
    });
    out.appendChild(table);
    summary.textContent = res.rows.length + " rows previewed, " + res.rejected + " rejected";
  }
  function refresh() {
    clearTimeout(pending);
    pending = setTimeout(function () {
      fetch("/flows/new/preview", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
        body: JSON.stringify({ dataset: form.getAttribute("data-dataset"), rows: rows(), sample: sample })
      }).then(function (r) { return r.json().then(function (j) { return { ok: r.ok, j: j }; }); }).then(function (res) {
        if (res.ok) { render(res.j); return; }
        out.innerHTML = "";
        summary.textContent = res.j.message + " (request id " + res.j.requestId + ")";
      });
    }, 250);
  }
  body.addEventListener("input", refresh);
  body.addEventListener("change", refresh);
  body.addEventListener("click", function (e) {
    if (e.target.classList.contains("remove-row") && body.querySelectorAll(".mapping-row").length > 1) {
      e.target.closest("tr").remove(); refresh();
    }
  });
  document.getElementById("add-row").addEventListener("click", function () {
    var last = body.querySelector(".mapping-row:last-child");
    var copy = last.cloneNode(true);
    copy.querySelectorAll("input").forEach(function (i) { i.value = ""; i.removeAttribute("aria-invalid"); });
    copy.querySelectorAll("select").forEach(function (s) { s.selectedIndex = 0; });
    copy.querySelectorAll(".field-error").forEach(function (p) { p.remove(); });
    body.appendChild(copy);
    copy.querySelector("input").focus();
  });
  refresh();
})();
