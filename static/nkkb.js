/* NKKB's few enhancements, without a framework (the CSP allows no inline script):
   - details marked data-open-wide (the menu, the filter drawer) stand open on wide screens and
     fold away on phones;
   - after filters are applied, focus moves to the results and their count is announced. */
(function () {
  "use strict";
  var wide = window.matchMedia("(min-width: 64rem)");
  var foldable = document.querySelectorAll("details[data-open-wide]");
  foldable.forEach(function (details) {
    if (wide.matches) details.open = true;
  });
  wide.addEventListener("change", function () {
    foldable.forEach(function (details) {
      details.open = wide.matches;
    });
  });

  var APPLIED = "nkkb-filters-applied";
  function remember() {
    try { window.sessionStorage.setItem(APPLIED, "1"); } catch (error) { /* storage off */ }
  }
  document.querySelectorAll("form[data-announce-results], .chips a, .column-chooser form")
    .forEach(function (element) {
      element.addEventListener(element.tagName === "FORM" ? "submit" : "click", remember);
    });
  var applied = false;
  try {
    applied = window.sessionStorage.getItem(APPLIED) === "1";
    window.sessionStorage.removeItem(APPLIED);
  } catch (error) { /* storage off */ }
  var results = document.getElementById("results");
  var summary = document.getElementById("result-summary");
  var announcement = document.getElementById("results-announcement");
  if (applied && results) {
    results.focus();
    if (summary && announcement) {
      // A live region announces what changes in it, not what it held on load.
      window.setTimeout(function () {
        announcement.textContent = summary.textContent.split("·")[0].trim();
      }, 150);
    }
  }
})();
