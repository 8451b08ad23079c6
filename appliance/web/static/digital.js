/* The OPAC's page viewer: plain images from the IIIF image service, zoom by scaling the
   page (pinch or the buttons), pan by scrolling the stage, a strip of thumbnails, go to
   a page, search inside with the hits marked on the page. No library, no build. */
(function () {
  var root = document.getElementById("dv");
  if (!root) return;
  var pages = JSON.parse(document.getElementById("dv-pages").textContent);
  var stage = document.getElementById("dv-stage"), box = document.getElementById("dv-page");
  var img = document.getElementById("dv-img"), go = document.getElementById("dv-go");
  var hitsList = document.getElementById("dv-hits");
  var current = 1, zoom = 1, hits = [];
  function iiif(p, size) {
    return root.dataset.iiif.replace("PAGE", p.id) + "/full/" + size + "/0/default.jpg";
  }
  function fit() {
    var p = pages[current - 1];
    var width = stage.clientWidth * zoom;
    box.style.width = width + "px";
    box.style.height = (width * p.height / p.width) + "px";
    var want = Math.min(p.width, Math.ceil(width * (window.devicePixelRatio || 1)));
    var src = iiif(p, want >= p.width ? "max" : want + ",");
    if (img.getAttribute("src") !== src) img.src = src;
    marks();
  }
  function marks() {
    var p = pages[current - 1];
    Array.prototype.forEach.call(box.querySelectorAll(".dv-hit"), function (m) { m.remove(); });
    hits.forEach(function (h) {
      if (h.page !== current) return;
      h.boxes.forEach(function (b) {
        var m = document.createElement("span");
        m.className = "dv-hit";
        m.style.left = (100 * b[0] / p.width) + "%"; m.style.top = (100 * b[1] / p.height) + "%";
        m.style.width = (100 * b[2] / p.width) + "%"; m.style.height = (100 * b[3] / p.height) + "%";
        box.appendChild(m);
      });
    });
  }
  function show(n) {
    current = Math.max(1, Math.min(pages.length, n | 0 || 1));
    go.value = current;
    img.alt = String(current);
    Array.prototype.forEach.call(document.querySelectorAll("#dv-strip a"), function (a) {
      if (+a.dataset.n === current) { a.setAttribute("aria-current", "page"); a.scrollIntoView({block: "nearest", inline: "nearest"}); }
      else a.removeAttribute("aria-current");
    });
    fit();
  }
  function zoomBy(f) { zoom = Math.max(1, Math.min(8, zoom * f)); fit(); }
  document.getElementById("dv-prev").onclick = function () { show(current - 1); };
  document.getElementById("dv-next").onclick = function () { show(current + 1); };
  document.getElementById("dv-in").onclick = function () { zoomBy(1.5); };
  document.getElementById("dv-out").onclick = function () { zoomBy(1 / 1.5); };
  go.onchange = function () { show(+go.value); };
  document.getElementById("dv-strip").onclick = function (e) {
    var a = e.target.closest("a"); if (!a) return; e.preventDefault(); show(+a.dataset.n);
  };
  stage.addEventListener("wheel", function (e) {
    if (!e.ctrlKey) return; e.preventDefault(); zoomBy(e.deltaY < 0 ? 1.2 : 1 / 1.2);
  }, {passive: false});
  var pinch = null;
  stage.addEventListener("touchmove", function (e) {
    if (e.touches.length !== 2) return;
    var d = Math.hypot(e.touches[0].clientX - e.touches[1].clientX, e.touches[0].clientY - e.touches[1].clientY);
    if (pinch) zoomBy(d / pinch);
    pinch = d; e.preventDefault();
  }, {passive: false});
  stage.addEventListener("touchend", function () { pinch = null; });
  window.addEventListener("resize", fit);
  document.addEventListener("keydown", function (e) {
    if (e.target.tagName === "INPUT") return;
    if (e.key === "ArrowRight") show(current + 1);
    if (e.key === "ArrowLeft") show(current - 1);
  });
  function find(q) {
    hitsList.textContent = "";
    if (!q) { hits = []; marks(); return; }
    var url = root.dataset.search + "?document=" + encodeURIComponent(root.dataset.document) + "&q=" + encodeURIComponent(q);
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (data) {
      hits = data.hits || [];
      if (!hits.length) { hitsList.textContent = root.dataset.none || "0"; marks(); return; }
      hits.forEach(function (h) {
        var li = document.createElement("li"), a = document.createElement("a");
        a.href = "?page=" + h.page; a.dataset.n = h.page;
        a.appendChild(document.createTextNode(h.page + ": "));
        var text = h.snippet, parts = [text];
        h.highlights.forEach(function (w) {
          parts = [].concat.apply([], parts.map(function (s) {
            if (typeof s !== "string") return [s];
            var out = [], i; while ((i = s.indexOf(w)) >= 0) { out.push(s.slice(0, i)); var m = document.createElement("mark"); m.textContent = w; out.push(m); s = s.slice(i + w.length); }
            out.push(s); return out;
          }));
        });
        parts.forEach(function (s) { a.appendChild(typeof s === "string" ? document.createTextNode(s) : s); });
        a.onclick = function (e) { e.preventDefault(); show(h.page); };
        li.appendChild(a); hitsList.appendChild(li);
      });
      if (!hits.some(function (h) { return h.page === current; })) show(hits[0].page); else marks();
    });
  }
  document.getElementById("dv-find").onsubmit = function (e) { e.preventDefault(); find(document.getElementById("dv-q").value); };
  show(+root.dataset.start || 1);
  if (root.dataset.q) find(root.dataset.q);
})();
