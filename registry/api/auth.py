"""Who is calling: an organization by API key, or an artist by session or personal token."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from registry.models import Artist, Organization, OrganizationAPIKey

API_KEY_KEYWORD = "Api-Key"


@dataclass(frozen=True)
class OrganizationClient:
    """request.user for a call made with an organization's API key."""

    organization: Organization
    api_key: OrganizationAPIKey
    is_authenticated: bool = True
    is_active: bool = True
    is_staff: bool = False

    @property
    def pk(self) -> str:
        return f"organization:{self.organization.pk}"


class OrganizationAPIKeyAuthentication(authentication.BaseAuthentication):
    """`Authorization: Api-Key <key>`; keys are stored hashed and can be revoked in the admin."""

    def authenticate(
        self, request: Request
    ) -> tuple[OrganizationClient, OrganizationAPIKey] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _space, key = header.partition(" ")
        if keyword != API_KEY_KEYWORD:
            return None
        key = key.strip()
        try:
            api_key = cast(OrganizationAPIKey, OrganizationAPIKey.objects.get_from_key(key))
        except OrganizationAPIKey.DoesNotExist:
            # Unknown, wrong and revoked keys answer alike, so a caller learns nothing.
            raise exceptions.AuthenticationFailed(_("Invalid API key.")) from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired."))
        return OrganizationClient(api_key.organization, api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_KEYWORD


def missing_api_key(request: Request) -> exceptions.NotAuthenticated:
    """DRF's "credentials were not provided" does not say which scheme: this does, and names
    the scheme that was sent instead (a Bearer token is a common first guess)."""
    header = authentication.get_authorization_header(request).decode("latin-1").strip()
    expected = f"send the organization's API key as 'Authorization: {API_KEY_KEYWORD} <key>'."
    if header:
        scheme = header.partition(" ")[0][:40]
        return exceptions.NotAuthenticated(
            _("The Authorization scheme '%(scheme)s' is not accepted here: %(expected)s")
            % {"scheme": scheme, "expected": expected}
        )
    return exceptions.NotAuthenticated(
        _("No API key was sent: %(expected)s") % {"expected": expected}
    )


class IsOrganization(permissions.BasePermission):
    message = _("This endpoint needs an organization's API key: Authorization: Api-Key <key>.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, OrganizationClient)


class IsArtist(permissions.BasePermission):
    message = _("This endpoint is for artists: log in, or send your personal token.")

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        return bool(user and user.is_authenticated and hasattr(user, "artist"))


def request_object(request: Request) -> Mapping[str, Any]:
    """The request body, which must be a JSON object (or a form)."""
    if not isinstance(request.data, Mapping):
        raise exceptions.ValidationError({"detail": "The request body must be a JSON object."})
    return request.data


def organization_of(request: Request) -> Organization:
    client = request.user
    assert isinstance(client, OrganizationClient)  # noqa: S101 - guaranteed by IsOrganization
    return client.organization


def artist_of(request: Request) -> Artist:
    artist: Artist = request.user.artist  # type: ignore[union-attr]
    return artist


class OrganizationRateThrottle(SimpleRateThrottle):
    """Requests per organization, shared by all its keys; answers 429 with Retry-After."""

    scope = "organization"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if not isinstance(request.user, OrganizationClient):
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.organization.pk}
