from django.db import models
from django.utils.translation import gettext_lazy as _


class ConsentEventKind(models.TextChoices):
    WORK_REGISTERED = "work_registered", _("Work registered")
    WORK_REMOVED = "work_removed", _("Work removed")
    TERMS_CHANGED = "terms_changed", _("Terms changed")
    DEFAULTS_CHANGED = "defaults_changed", _("Default terms changed")
    GRANT_CREATED = "grant_created", _("Grant created")
    GRANT_REVOKED = "grant_revoked", _("Grant revoked")
    DISPUTE_OPENED = "dispute_opened", _("Dispute opened")
    DISPUTE_RESOLVED = "dispute_resolved", _("Dispute resolved")
    SITE_VERIFIED = "site_verified", _("Site reservation verified")
    SITE_REMOVED = "site_removed", _("Site reservation removed")
    ASSURANCE_CHANGED = "assurance_changed", _("Assurance changed")
    # Staff made an organization a platform, or changed its URL prefix or attestation key:
    # the key that verifies its attestations from then on (registry.attestations).
    PLATFORM_SETTINGS_CHANGED = "platform_settings_changed", _("Platform settings changed")
    # The work's fingerprints were made again by a newer matching version (refingerprint_works):
    # what matches it changed, so the registry version moves and indexes catch up.
    WORK_REFINGERPRINTED = "work_refingerprinted", _("Work fingerprinted again")
    # An operator's full check of a held work finished (review_held_works): it is released,
    # with the disputes the check opened or made freezing (dispute_opened events before this
    # one), if any.
    WORK_HOLD_CLEARED = "work_hold_cleared", _("Held work checked and released")


class ConsentEvent(models.Model):
    """One entry of the append-only, hash-chained consent ledger.

    Each hash covers the previous hash and a canonical encoding of this event, so editing,
    deleting or reordering any entry breaks every hash after it. On PostgreSQL a trigger refuses
    UPDATE and DELETE on this table.
    """

    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True)
    kind = models.CharField(_("kind"), max_length=32, choices=ConsentEventKind.choices)
    # PROTECT: a ledger entry outlives nothing it names; works are removed, never deleted.
    artist = models.ForeignKey(
        "registry.Artist",
        verbose_name=_("artist"),
        on_delete=models.PROTECT,
        null=True,
        related_name="consent_events",
    )
    work = models.ForeignKey(
        "registry.Work",
        verbose_name=_("work"),
        on_delete=models.PROTECT,
        null=True,
        related_name="consent_events",
    )
    payload = models.JSONField(_("payload"), default=dict)
    created_at = models.DateTimeField(_("recorded at"))
    previous_hash = models.CharField(_("previous hash"), max_length=64)
    hash = models.CharField(_("hash"), max_length=64, unique=True)

    class Meta:
        verbose_name = _("consent event")
        verbose_name_plural = _("consent events")
        ordering = ["sequence"]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.kind}"


class LedgerCheckpoint(models.Model):
    """The ledger head, signed with the registry's receipt key and published (beat, hourly), so
    that anyone who kept one can later prove the ledger was not rewritten behind that point."""

    sequence = models.PositiveBigIntegerField(_("sequence"), unique=True)
    head_hash = models.CharField(_("head hash"), max_length=64)
    document = models.JSONField(_("signed document"))
    signature = models.CharField(_("signature"), max_length=200)
    created_at = models.DateTimeField(_("published at"), auto_now_add=True)

    class Meta:
        verbose_name = _("ledger checkpoint")
        verbose_name_plural = _("ledger checkpoints")
        ordering = ["-sequence"]

    def __str__(self) -> str:
        return f"#{self.sequence} {self.head_hash[:12]}"
