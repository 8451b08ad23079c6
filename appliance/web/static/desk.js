// Scans from the devices daemon land in the page's scan field and submit it.
(function () {
  if (!window.EventSource) return;
  var field = document.querySelector("input[data-scan]");
  if (!field) return;
  var source = new EventSource("/events/stream");
  source.addEventListener("device", function (e) {
    var ev = JSON.parse(e.data);
    if (ev.type !== "barcode" || !ev.data || !ev.data.code) return;
    field.value = ev.data.code;
    field.form.submit();
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
