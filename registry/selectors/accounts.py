"""Artists and organizations looked up by the names operators type (management commands)."""

from registry.models import Artist, Organization


def artist_by_username(username: str) -> Artist | None:
    return Artist.objects.filter(user__username=username).first()


def organization_by_name(name: str) -> Organization | None:
    return Organization.objects.filter(name=name).first()
