// Small form behaviours, kept out of inline event handlers so the Content-Security-Policy can
// forbid them: a control marked data-autosubmit submits its form when it changes.
(function () {
  "use strict";

  document.addEventListener("change", function (event) {
    var control = event.target.closest("[data-autosubmit]");
    if (control && control.form) {
      control.form.submit();
    }
  });
})();
