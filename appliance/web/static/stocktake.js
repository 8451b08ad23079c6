// The stocktake's scan field. A keyboard-wedge scanner types a barcode and Enter into
// the field; the pad's tags and the daemon's scanners arrive as device events. Each is
// posted as JSON and answered in place, so the field keeps the focus and the next scan
// follows at once; scans wait in a queue while one is on its way, none is lost.
(function () {
  var root = document.getElementById("stocktake");
  var form = document.getElementById("scan-form");
  if (!root || !form || !window.fetch) return;
  var field = form.querySelector("input[name=barcode]");
  var answer = document.getElementById("answer");
  var seen = document.getElementById("seen-count");
  var queue = [], busy = false;

  function show(a) {
    answer.className = "st-answer v-" + a.verdict + (a.again ? " again" : "");
    answer.textContent = "";
    var strong = document.createElement("strong");
    strong.textContent = a.barcode;
    answer.appendChild(strong);
    answer.appendChild(document.createTextNode(" " + (a.title || "") + " — " + a.message));
  }

  function next() {
    if (busy || !queue.length) return;
    busy = true;
    var body = queue.shift();
    fetch(root.dataset.scanUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": root.dataset.csrf },
      body: JSON.stringify(body)
    }).then(function (r) { return r.json(); }).then(function (data) {
      if (data.error) {
        answer.className = "st-answer v-error";
        answer.textContent = data.error.message;
      } else {
        data.answers.forEach(show);
        seen.textContent = data.seen;
        root.dataset.scans = String(parseInt(root.dataset.scans || "0", 10) + data.answers.length);
      }
    }).catch(function () {
      answer.className = "st-answer v-error";
      answer.textContent = form.dataset.offline || "?";
    }).then(function () { busy = false; next(); });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var code = field.value.trim();
    field.value = "";
    field.focus();
    if (code) { queue.push({ barcode: code }); next(); }
  });
  field.focus();

  if (!window.EventSource) return;
  var source = new EventSource("/events/stream");
  source.addEventListener("open", function () { root.dataset.events = "open"; });
  source.addEventListener("device", function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    if (ev.type === "barcode" && ev.action === "scan" && ev.data && ev.data.code) {
      queue.push({ barcode: ev.data.code });
    } else if (ev.type === "rfid" && ev.action === "present") {
      var tags = (ev.data.tags || []).filter(function (t) { return t.usage !== "patron" && t.barcode; })
        .map(function (t) { return { barcode: t.barcode, owner: t.owner || null }; });
      if (tags.length) queue.push({ tags: tags });
    }
    next();
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
