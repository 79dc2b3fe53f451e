from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.assurance import claim_level
from registry.choice_labels import WorkHold
from registry.models.artists import Artist, is_operator
from registry.models.choices import Assurance


class WorkQuerySet(models.QuerySet["Work"]):
    def active(self) -> "WorkQuerySet":
        """Works that still take part in matching (not removed)."""
        return self.filter(removed_at__isnull=True)

    def held(self) -> "WorkQuerySet":
        """Works that allow nothing until an operator reviews them (WorkHold)."""
        return self.exclude(hold="")

    def visible_to(self, user: Any) -> "WorkQuerySet":
        if is_operator(user):
            return self
        return self.filter(artist__user=user)


def work_image_path(work: "Work", filename: str) -> str:
    # The hash, not the uploader's file name, names the file: names can collide or leak.
    return f"works/{work.artist_id}/{work.sha256}"


class Work(models.Model):
    """One artwork of an artist. Its image is private; only its fingerprints are matched."""

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.PROTECT, related_name="works"
    )
    title = models.CharField(_("title"), max_length=300)
    image = models.FileField(_("image"), upload_to=work_image_path, blank=True)
    thumbnail = models.BinaryField(_("thumbnail"), blank=True, editable=False, default=b"")
    source_urls = models.JSONField(_("source URLs"), default=list, blank=True)
    credit_line = models.CharField(
        _("credit line"),
        max_length=300,
        blank=True,
        help_text=_("Overrides the artist's credit line for this work."),
    )
    # Serves the exact-copy lookup of a screened item's SHA-256.
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    information = models.FloatField(_("information"))
    fingerprint_version = models.PositiveSmallIntegerField(_("fingerprint version"))
    # The claim's own assurance (e.g. a platform attested this upload); the artist's counts too.
    assurance = models.CharField(
        _("assurance"), max_length=20, choices=Assurance.choices, default=Assurance.SELF_ASSERTED
    )
    created_at = models.DateTimeField(_("registered at"), auto_now_add=True)
    removed_at = models.DateTimeField(_("removed at"), null=True, blank=True)
    # Set when the work was registered without its check against other artists' works
    # finishing: it is matched (its copies are found) but allows nothing until an operator's
    # full check (review_held_works) releases it. Empty: not held.
    hold = models.CharField(
        _("held"), max_length=20, choices=WorkHold.choices, blank=True, default=""
    )

    objects = WorkQuerySet.as_manager()

    class Meta:
        verbose_name = _("work")
        verbose_name_plural = _("works")
        ordering = ["-created_at", "-id"]
        indexes = [
            # The operators' queue of held works: a handful among millions.
            models.Index(fields=["id"], condition=~models.Q(hold=""), name="work_held")
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def credit(self) -> str:
        return self.credit_line or self.artist.credit

    @property
    def claim_assurance(self) -> str:
        """The assurance of this claim (assurance.claim_level): the work's own or its artist's,
        the higher, the artist's `site_verified` only for a work published on a verified site."""
        sites = self.artist.sites.filter(verified=True).values_list("url_prefix", flat=True)
        return claim_level(self.assurance, self.artist.assurance, self.source_urls, sites)


class Fingerprint(models.Model):
    """The perceptual hashes of one registered variant of a work (mirrored, cropped, ...)."""

    work = models.ForeignKey(
        Work, verbose_name=_("work"), on_delete=models.CASCADE, related_name="fingerprints"
    )
    variant = models.CharField(_("variant"), max_length=32)
    # 64-bit hashes are stored as signed integers, the only 64-bit integer PostgreSQL has.
    phash = models.BigIntegerField(_("pHash"))
    dhash = models.BigIntegerField(_("dHash"))
    pdq = models.BinaryField(_("PDQ"), max_length=32)
    pdq_quality = models.SmallIntegerField(_("PDQ quality"))
    descriptor = models.BinaryField(_("descriptor"), blank=True, default=b"")

    class Meta:
        verbose_name = _("fingerprint")
        verbose_name_plural = _("fingerprints")
        constraints = [
            models.UniqueConstraint(fields=["work", "variant"], name="fingerprint_unique_variant")
        ]

    def __str__(self) -> str:
        return f"{self.work_id}/{self.variant}"


class WorkSourceUrl(models.Model):
    """One URL where a work is published, as `url_key` normalizes it: what the URL check
    looks up before anything is downloaded. Derived from `Work.source_urls` by the works
    service, which keeps the two in step."""

    work = models.ForeignKey(
        Work, verbose_name=_("work"), on_delete=models.CASCADE, related_name="source_url_keys"
    )
    # SHA-256 of the normalized URL: a fixed 32 bytes however long the URL, so an index of
    # tens of millions of rows stays compact.
    digest = models.BinaryField(_("URL digest"), max_length=32)

    class Meta:
        verbose_name = _("source URL")
        verbose_name_plural = _("source URLs")
        constraints = [
            # Digest first: the one index serves POST /api/v1/urls/check's `digest = ANY(...)`
            # probe as an index-only scan (the work id is in the index), so the check never
            # reads the table's rows, and keeps each work's URLs unique.
            models.UniqueConstraint(fields=["digest", "work"], name="source_url_unique_per_work")
        ]

    def __str__(self) -> str:
        return f"{self.work_id}/{bytes(self.digest).hex()[:12]}"
