// Keyboard use for the search page: "/" search, j/k move through results, n/p change page.
(function () {
  "use strict";
  function typing(el) {
    return el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.tagName === "SELECT" || el.isContentEditable);
  }
  function links() {
    return Array.prototype.slice.call(document.querySelectorAll(".hit-link"));
  }
  function move(step) {
    var all = links();
    if (!all.length) { return; }
    var at = all.indexOf(document.activeElement);
    var next = at < 0 ? (step > 0 ? 0 : all.length - 1) : Math.min(all.length - 1, Math.max(0, at + step));
    all[next].focus();
    all[next].scrollIntoView({ block: "nearest" });
  }
  function follow(rel) {
    var link = document.querySelector('a[rel="' + rel + '"]');
    if (link) { window.location.href = link.href; }
  }
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) { return; }
    if (typing(event.target)) {
      if (event.key === "Escape") { event.target.blur(); }
      return;
    }
    var box = document.getElementById("q") || document.getElementById("speaker");
    if (event.key === "/" && box) {
      event.preventDefault();
      box.focus();
      box.select();
    } else if (event.key === "j") {
      move(1);
    } else if (event.key === "k") {
      move(-1);
    } else if (event.key === "n") {
      follow("next");
    } else if (event.key === "p") {
      follow("prev");
    }
  });
  var back = document.getElementById("back-link");
  if (back && back.getAttribute("data-back") === "yes" && document.referrer.indexOf(window.location.origin + "/") === 0) {
    back.addEventListener("click", function (event) {
      event.preventDefault();
      window.history.back();
    });
  }
})();
