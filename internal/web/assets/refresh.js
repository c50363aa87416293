(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.fetch || !window.DOMParser) return;
  var every = (parseInt(main.getAttribute("data-refresh"), 10) || 10) * 1000;
  var stale = document.getElementById("stale");
  function refresh() {
    fetch(location.href, { cache: "no-store" }).then(function (r) {
      if (!r.ok) throw new Error(r.status);
      return r.text();
    }).then(function (html) {
      var next = new DOMParser().parseFromString(html, "text/html").getElementById("main");
      var cur = document.getElementById("main");
      if (!next || !cur) return;
      // Keep what the reader opened.
      cur.querySelectorAll("details[open][id]").forEach(function (d) {
        var n = next.querySelector("#" + CSS.escape(d.id));
        if (n) n.open = true;
      });
      cur.replaceWith(document.adoptNode(next));
      if (stale) stale.hidden = true;
    }).catch(function () {
      if (stale) stale.hidden = false;
    });
  }
  setInterval(refresh, every);
})();
