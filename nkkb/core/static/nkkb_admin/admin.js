// Admin's autocomplete widgets (select2) for screen readers: each search box is named after its
// field's label, and the "remove all" button is moved out of the list of chosen items, where only
// list items may stand. select2 redraws on every change, hence the observer.
"use strict";
(function () {
  function labelOf(select) {
    const label = select.id && document.querySelector(`label[for="${CSS.escape(select.id)}"]`);
    if (label) return label.textContent.replace(/:\s*$/, "").trim();
    return select.getAttribute("aria-label") || select.name;
  }

  function repair(container) {
    const select = container.previousElementSibling;
    if (!select || select.tagName !== "SELECT") return;
    const name = labelOf(select);
    container.querySelectorAll(".select2-search__field:not([aria-label])").forEach((input) => {
      input.setAttribute("aria-label", name);
    });
    container.querySelectorAll(".select2-selection").forEach((selection) => {
      if (!selection.hasAttribute("aria-label")) selection.setAttribute("aria-label", name);
    });
    container.querySelectorAll("ul.select2-selection__rendered > .select2-selection__clear")
      .forEach((clear) => clear.parentElement.before(clear));
  }

  function repairAll() {
    document.querySelectorAll(".select2-container").forEach(repair);
  }

  document.addEventListener("DOMContentLoaded", () => {
    repairAll();
    new MutationObserver(repairAll).observe(document.body, { childList: true, subtree: true });
  });
})();
