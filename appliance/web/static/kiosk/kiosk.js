// Self-check kiosk: device events in, forms posted in place (the event stream
// stays open), sound and colour for each outcome, idle time-out back to the start.
(function () {
  "use strict";
  var root = function () { return document.getElementById("kiosk"); };
  var csrf = function () {
    var m = document.querySelector("meta[name=csrf-token]");
    return m ? m.content : "";
  };
  var busy = false;
  var queue = [];

  // --- sound: short WebAudio beeps, no files -------------------------------
  var audio = null;
  function tone(freq, start, length, type) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.type = type || "sine";
      osc.frequency.value = freq;
      gain.gain.value = 0.2;
      osc.connect(gain); gain.connect(audio.destination);
      var t = audio.currentTime + start;
      osc.start(t); osc.stop(t + length);
    } catch (e) { /* no sound device: colour still tells */ }
  }
  function feedback(outcome) {
    if (outcome === "ok") { tone(880, 0, 0.12); tone(1320, 0.14, 0.16); }
    else if (outcome === "refused") { tone(220, 0, 0.35, "square"); }
    else if (outcome === "mixed") { tone(880, 0, 0.12); tone(220, 0.16, 0.3, "square"); }
    window.kioskLastOutcome = outcome;
  }

  // --- swapping pages in place -----------------------------------------------
  function swap(html, url) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("kiosk");
    if (!fresh) { window.location.href = url; return; }
    document.title = doc.title;
    document.documentElement.lang = doc.documentElement.lang;
    var meta = doc.querySelector("meta[name=csrf-token]");
    if (meta) document.querySelector("meta[name=csrf-token]").content = meta.content;
    root().replaceWith(fresh);
    if (url) history.replaceState(null, "", url);
    bind();
  }

  function post(action, fields) {
    var body = new FormData();
    body.append("csrf_token", csrf());
    fields.forEach(function (kv) { body.append(kv[0], kv[1]); });
    return send(action, body);
  }

  function send(action, body) {
    busy = true;
    return fetch(action, { method: "POST", body: body, credentials: "same-origin",
                           headers: { "Accept": "text/html" } })
      .then(function (r) {
        // 503: the system is being updated and its notice answers meanwhile. This page
        // again (never the form's address): it shows the notice, which reloads it once
        // the update is done.
        if (r.status === 503) { window.location.reload(); return; }
        if (r.redirected && r.url.indexOf("/login") !== -1) { window.location.href = r.url; }
        return r.text().then(function (t) { swap(t, r.url); });
      })
      .catch(function () { window.location.reload(); })
      .then(function () { busy = false; drain(); });
  }

  function drain() {
    if (!busy && queue.length) handle(queue.shift());
  }

  function bind() {
    var el = root();
    if (!el) return;
    Array.prototype.forEach.call(el.querySelectorAll("form[data-kiosk]"), function (form) {
      form.addEventListener("submit", function (e) {
        e.preventDefault();
        var body = new FormData(form);
        if (e.submitter && e.submitter.name) body.append(e.submitter.name, e.submitter.value);
        send(form.action, body);
      });
    });
    var field = el.querySelector("[autofocus]");
    if (field) field.focus({ preventScroll: true });  // the result above stays in sight
    feedback(el.dataset.outcome);
    announce(el);
    resetIdle();
  }

  // say each outcome to a screen reader through the region that stays in the page
  function announce(el) {
    var region = document.getElementById("announce"), results = el.querySelector(".results");
    if (!region) return;
    region.textContent = "";
    if (results) setTimeout(function () { region.textContent = results.innerText; }, 50);
  }

  // --- device events -----------------------------------------------------------
  function mode() { var el = root(); return el ? el.dataset.mode : ""; }
  function url(name) { return root().dataset[name]; }

  function handle(ev) {
    if (busy) { queue.push(ev); return; }
    resetIdle();
    var m = mode();
    if (ev.type === "barcode" && ev.action === "scan") {
      if (m === "start") post(url("identify"), [["card", ev.data.code]]);
      else if (m === "session") post(url("checkout"), [["barcode", ev.data.code]]);
      else if (m === "returns") post(url("checkin"), [["barcode", ev.data.code]]);
    } else if (ev.type === "card" && ev.action === "inserted") {
      if (m === "start") post(url("identify"), [["card", ev.data.uid]]);
    } else if (ev.type === "rfid" && ev.action === "present") {
      var tags = ev.data.tags || [];
      var patron = tags.filter(function (t) { return t.usage === "patron" && t.barcode; });
      var items = tags.filter(function (t) { return t.usage !== "patron" && t.barcode; });
      if (m === "start" && patron.length) post(url("identify"), [["card", patron[0].barcode]]);
      else if (m === "session" && items.length) post(url("checkout"), [["tags", JSON.stringify(items)]]);
      else if (m === "returns" && items.length) post(url("checkin"), [["tags", JSON.stringify(items)]]);
    }
  }

  if (window.EventSource) {
    var source = new EventSource("/events/stream");
    source.addEventListener("device", function (e) {
      try { handle(JSON.parse(e.data)); } catch (err) { /* a bad event is ignored */ }
    });
    source.addEventListener("open", function () { document.body.dataset.events = "open"; });
    window.addEventListener("pagehide", function () { source.close(); });
  }

  // --- idle time-out -------------------------------------------------------------
  var idleTimer = null, warnTimer = null;
  function resetIdle() {
    clearTimeout(idleTimer); clearTimeout(warnTimer);
    var el = root();
    if (!el) return;
    var warning = el.querySelector(".idle-warning");
    if (warning) warning.hidden = true;
    var seconds = parseInt(el.dataset.idle, 10) || 60;
    var idleWhere = el.dataset.mode !== "start" || document.documentElement.lang !== "vi";
    if (!idleWhere) return;
    if (seconds > 10 && warning) {
      warnTimer = setTimeout(function () { warning.hidden = false; feedback("mixed"); },
                             (seconds - 10) * 1000);
    }
    idleTimer = setTimeout(function () { post(url("end"), []); }, seconds * 1000);
  }
  ["pointerdown", "keydown", "touchstart"].forEach(function (name) {
    document.addEventListener(name, resetIdle, { passive: true });
  });

  bind();
})();
