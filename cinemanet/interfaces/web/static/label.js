// Labelling and review pages: keyboard shortcuts press the button whose data-key matches.
// No inline script (the page's CSP allows scripts from /static only).
(function () {
  "use strict";
  var form = document.getElementById("answer-form") || document.getElementById("review-form");
  if (!form) return;
  var sent = false;
  form.addEventListener("submit", function (e) {
    if (sent) { e.preventDefault(); return; }  // one answer per page, even with a key held down
    sent = true;
    form.classList.add("sent");
  });
  document.addEventListener("keydown", function (e) {
    if (e.ctrlKey || e.metaKey || e.altKey || sent) return;
    var t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA")) {
      if (e.key === "Escape") t.blur();
      return;
    }
    var key = e.key.length === 1 ? e.key.toLowerCase() : "";
    if (!key) return;
    var b = form.querySelector('button[data-key="' + key + '"]');
    if (b) { e.preventDefault(); b.click(); }
  });
})();
