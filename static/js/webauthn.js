// Security keys and passkeys (django-otp-webauthn's scripts do the ceremonies). Loaded before
// them: the library's scripts call gettext(), which Django's JavaScript catalog would define;
// the product speaks English only, so the text passes through unchanged. After a key is
// registered, the account page reloads to list it.
window.gettext = window.gettext || function (text) { return text; };
document.addEventListener("otp_webauthn.register_complete", function () {
  window.location.reload();
});
