// Redraws the plant board: fetches the board's body (server-rendered HTML) every data-refresh seconds and swaps
// it in. A static file, not inline script: the Content-Security-Policy allows scripts from our own origin only.
(function () {
  "use strict";

  function start() {
    var board = document.querySelector("[data-board-src]");
    if (!board) { return; }
    var seconds = parseInt(board.dataset.refresh || "", 10) || 15;

    function refresh() {
      if (document.hidden) { return; }  // a hidden tab skips its turn; the next visible one catches up
      fetch(board.dataset.boardSrc, { credentials: "same-origin", headers: { Accept: "text/html" } })
        .then(function (response) {
          if (!response.ok) { throw new Error("HTTP " + response.status); }
          return response.text();
        })
        .then(function (html) {
          // Our own server's template output, escaped there; no script in it runs (and none is in it).
          board.innerHTML = html;
          board.classList.remove("board-stale");
        })
        .catch(function () {
          // Keep the last board up, marked as stale: a wall screen has nobody reading the console.
          board.classList.add("board-stale");
        });
    }

    window.setInterval(refresh, seconds * 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
