"""Uploaded files as the upload page shows them: processing, then a result naming the file."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from registry.models import Artist, PendingUpload, PendingUploadStatus, Permission, Purpose, Work
from registry.selectors.terms import default_terms_of
from registry.selectors.uploads import problem_sentence, upload_notice


@dataclass(frozen=True)
class UploadResult:
    file: str
    work: Work | None = None
    disputes: int = 0
    problem: str = ""  # a sentence for the artist, in their language, naming the file
    detail: str = ""  # the decoder's or the registry's own words, for support
    processing: bool = False  # the worker has not registered or refused it yet
    notice: str = ""  # registered, but held, or only its exact copies will be matched: why

    @property
    def registered(self) -> bool:
        return self.work is not None


def upload_result(upload: PendingUpload) -> UploadResult:
    if upload.status == PendingUploadStatus.PROCESSING:
        return UploadResult(upload.filename, processing=True)
    if upload.status == PendingUploadStatus.REGISTERED and upload.work is not None:
        return UploadResult(
            upload.filename,
            work=upload.work,
            disputes=len(upload.disputes),
            notice=upload_notice(upload),
        )
    return UploadResult(upload.filename, problem=problem_sentence(upload), detail=upload.detail)


@dataclass(frozen=True)
class UntickedPurpose:
    """What a new work of this artist gets for a purpose the upload form leaves unticked."""

    purpose: str
    permission: str
    label: str  # e.g. "AI training: Allowed, your default (CC-BY-4.0)"


def unticked_purposes(artist: Artist) -> list[UntickedPurpose]:
    """Said before the upload, because an unticked purpose is not always "not allowed": the
    artist's defaults apply to new works exactly as to old ones."""
    result = []
    for purpose, terms in default_terms_of(artist).items():
        permission = Permission(terms.permission).label
        if terms.source == "consent_first":
            label = _("%(purpose)s: %(permission)s (consent first: you have no default)")
        elif terms.license:
            label = _("%(purpose)s: %(permission)s, your default (%(license)s)")
        else:
            label = _("%(purpose)s: %(permission)s, your default")
        text = label % {
            "purpose": Purpose(purpose).label,
            "permission": permission,
            "license": terms.license,
        }
        result.append(UntickedPurpose(purpose, terms.permission, text))
    return result
