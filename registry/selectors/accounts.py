"""Artists and organizations looked up by the names operators type (management commands), by
id, or by the credentials the API is called with."""

from typing import cast

from django.shortcuts import get_object_or_404

from registry.models import Artist, ArtistToken, Organization, OrganizationAPIKey


def artist_by_username(username: str) -> Artist | None:
    return Artist.objects.filter(user__username=username).first()


def organization_by_name(name: str) -> Organization | None:
    return Organization.objects.filter(name=name).first()


def artist_by_id(artist_id: int) -> Artist:
    """Http404 for an unknown id."""
    return get_object_or_404(Artist, pk=artist_id)


def api_key_from(key: str) -> OrganizationAPIKey | None:
    """The usable API key the secret belongs to; None for an unknown, wrong or revoked one."""
    try:
        return cast(OrganizationAPIKey, OrganizationAPIKey.objects.get_from_key(key))
    except OrganizationAPIKey.DoesNotExist:
        return None


def artist_token_by_digest(digest: str) -> ArtistToken | None:
    """The artist's personal token with that digest (revoked or expired too), with its user."""
    return ArtistToken.objects.select_related("artist__user").filter(digest=digest).first()
