// A table wider than a phone scrolls sideways inside its own box (market.css). Keyboard
// users scroll such a box by focusing it, so a table that overflows and holds nothing
// focusable of its own is made focusable (WCAG 2.1.1; axe "scrollable-region-focusable").
// Run once the page is laid out, after a resize, and after htmx swaps in new rows. Without
// script the table still scrolls by touch and mouse.
(function () {
  "use strict";
  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";
  function mark() {
    var tables = document.querySelectorAll("main table");
    for (var i = 0; i < tables.length; i++) {
      var t = tables[i];
      if (t.hasAttribute("tabindex") || t.scrollWidth <= t.clientWidth + 1) {
        continue;
      }
      if (window.getComputedStyle(t).overflowX === "visible" || t.querySelector(FOCUSABLE)) {
        continue;
      }
      t.setAttribute("tabindex", "0");
    }
  }
  mark();
  window.addEventListener("resize", mark);
  document.addEventListener("htmx:afterSettle", mark);
})();
