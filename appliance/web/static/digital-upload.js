/* The desk's upload of a digital copy: several files in page order (the order chosen is
   the list's; ↑ moves a file up), each sent in chunks at the offset the server holds.
   A cut link is retried: the script asks where the upload stands and goes on from
   there, so a large PDF survives a dropped link. */
(function () {
  var form = document.getElementById("du");
  if (!form) return;
  var input = document.getElementById("du-files"), list = document.getElementById("du-list");
  var bar = document.getElementById("du-progress"), status = document.getElementById("du-status");
  var chunk = +form.dataset.chunk, files = [];
  function headers(extra) {
    var h = {"X-CSRF-Token": form.dataset.csrf, "Accept": "application/json"};
    for (var k in extra) h[k] = extra[k];
    return h;
  }
  function draw() {
    list.textContent = "";
    files.forEach(function (f, i) {
      var li = document.createElement("li"), up = document.createElement("button");
      li.textContent = f.name + " ";
      up.type = "button"; up.textContent = "↑"; up.disabled = i === 0;
      up.onclick = function () { files.splice(i - 1, 0, files.splice(i, 1)[0]); draw(); };
      li.appendChild(up); list.appendChild(li);
    });
  }
  input.onchange = function () {
    files = Array.prototype.slice.call(input.files).sort(function (a, b) {
      return a.name.localeCompare(b.name, undefined, {numeric: true});
    });
    draw();
  };
  function json(r) {
    return r.json().then(function (body) { if (!r.ok) throw body; return body; });
  }
  function wait(ms) { return new Promise(function (ok) { setTimeout(ok, ms); }); }
  var total = 0, done = 0;
  function send(file, id, offset, tries) {
    if (offset >= file.size) return Promise.resolve(id);
    var piece = file.slice(offset, offset + chunk);
    return fetch(form.dataset.start + "/" + id + "?offset=" + offset, {
      method: "PUT", body: piece, credentials: "same-origin",
      headers: headers({"Content-Type": "application/octet-stream"})
    }).then(json).then(function (r) {
      done += r.received - offset; bar.value = Math.round(100 * done / total);
      return send(file, id, r.received, 0);
    }, function () {  /* cut: ask where it stands, then go on */
      if (tries > 20) throw new Error("upload failed");
      return wait(500 * (tries + 1)).then(function () {
        return fetch(form.dataset.start + "/" + id, {credentials: "same-origin", headers: headers({})});
      }).then(json).then(function (r) {
        done += r.received - offset; return send(file, id, r.received, tries + 1);
      }, function () { return send(file, id, offset, tries + 1); });
    });
  }
  function upload(file) {
    return fetch(form.dataset.start, {
      method: "POST", credentials: "same-origin",
      headers: headers({"Content-Type": "application/json"}),
      body: JSON.stringify({filename: file.name, size: file.size})
    }).then(json).then(function (r) { return send(file, r.id, 0, 0); });
  }
  form.onsubmit = function (e) {
    e.preventDefault();
    if (!files.length) return;
    total = files.reduce(function (n, f) { return n + f.size; }, 0); done = 0;
    var ids = [], chain = Promise.resolve();
    files.forEach(function (f) {
      chain = chain.then(function () { status.textContent = f.name; return upload(f); })
        .then(function (id) { ids.push(id); });
    });
    chain.then(function () {
      return fetch(form.dataset.finish, {
        method: "POST", credentials: "same-origin",
        headers: headers({"Content-Type": "application/json"}),
        body: JSON.stringify({bib_id: form.dataset.bib, uploads: ids, access: document.getElementById("du-access").value,
                              collection: document.getElementById("du-collection").value})
      }).then(json);
    }).then(function (r) {
      bar.value = 100;
      status.textContent = "✓ " + r.pages;
      var a = document.createElement("a"); a.href = r.viewer; a.textContent = r.document;
      status.appendChild(document.createTextNode(" ")); status.appendChild(a);
    }, function (err) {
      status.textContent = (err && err.error && err.error.message) || String(err);
    });
  };
})();
