// The desk's scan field: a keyboard-wedge scanner types into whatever has the focus, so
// the field takes it back after every page (autofocus alone is skipped by browsers in
// some cases: a URL fragment, a page restored from the back-forward cache). Scans from
// the devices daemon land in the same field and submit it.
(function () {
  var field = document.querySelector("input[data-scan]");
  if (!field) return;
  function focusField() {
    var active = document.activeElement;
    if (!active || active === document.body || active.id === "main") {
      field.focus({ preventScroll: true });
    }
  }
  // the result of the last action is read out with the field the focus lands on
  var said = Array.prototype.map.call(document.querySelectorAll("main .flash"), function (el, i) {
    el.id = el.id || "flash-" + i;
    return el.id;
  });
  if (said.length) field.setAttribute("aria-describedby", said.join(" "));
  focusField();
  window.addEventListener("pageshow", focusField);
  if (!window.EventSource) return;
  var source = new EventSource("/events/stream");
  source.addEventListener("device", function (e) {
    var ev = JSON.parse(e.data);
    if (ev.type !== "barcode" || !ev.data || !ev.data.code) return;
    field.value = ev.data.code;
    field.form.submit();
  });
  window.addEventListener("pagehide", function () { source.close(); });
})();
