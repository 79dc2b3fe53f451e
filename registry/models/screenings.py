import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choice_labels import Decision, ScreeningMode, ScreeningStatus
from registry.models.choices import MinimumAssurance, Purpose
from registry.models.organizations import Organization
from registry.models.works import Work


class Screening(models.Model):
    """One job of an organization: a purpose, a mode, items sent in chunks, and a receipt."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("organization"),
        on_delete=models.PROTECT,
        related_name="screenings",
    )
    purpose = models.CharField(_("purpose"), max_length=32, choices=Purpose.choices)
    mode = models.CharField(_("mode"), max_length=20, choices=ScreeningMode.choices)
    min_assurance = models.CharField(
        _("minimum assurance"),
        max_length=20,
        choices=MinimumAssurance.choices,
        default=MinimumAssurance.VERIFIED,
    )
    status = models.CharField(
        _("status"), max_length=16, choices=ScreeningStatus.choices, default=ScreeningStatus.RUNNING
    )
    # True while the client may still send chunks; the screening finishes once closed and done.
    accepting_chunks = models.BooleanField(_("accepting chunks"), default=False)
    total_items = models.PositiveBigIntegerField(_("items"), default=0)
    done_items = models.PositiveBigIntegerField(_("items decided"), default=0)
    counts = models.JSONField(_("counts per decision"), default=dict)
    # Allowed items by the least assurance among the permissions each one used.
    assurance_counts = models.JSONField(_("allowed items per assurance"), default=dict)
    # Items decided without a row of their own (unregistered, invalid): counted here and in
    # their chunk's Merkle root, per decision and per "decision: reason kind".
    unlisted_counts = models.JSONField(_("items counted, not listed"), default=dict)
    unlisted_reasons = models.JSONField(_("items counted, not listed, per reason"), default=dict)
    registry_sequence = models.PositiveBigIntegerField(_("registry version"))
    registry_hash = models.CharField(_("registry version hash"), max_length=64)
    matching = models.JSONField(_("matching configuration"), default=dict)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    receipt = models.JSONField(_("receipt"), null=True, blank=True)
    receipt_signature = models.CharField(_("receipt signature"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("screening")
        verbose_name_plural = _("screenings")
        ordering = ["-created_at"]
        indexes = [
            # Serves an organization's screening list and its compliance report by period.
            models.Index(fields=["organization", "created_at"], name="screening_org_created"),
        ]

    def __str__(self) -> str:
        return str(self.id)


class ScreeningChunk(models.Model):
    """Up to the published maximum of items, decided by one task in one transaction."""

    screening = models.ForeignKey(
        Screening, verbose_name=_("screening"), on_delete=models.CASCADE, related_name="chunks"
    )
    number = models.PositiveIntegerField(_("number"))
    item_count = models.PositiveIntegerField(_("items"))
    # The items as received (JSON text: PostgreSQL need not parse it), until they are decided.
    payload = models.TextField(_("payload"))
    received_at = models.DateTimeField(_("received at"), auto_now_add=True)
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    digest = models.CharField(_("digest of the decisions"), max_length=64, blank=True)
    # 1: lines of id, decision, works; 2: with the item's SHA-256 too; 3: a Merkle root of
    # every decision (registry/merkle.py), with rows only for the items that matched. Chunks
    # decided before an upgrade keep theirs, so a screening straddling it still verifies.
    digest_version = models.PositiveSmallIntegerField(_("digest version"), default=1)
    merkle_root = models.CharField(_("Merkle root of the decisions"), max_length=64, blank=True)
    allowed_items = models.PositiveBigIntegerField(_("allowed items"), default=0)
    denied_items = models.PositiveBigIntegerField(_("denied items"), default=0)
    unregistered_items = models.PositiveBigIntegerField(_("unregistered items"), default=0)
    invalid_items = models.PositiveBigIntegerField(_("invalid items"), default=0)
    # The decisions of the items without a row, by position (registry/unlisted.py), so the
    # client can rebuild every leaf; no item id or fingerprint is kept.
    unlisted = models.BinaryField(_("decisions of the unlisted items"), blank=True, default=b"")
    # SHA-256 of the items' ids and hashes (registry.chunk_wire.content_digest): a chunk sent
    # again must be the same one, and its verification payloads must name it. Blank for a
    # chunk received before it was kept (then only its item count is compared).
    content_digest = models.CharField(_("digest of the items"), max_length=64, blank=True)
    # Still waiting for verification payloads (phase 2): the stalled-chunk sweep gives it
    # CONSENTRY_VERIFICATION_WAIT_SECONDS instead of CONSENTRY_STALLED_CHUNK_SECONDS.
    awaiting_payloads = models.BooleanField(_("awaiting verification payloads"), default=False)
    # The verification payloads received for a chunk sent as hashes (phase 2), as compact
    # MessagePack (registry.chunk_wire.pack_payloads), until the chunk is decided: the items'
    # JSON is not written again for them. The database default keeps older code inserting.
    verification = models.BinaryField(
        _("verification payloads"), blank=True, default=b"", db_default=b""
    )

    class Meta:
        verbose_name = _("chunk")
        verbose_name_plural = _("chunks")
        constraints = [
            # A chunk re-sent by a resuming client is recognised, not screened twice.
            models.UniqueConstraint(fields=["screening", "number"], name="chunk_unique_number")
        ]

    def __str__(self) -> str:
        return f"{self.screening_id}#{self.number}"


class ScreeningItem(models.Model):
    """The decision for one item that matched a registered work or was denied; at most one per
    (chunk, position). Unregistered and invalid items are counted on their chunk instead."""

    screening = models.ForeignKey(
        Screening, verbose_name=_("screening"), on_delete=models.CASCADE, related_name="items"
    )
    chunk = models.ForeignKey(
        ScreeningChunk, verbose_name=_("chunk"), on_delete=models.CASCADE, related_name="items"
    )
    position = models.PositiveIntegerField(_("position in chunk"))
    item_id = models.CharField(_("item id"), max_length=512)
    url = models.URLField(_("URL"), max_length=2048, blank=True)
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    reason = models.CharField(_("reason"), max_length=500)
    # The reasons as data, [{"code", "work_id"?, "detail"?}] (registry.gatekeeper.Reason), which
    # reports count; `reason` is their text, cut to whole reasons. Rows written before this
    # column, or by a writer that names no reasons, hold NULL and are read from their text
    # (registry.gatekeeper.stored_reasons).
    reasons = models.JSONField(_("reasons"), null=True, blank=True, default=list)
    matches = models.JSONField(_("matches"), default=list)
    credit = models.JSONField(_("credit"), default=list)

    class Meta:
        verbose_name = _("screened item")
        verbose_name_plural = _("screened items")
        constraints = [
            models.UniqueConstraint(fields=["chunk", "position"], name="item_unique_position")
        ]
        indexes = [
            # Serves GET /screenings/{id}/items?decision=... paged by id.
            models.Index(fields=["screening", "decision", "id"], name="item_screening_decision"),
        ]

    def __str__(self) -> str:
        return self.item_id


class WorkScreening(models.Model):
    """A registered work matched by a screened item: "who screened my work", and whom to tell
    when its consent is withdrawn."""

    work = models.ForeignKey(
        Work, verbose_name=_("work"), on_delete=models.PROTECT, related_name="screenings"
    )
    screening = models.ForeignKey(
        Screening,
        verbose_name=_("screening"),
        on_delete=models.CASCADE,
        related_name="work_matches",
    )
    item = models.ForeignKey(
        ScreeningItem, verbose_name=_("item"), on_delete=models.CASCADE, related_name="work_matches"
    )
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(_("decision"), max_length=16, choices=Decision.choices)
    decided_at = models.DateTimeField(_("decided at"))

    class Meta:
        verbose_name = _("screening of a work")
        verbose_name_plural = _("screenings of works")
        indexes = [
            # Serves the artist's "who screened my work" list and the withdrawal fan-out.
            models.Index(fields=["work", "decision"], name="workscreening_work_decision"),
        ]

    def __str__(self) -> str:
        return f"{self.work_id} in {self.screening_id}"
