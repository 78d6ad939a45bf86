// dangan serve: the little script the pages use (vendored, no CDN; CSP allows only 'self').
document.addEventListener("DOMContentLoaded", function () {
  // choosing a category reloads the upload form with that category's required fields
  var sel = document.getElementById("category");
  if (sel && sel.form) {
    sel.addEventListener("change", function () { sel.form.submit(); });
  }
  // refusals ask for a confirmation before they are sent
  document.querySelectorAll("button.refuse").forEach(function (b) {
    b.addEventListener("click", function (e) { if (!window.confirm(b.textContent + "?")) { e.preventDefault(); } });
  });
});
