// dangan serve: the little script the pages use (vendored, no CDN; CSP allows only 'self').
document.addEventListener("DOMContentLoaded", function () {
  // choosing a category reloads the upload form with that category's required fields
  var sel = document.getElementById("category");
  if (sel && sel.form) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }
  // a thumbnail the record turned out not to have (a drawing failed) leaves no broken image
  document.querySelectorAll("img.thumb").forEach(function (img) {
    img.addEventListener("error", function () { img.remove(); });
    if (img.complete && img.naturalWidth === 0) { img.remove(); }
  });
  // the print pages' button opens the browser's print dialog (the layout is sheet.css's)
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });
  // refusals ask for a confirmation before they are sent
  document.querySelectorAll("button.refuse").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.textContent + "?")) { e.preventDefault(); } });
  });
});
