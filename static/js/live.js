// The supervision console, live: the header's badge of unread alerts and, on the board
// page, the board itself, both sent by the server as Server-Sent Events. Nothing else;
// the pages work without it (the badge then stays empty, the board as rendered).
(function () {
  "use strict";
  if (!window.EventSource) {
    return;
  }
  var badge = document.getElementById("alert-badge");
  if (badge && badge.getAttribute("data-events")) {
    var alerts = new EventSource(badge.getAttribute("data-events"));
    alerts.addEventListener("count", function (event) {
      var n = parseInt(event.data, 10) || 0;
      badge.textContent = String(n);
      badge.setAttribute("data-count", String(n));
      badge.hidden = n === 0;
    });
  }
  var board = document.getElementById("live-board");
  if (board && board.getAttribute("data-events")) {
    var updates = new EventSource(board.getAttribute("data-events"));
    updates.addEventListener("update", function (event) {
      board.innerHTML = event.data;
    });
  }
})();
