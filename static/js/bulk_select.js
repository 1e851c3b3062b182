// The inventory list's "select this page" checkbox: a convenience only. Without it the rows
// are ticked one by one, or the bulk form's "all matching the filter" choice is used.
(function () {
  "use strict";

  function rows(form) {
    return Array.prototype.slice.call(form.querySelectorAll("input[data-select-row]"));
  }

  // The checkbox is hidden in the markup, so a browser without scripts never shows a control
  // that does nothing. It is shown again after each HTMX swap of the results.
  function reveal() {
    var all = document.querySelector("input[data-select-page]");
    if (all) {
      all.hidden = false;
    }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.form || target.form.id !== "bulk-form") {
      return;
    }
    var all = target.form.querySelector("input[data-select-page]");
    if (target.hasAttribute("data-select-page")) {
      rows(target.form).forEach(function (box) {
        box.checked = target.checked;
      });
    } else if (all && target.hasAttribute("data-select-row")) {
      var boxes = rows(target.form);
      var ticked = boxes.filter(function (box) { return box.checked; }).length;
      all.checked = ticked === boxes.length;
      all.indeterminate = ticked > 0 && ticked < boxes.length;
    }
  });
  document.addEventListener("DOMContentLoaded", reveal);
  document.addEventListener("htmx:afterSwap", reveal);
})();
