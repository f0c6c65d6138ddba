// Draws every <div class="figure" data-src="...json"> with Plotly, and redraws it every data-refresh seconds.
// A static file, not inline script: the Content-Security-Policy allows scripts from our own origin only.
(function () {
  "use strict";
  var CONFIG = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["select2d", "lasso2d"] };

  function fail(box, reason) {
    // On the page, not only in the console: a wall screen has nobody reading the console.
    box.classList.add("figure-error");
    box.setAttribute("data-error", reason);
    box.removeAttribute("aria-busy");
  }

  function draw(box) {
    return fetch(box.dataset.src, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (figure) {
        var drawn = box.classList.contains("js-plotly-plot") ? Plotly.react : Plotly.newPlot;
        var loading = box.querySelector(".loading");
        if (loading) { loading.remove(); }
        return drawn(box, figure.data, figure.layout, Object.assign({}, CONFIG, figure.config || {}));
      })
      .then(function () {
        box.classList.remove("figure-error");
        box.removeAttribute("data-error");
        box.removeAttribute("aria-busy");
      })
      .catch(function (error) { fail(box, error.message); });
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".figure[data-src]"), function (box) {
      draw(box);
      var seconds = parseInt(box.dataset.refresh || "", 10);
      if (seconds > 0) {
        // A hidden tab skips its turns; the screen catches up on the next one it shows.
        window.setInterval(function () { if (!document.hidden) { draw(box); } }, seconds * 1000);
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
