"""Outgoing e-mail over SMTP: Django's backend, able to trust a private CA.

Django's SMTP backend checks the server's certificate against the system's CA store
(``ssl.create_default_context()``) and has no setting for another CA; given a client
certificate it even builds a bare ``SSLContext`` that trusts no CA at all. A state's mail
relay often carries a certificate from the state's own CA, so `EmailBackend` builds its
context from EMAIL_SSL_CAFILE when it is set (that CA only, so a relay cannot present a
certificate from some other CA) and keeps hostname checking on either way. Copying the CA into
the system store would work too, but it would make every process on the host trust it.

`describe_failure()` turns what smtplib and ssl raise into a sentence naming the setting to
check. It is kept on the notification row, where a person reads it, so it must say what to
do rather than echo a bare "535".
"""

from __future__ import annotations

import smtplib
import ssl
from functools import cached_property
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail.backends.smtp import EmailBackend as DjangoSMTPBackend

if TYPE_CHECKING:
    from _typeshed import StrOrBytesPath


def client_tls_context(
    cafile: str = "", certfile: StrOrBytesPath | None = None, keyfile: StrOrBytesPath | None = None
) -> ssl.SSLContext:
    """A client context that verifies the server: by ``cafile`` alone if given, else the system."""
    context = ssl.create_default_context(cafile=cafile or None)
    if certfile:
        context.load_cert_chain(certfile, keyfile)
    return context


class EmailBackend(DjangoSMTPBackend):
    """Django's SMTP backend with a context that trusts EMAIL_SSL_CAFILE (see module docstring)."""

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        return client_tls_context(settings.EMAIL_SSL_CAFILE, self.ssl_certfile, self.ssl_keyfile)


def _server_said(exc: smtplib.SMTPResponseException) -> str:
    message = exc.smtp_error
    text = message.decode(errors="replace") if isinstance(message, bytes) else str(message)
    return f"{exc.smtp_code} {text}"


def describe_failure(exc: OSError) -> str:
    """What went wrong sending through EMAIL_HOST, in words that name the setting to check."""
    server = f"the SMTP server {settings.EMAIL_HOST}:{settings.EMAIL_PORT}"
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return (
            f"{server} refused the login of {settings.EMAIL_HOST_USER!r} ({_server_said(exc)}):"
            " check EMAIL_HOST_USER and EMAIL_HOST_PASSWORD"
        )
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return f"{server} refused the sender ({_server_said(exc)}): check DEFAULT_FROM_EMAIL"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = ", ".join(sorted(exc.recipients))
        return f"{server} refused the recipient {refused}: check the channel's address"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # smtplib raises it when the server does not offer STARTTLS, or AUTH (often offered
        # only after STARTTLS).
        return f"{server}: {exc} Check EMAIL_SECURITY"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return f"{server} closed the connection ({exc}): check EMAIL_SECURITY and EMAIL_PORT"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{server} answered {_server_said(exc)}"
    if isinstance(exc, ssl.SSLCertVerificationError):
        return (
            f"{server} presented a certificate this host does not trust ({exc.verify_message}):"
            " set EMAIL_SSL_CAFILE to the CA that issued it, and EMAIL_HOST to a name it carries"
        )
    if isinstance(exc, ssl.SSLError):
        return (
            f"TLS with {server} failed ({exc.reason or exc}): check EMAIL_SECURITY"
            " (tls is implicit TLS, usually port 465; starttls usually port 587)"
        )
    if isinstance(exc, TimeoutError):
        return (
            f"{server} did not answer within EMAIL_TIMEOUT ({settings.EMAIL_TIMEOUT} s):"
            " check EMAIL_HOST, EMAIL_PORT and EMAIL_SECURITY"
        )
    if isinstance(exc, smtplib.SMTPException):
        return f"{server}: {exc}"
    return f"cannot reach {server} ({exc}): check EMAIL_HOST and EMAIL_PORT"
