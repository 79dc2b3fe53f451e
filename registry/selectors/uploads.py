"""Uploaded files and their results, as the artist (or an operator) reads them."""

import uuid

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from registry.fingerprints import ALLOWED_FORMATS, MAX_IMAGE_BYTES
from registry.models import Artist, PendingUpload, UploadProblem


def pending_uploads_of_batch(batch: uuid.UUID, *, artist: Artist | None) -> QuerySet[PendingUpload]:
    """A batch's files; `artist=None` is an operator's view of any batch."""
    uploads = PendingUpload.objects.filter(batch=batch).select_related("work")
    return uploads if artist is None else uploads.filter(artist=artist)


def uploads_of(artist: Artist, *, batch: uuid.UUID | None = None) -> QuerySet[PendingUpload]:
    """The artist's uploaded files, or those of one request, with their works."""
    uploads = PendingUpload.objects.filter(artist=artist).select_related("work")
    return uploads if batch is None else uploads.filter(batch=batch)


def upload_of(*, artist: Artist, upload_id: int) -> PendingUpload:
    """The artist's upload; Http404 for one that does not exist or is another's, alike."""
    return get_object_or_404(
        PendingUpload.objects.select_related("work"), pk=upload_id, artist=artist
    )


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
