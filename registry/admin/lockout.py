"""The admin login's lockout (django-axes): who is asking, and what a locked-out person reads."""

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse


def client_address(request: HttpRequest) -> str:
    """The caller's address: REMOTE_ADDR, or the one the trusted proxies added to
    X-Forwarded-For. Entries left of those were written by the client and prove nothing."""
    proxies = settings.CONSENTRY_TRUSTED_PROXY_COUNT
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if proxies and len(forwarded) >= proxies:
        return forwarded[-proxies]
    return str(request.META.get("REMOTE_ADDR", ""))


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: Any
) -> HttpResponse:
    """429 with a page in the reader's language saying how long the lockout lasts."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    response = TemplateResponse(
        request, "registry/admin/locked_out.html", {"minutes": minutes}, status=429
    )
    return response.render()


class TestClientLockoutBackend(AxesStandaloneBackend):
    """AUTHENTICATION_BACKENDS' first entry under CONSENTRY_ENV=test only.

    Django's test `Client.login()` calls `authenticate()` without a request, which axes refuses
    outright; every login through a request (the admin's form, the lockout tests) is checked
    exactly as in production, where the stock backend keeps refusing request-less calls.
    """

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            return None
        return super().authenticate(request, username, password, **kwargs)
