// The cataloguing screen's suggestion (core/suggest): a DDC class and subjects from the
// most similar records of the union catalogue, with those records as the evidence. The
// librarian accepts (the fields are filled in, nothing is saved) or ignores it.
(function () {
  "use strict";
  var button = document.getElementById("suggest-class");
  if (!button) return;
  var panel = document.getElementById("class-suggestion");
  var found = document.getElementById("class-suggestion-found");
  var none = document.getElementById("class-suggestion-none");
  var last = null;

  function text(id, value) { document.getElementById(id).textContent = value; }

  function show(data) {
    last = data;
    panel.hidden = false;
    var has = data.ddc && data.ddc.length;
    found.hidden = !has;
    none.hidden = !!has;
    if (!has) return;
    text("suggested-ddc", data.ddc[0].ddc);
    text("suggested-ddc-others", data.ddc.slice(1).map(function (c) { return c.ddc; }).join(" · "));
    text("suggested-subjects", (data.subjects || []).join("; "));
    var list = document.getElementById("suggestion-evidence");
    list.textContent = "";
    (data.evidence || []).forEach(function (r) {
      var li = document.createElement("li");
      li.textContent = r.title + (r.authors.length ? " — " + r.authors.join("; ") : "") +
        " · DDC " + r.ddc;
      list.appendChild(li);
    });
  }

  button.addEventListener("click", function () {
    var params = new URLSearchParams({
      title: document.getElementById("title").value,
      authors: document.getElementById("authors").value
    });
    fetch(button.dataset.url + "?" + params.toString(), {credentials: "same-origin"})
      .then(function (r) { return r.ok ? r.json() : {ddc: []}; })
      .then(show)
      .catch(function () { show({ddc: []}); });
  });
  document.getElementById("accept-suggestion").addEventListener("click", function () {
    if (!last || !last.ddc.length) return;
    document.getElementById("ddc").value = last.ddc[0].ddc;
    if (last.subjects.length) document.getElementById("subjects").value = last.subjects.join("; ");
    panel.hidden = true;
  });
  document.getElementById("ignore-suggestion").addEventListener("click", function () {
    panel.hidden = true;
  });
})();
