// CinemaNet web front end: no framework, no external requests.
(function () {
  "use strict";

  // Keyframes of media that cannot be decoded: keep the colour swatch behind them.
  document.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t.tagName === "IMG") t.classList.add("missing");
  }, true);

  // "/" focuses the query box, as in many search UIs.
  document.addEventListener("keydown", function (e) {
    var q = document.getElementById("q");
    if (e.key === "/" && q && document.activeElement !== q && !/INPUT|TEXTAREA/.test(document.activeElement.tagName)) {
      e.preventDefault();
      q.focus();
      q.select();
    }
  });

  // The shot player: start at the shot's first frame (the #t= fragment does this too, but
  // not every browser honours it after a range-request reload), play, loop inside the shot.
  var v = document.getElementById("player");
  if (!v) return;
  var start = parseFloat(v.dataset.start) || 0;
  var end = parseFloat(v.dataset.end) || 0;
  var loop = document.getElementById("loop");
  function toStart() {
    try { v.currentTime = start; } catch (err) { /* not seekable yet */ }
    var p = v.play();
    if (p && p.catch) p.catch(function () { /* autoplay refused: the controls are there */ });
  }
  if (v.readyState >= 1) toStart(); else v.addEventListener("loadedmetadata", toStart, { once: true });
  // timeupdate comes about every 250 ms, and the #t=start,end fragment pauses the video at the
  // shot's end before a late timeupdate could see it: wrap on either.
  var slack = Math.min(0.25, (end - start) / 2);
  function wrap(e) {
    if (!(end > start && loop && loop.checked)) return;
    if (v.currentTime >= end - (e.type === "timeupdate" ? slack : 0.05)) toStart();
  }
  v.addEventListener("timeupdate", wrap);
  v.addEventListener("pause", wrap);
  v.addEventListener("ended", wrap);
  var replay = document.getElementById("replay");
  if (replay) replay.addEventListener("click", toStart);
})();
