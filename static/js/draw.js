// The draw page: tick the countdown, swap in the panel the server sends over Server-Sent
// Events whenever the notice changes, and append each new log entry to its timeline.
// Nothing else; the page works without it.
(function () {
  "use strict";
  var panel = document.getElementById("draw-panel");
  if (!panel) {
    return;
  }
  var started = Date.now();

  function tick() {
    var clock = panel.querySelector("[data-left]");
    if (!clock) {
      return;
    }
    // Seconds left as the server counted them when it rendered the panel: the reader's
    // own clock only measures the time since, so a wrong clock does not matter.
    var left = parseInt(clock.getAttribute("data-left"), 10) - Math.floor((Date.now() - started) / 1000);
    if (left <= 0) {
      var running = clock.querySelector(".countdown-left");
      var done = clock.querySelector(".countdown-done");
      if (running) { running.hidden = true; }
      if (done) { done.hidden = false; }
      return;
    }
    var parts = {
      days: Math.floor(left / 86400),
      hours: Math.floor((left % 86400) / 3600),
      minutes: Math.floor((left % 3600) / 60),
      seconds: left % 60
    };
    Object.keys(parts).forEach(function (name) {
      var el = clock.querySelector('[data-part="' + name + '"]');
      if (el) { el.textContent = String(parts[name]); }
    });
  }

  tick();
  window.setInterval(tick, 1000);

  var url = panel.getAttribute("data-events");
  if (url && window.EventSource) {
    // Say which log entry the page already lists, so the stream sends whatever was logged
    // since it was rendered. When the connection drops, the browser reconnects (to any
    // server) with the Last-Event-ID header, which the server prefers to this.
    var listed = document.getElementById("draw-timeline");
    var seq = listed ? listed.getAttribute("data-last-seq") : "";
    var source = new EventSource(seq ? url + "?last_event_id=" + encodeURIComponent(seq) : url);
    source.addEventListener("update", function (event) {
      panel.innerHTML = event.data;
      started = Date.now();
      tick();
    });
    // One new log entry: an <li data-seq="N">, appended to the timeline unless listed already.
    source.addEventListener("entry", function (event) {
      var timeline = document.getElementById("draw-timeline");
      if (!timeline || !event.lastEventId || timeline.querySelector('[data-seq="' + event.lastEventId + '"]')) {
        return;
      }
      timeline.insertAdjacentHTML("beforeend", event.data);
      timeline.setAttribute("data-last-seq", event.lastEventId);
    });
  }
})();
