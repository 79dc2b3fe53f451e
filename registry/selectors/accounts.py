"""Artists and organizations looked up by the names operators type (management commands)."""

from django.shortcuts import get_object_or_404

from registry.models import Artist, Organization


def artist_by_username(username: str) -> Artist | None:
    return Artist.objects.filter(user__username=username).first()


def organization_by_name(name: str) -> Organization | None:
    return Organization.objects.filter(name=name).first()


def artist_by_id(artist_id: int) -> Artist:
    """Http404 for an unknown id."""
    return get_object_or_404(Artist, pk=artist_id)
