// The desk's "Sync now" runs in the background (sync/deskrun.py). While a run is under
// way the status line asks for itself again every two seconds and is put in place, with
// the run's result once it has ended. The page itself is not reloaded: a librarian may be
// typing a card or a barcode.
(function () {
  function poll() {
    var line = document.getElementById("sync-status");
    if (!line || !line.dataset.poll) return;
    fetch(line.dataset.poll, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("sync-status");
        if (fresh) line.replaceWith(document.importNode(fresh, true));
        setTimeout(poll, 2000);
      }, function () { setTimeout(poll, 5000); });
  }
  setTimeout(poll, 2000);
})();
