"""Who is calling: an organization by API key, or an artist by session or personal token."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from registry.selectors.accounts import api_key_from, artist_token_by_digest
from registry.services.tokens import token_digest
from registry.services.uploads import UploadBudgetSpent, UploadTooLarge, upload_admit

if TYPE_CHECKING:
    from registry.models import Artist, ArtistToken, Organization, OrganizationAPIKey
else:
    # The dataclass below and DRF's schema tools read these annotations at run time.
    Artist = ArtistToken = Organization = OrganizationAPIKey = Any

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
        api_key = api_key_from(key)
        if api_key is None:
            # Unknown, wrong and revoked keys answer alike, so a caller learns nothing.
            raise exceptions.AuthenticationFailed(_("Invalid API key."))
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed(_("This API key has expired."))
        return OrganizationClient(api_key.organization, api_key), api_key

    def authenticate_header(self, request: Request) -> str:
        return API_KEY_KEYWORD


def missing_api_key(request: Request) -> exceptions.NotAuthenticated:
    """DRF's "credentials were not provided" does not say which scheme: this does, and names
    the scheme that was sent instead (a Bearer token is a common first guess)."""
    header = authentication.get_authorization_header(request).decode("latin-1").strip()
    expected = _("send the organization's API key as 'Authorization: %(keyword)s <key>'.") % {
        "keyword": API_KEY_KEYWORD
    }
    if header:
        scheme = header.partition(" ")[0][:40]
        return exceptions.NotAuthenticated(
            _("The Authorization scheme '%(scheme)s' is not accepted here: %(expected)s")
            % {"scheme": scheme, "expected": expected}
        )
    return exceptions.NotAuthenticated(
        _("No API key was sent: %(expected)s") % {"expected": expected}
    )


class ArtistTokenAuthentication(authentication.TokenAuthentication):
    """`Authorization: Token <secret>`: an artist's personal token, found by its digest."""

    def authenticate_credentials(self, key: str) -> tuple[Any, ArtistToken]:
        token = artist_token_by_digest(token_digest(key))
        if token is None or token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if not token.is_usable:
            raise exceptions.AuthenticationFailed(_("This token has expired."))
        user = token.artist.user
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        return user, token


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


def admit_upload(*, owner: str, uploads: Sequence[Any]) -> None:
    """The upload's cost within the limits, or 400 naming the limit, or 429 with Retry-After."""
    try:
        upload_admit(owner=owner, uploads=uploads)
    except UploadTooLarge as error:
        raise exceptions.ValidationError({"images": [str(error)]}) from None
    except UploadBudgetSpent as error:
        raise exceptions.Throttled(wait=error.retry_after, detail=str(error)) from None
