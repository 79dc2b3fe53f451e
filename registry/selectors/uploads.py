"""Uploaded files and their results, as the artist (or an operator) reads them."""

import uuid

from django.db.models import Exists, OuterRef, QuerySet
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from registry.fingerprints import ALLOWED_FORMATS, MAX_IMAGE_BYTES
from registry.models import Artist, Fingerprint, PendingUpload, PendingUploadStatus, UploadProblem
from registry.selectors.works import hold_sentence


def with_results(uploads: QuerySet[PendingUpload]) -> QuerySet[PendingUpload]:
    """The uploads with their works, and whether each work has perceptual fingerprints (what
    `exact_copies_only` reads, in the same query)."""
    fingerprinted = Fingerprint.objects.filter(work_id=OuterRef("work_id"))
    return uploads.select_related("work").annotate(work_fingerprinted=Exists(fingerprinted))


def pending_uploads_of_batch(batch: uuid.UUID, *, artist: Artist | None) -> QuerySet[PendingUpload]:
    """A batch's files; `artist=None` is an operator's view of any batch."""
    uploads = with_results(PendingUpload.objects.filter(batch=batch))
    return uploads if artist is None else uploads.filter(artist=artist)


def uploads_of(artist: Artist, *, batch: uuid.UUID | None = None) -> QuerySet[PendingUpload]:
    """The artist's uploaded files, or those of one request, with their works."""
    uploads = with_results(PendingUpload.objects.filter(artist=artist))
    return uploads if batch is None else uploads.filter(batch=batch)


def upload_of(*, artist: Artist, upload_id: int) -> PendingUpload:
    """The artist's upload; Http404 for one that does not exist or is another's, alike."""
    return get_object_or_404(with_results(PendingUpload.objects.all()), pk=upload_id, artist=artist)


def exact_copies_only(upload: PendingUpload) -> bool:
    """Registered without perceptual fingerprints: the weak-image gate found the work too
    plain to be recognised once re-posted, so only exact copies (its sha256) match it."""
    if upload.status != PendingUploadStatus.REGISTERED or upload.work_id is None:
        return False
    fingerprinted = getattr(upload, "work_fingerprinted", None)
    if fingerprinted is None:  # a queryset without `with_results`
        fingerprinted = Fingerprint.objects.filter(work_id=upload.work_id).exists()
    return not fingerprinted


def exact_copies_only_sentence() -> str:
    return _(
        "This image has too few lines and shapes to be recognised once re-posted: it is "
        "protected against exact copies only."
    )


def upload_notice(upload: PendingUpload) -> str:
    """What the artist should know about a registered file's work, in their language: why it
    is held (allows nothing until an operator's check), or why only its exact copies are
    matched; "" for neither, or a file not registered."""
    if upload.status != PendingUploadStatus.REGISTERED or upload.work is None:
        return ""
    held = hold_sentence(upload.work)
    if held:
        return held
    return exact_copies_only_sentence() if exact_copies_only(upload) else ""


def problem_sentence(upload: PendingUpload) -> str:
    """Why the file was refused: one sentence in the reader's language, naming the file."""
    name = upload.filename
    sentences: dict[str, str] = {
        UploadProblem.EMPTY: _("“%(file)s” is empty (0 bytes)."),
        UploadProblem.TOO_LARGE: _("“%(file)s” is too large; the limit is %(limit)s."),
        UploadProblem.NOT_AN_IMAGE: _(
            "“%(file)s” is not an image in an accepted format (%(formats)s)."
        ),
        UploadProblem.TOO_MANY_PIXELS: _(
            "“%(file)s” is too large to register: its image has too many pixels."
        ),
        UploadProblem.UNREADABLE: _(
            "“%(file)s” could not be read as an image; it may be damaged or incomplete."
        ),
        UploadProblem.NOT_REGISTERED: _("“%(file)s” was not registered: %(reason)s"),
        # `detail` holds the work's id.
        UploadProblem.ALREADY_REGISTERED: _(
            "“%(file)s” was not registered: this image is registered already as work %(reason)s."
        ),
        UploadProblem.TOO_SLOW: _("“%(file)s” took too long to read as an image."),
        UploadProblem.INTERNAL: _(
            "“%(file)s” could not be registered because of an error on our side."
        ),
    }
    sentence = sentences.get(upload.problem, sentences[UploadProblem.INTERNAL])
    return sentence % {
        "file": name,
        "limit": filesizeformat(MAX_IMAGE_BYTES),
        "formats": ", ".join(ALLOWED_FORMATS),
        "reason": upload.detail,
    }
