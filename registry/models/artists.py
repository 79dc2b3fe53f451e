from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from registry.models.choices import Assurance

OPERATOR_PERMISSION = "registry.operate_registry"


def is_operator(user: Any) -> bool:
    """Registry operators (staff) see everything; artists also use the admin but see their own."""
    return bool(user.is_active and user.has_perm(OPERATOR_PERMISSION))


class ArtistQuerySet(models.QuerySet["Artist"]):
    def visible_to(self, user: Any) -> "ArtistQuerySet":
        if is_operator(user):
            return self
        return self.filter(user=user)


class Artist(models.Model):
    """A person who owns works. Artists log in as Django users."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="artist",
    )
    display_name = models.CharField(_("display name"), max_length=200)
    credit_line = models.CharField(
        _("credit line"),
        max_length=300,
        blank=True,
        help_text=_("How AI teams must credit you. Defaults to your display name."),
    )
    # Kept in step with `assurance` by the services: true at any verified level.
    verified = models.BooleanField(_("verified"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    assurance = models.CharField(
        _("assurance"),
        max_length=20,
        choices=Assurance.choices,
        default=Assurance.SELF_ASSERTED,
        help_text=_("How sure the registry is that this artist holds the rights they claim."),
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    objects = ArtistQuerySet.as_manager()

    class Meta:
        verbose_name = _("artist")
        verbose_name_plural = _("artists")
        ordering = ["display_name"]
        permissions = [
            ("operate_registry", _("Can operate the registry (verify, resolve, see all)"))
        ]

    def __str__(self) -> str:
        return self.display_name

    @property
    def credit(self) -> str:
        return self.credit_line or self.display_name


class ArtistLink(models.Model):
    """Where the artist publishes, e.g. a Xiaohongshu handle or a portfolio site."""

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.CASCADE, related_name="links"
    )
    label = models.CharField(_("label"), max_length=50, help_text=_("e.g. Xiaohongshu, website"))
    url = models.CharField(_("address or handle"), max_length=500)

    class Meta:
        verbose_name = _("link")
        verbose_name_plural = _("links")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.label}: {self.url}"


class ArtistSite(models.Model):
    """A URL prefix of the artist's own site, e.g. https://example.com/portfolio/.

    Once staff have verified it, an item downloaded from under it counts as the artist's work
    for the decision even when no fingerprint matches: the artist's defaults decide.
    """

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.CASCADE, related_name="sites"
    )
    # Unique once verified (Meta.constraints): two artists cannot both speak for the same part
    # of the web. Registering alone proves nothing, so it must not keep the site's owner out.
    url_prefix = models.CharField(_("URL prefix"), max_length=500)
    # Served by the artist under the prefix to prove control of it (registry.services.site_tokens).
    token = models.CharField(_("verification token"), max_length=64, blank=True, editable=False)
    verified = models.BooleanField(_("verified"), default=False)
    verified_at = models.DateTimeField(_("verified at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("site reservation")
        verbose_name_plural = _("site reservations")
        ordering = ["url_prefix"]
        constraints = [
            models.UniqueConstraint(
                fields=["url_prefix"],
                condition=models.Q(verified=True),
                name="site_prefix_verified_once",
            ),
            models.UniqueConstraint(fields=["artist", "url_prefix"], name="site_prefix_per_artist"),
        ]

    def __str__(self) -> str:
        return self.url_prefix


class ArtistToken(models.Model):
    """An artist's personal API token (`Authorization: Token <secret>`).

    Only the SHA-256 digest of the secret is stored; the secret is shown once, when made. A
    token stops working when it expires or is revoked, by its artist or an operator.
    """

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.CASCADE, related_name="tokens"
    )
    name = models.CharField(_("name"), max_length=100, blank=True)
    # The secret's first characters: enough to tell tokens apart, far too few to use one.
    prefix = models.CharField(_("prefix"), max_length=8)
    digest = models.CharField(_("digest"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("personal API token")
        verbose_name_plural = _("personal API tokens")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name or self.prefix} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()
