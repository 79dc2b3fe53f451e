import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from registry.choice_labels import PendingUploadStatus, UploadProblem
from registry.models.artists import Artist
from registry.models.works import Work


class PendingUpload(models.Model):
    """One uploaded file waiting for the worker to fingerprint and register it.

    The request stores the bytes and answers at once; the image is decoded only by the task.
    The bytes are dropped once the file has its result.
    """

    artist = models.ForeignKey(
        Artist, verbose_name=_("artist"), on_delete=models.CASCADE, related_name="pending_uploads"
    )
    batch = models.UUIDField(_("batch"), default=uuid.uuid4, db_index=True)
    filename = models.CharField(_("file"), max_length=255)
    data = models.BinaryField(_("data"), default=b"")
    allow = models.JSONField(_("allowed purposes"), default=list)
    license = models.CharField(_("licence"), max_length=100, blank=True, default="")
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=PendingUploadStatus.choices,
        default=PendingUploadStatus.PROCESSING,
    )
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    work = models.ForeignKey(
        Work, verbose_name=_("work"), on_delete=models.SET_NULL, null=True, blank=True
    )
    disputes = models.JSONField(_("disputes"), default=list)
    problem = models.CharField(
        _("problem"), max_length=20, choices=UploadProblem.choices, blank=True, default=""
    )
    detail = models.TextField(_("detail"), blank=True, default="")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pending upload")
        verbose_name_plural = _("pending uploads")
        ordering = ["pk"]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return self.filename
