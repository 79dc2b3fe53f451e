"""Uploaded files registered by the worker: the request stores the bytes and answers 202, the
task fingerprints and registers each file and records its result (uploads handled by Celery tasks).

A 190-byte PNG may take seconds to decode, so no web worker ever decodes an upload."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import DatabaseError, transaction
from django.db.models import Q
from django.utils import timezone

from registry.fingerprints import MAX_IMAGE_BYTES, ImageDecodeError
from registry.models import (
    Artist,
    PendingUpload,
    PendingUploadStatus,
    Permission,
    UploadProblem,
)
from registry.services.terms import validate_terms
from registry.services.works import AlreadyRegistered, title_from_filename, work_register

logger = logging.getLogger(__name__)

# The task's limits; a claim older than the hard limit belongs to a worker that died.
SOFT_TIME_LIMIT = 60
TIME_LIMIT = 90
CLAIM_EXPIRY = timedelta(seconds=TIME_LIMIT + 30)


@dataclass(frozen=True)
class _Refusal:
    problem: str
    detail: str = ""


def _refused_at_once(upload: UploadedFile) -> _Refusal | None:
    """What can be told from the size alone, without storing or decoding anything."""
    size = upload.size or 0
    if size == 0:
        return _Refusal(UploadProblem.EMPTY)
    if size > MAX_IMAGE_BYTES:
        return _Refusal(
            UploadProblem.TOO_LARGE, f"the file has {size} bytes; the limit is {MAX_IMAGE_BYTES}"
        )
    return None


@transaction.atomic
def pending_uploads_create(
    *, artist: Artist, uploads: Sequence[UploadedFile], allow: Sequence[str], license: str
) -> list[PendingUpload]:
    """Store each file for the worker, all in one batch, and enqueue it once committed.

    Raises ValidationError for bad terms before anything is stored. A file that is empty or
    over the size limit is refused here, its bytes never stored."""
    for purpose in allow:
        validate_terms(purpose=purpose, permission=Permission.ALLOWED, license=license)
    pending = []
    batch = None
    for upload in uploads:
        name = (upload.name or "image")[:255]
        refusal = _refused_at_once(upload)
        row = PendingUpload(artist=artist, filename=name, allow=list(allow), license=license)
        if batch is not None:
            row.batch = batch
        if refusal is not None:
            row.status = PendingUploadStatus.REFUSED
            row.problem, row.detail = refusal.problem, refusal.detail
            row.finished_at = timezone.now()
        else:
            row.data = upload.read()
        row.save()
        batch = row.batch
        if refusal is None:
            _enqueue_on_commit(row.pk)
        pending.append(row)
    return pending


def _enqueue_on_commit(upload_id: int) -> None:
    transaction.on_commit(lambda: enqueue_pending_upload(upload_id))


def enqueue_pending_upload(upload_id: int) -> None:
    """Send the file's task; if the broker is unreachable, beat's sweep sends it later."""
    from registry.tasks import register_pending_upload  # tasks import services, not back

    try:
        register_pending_upload.delay(upload_id)
    except Exception:  # whatever the broker raised, the file waits for the sweep
        logger.warning("Could not enqueue upload %s; the stalled-upload sweep will.", upload_id)


def _claim(upload_id: int) -> bool:
    """Take the file for this task. A duplicate message finds it taken (or finished) and does
    nothing; a claim older than the task's hard time limit was a worker that died."""
    now = timezone.now()
    claimable = Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_EXPIRY)
    return bool(
        PendingUpload.objects.filter(
            claimable, pk=upload_id, status=PendingUploadStatus.PROCESSING
        ).update(claimed_at=now)
    )


def _decode_problem(error: ImageDecodeError) -> str:
    # The decoder's message says which check refused the file.
    text = str(error)
    if "allowed format" in text or "unrecognized image format" in text:
        return UploadProblem.NOT_AN_IMAGE
    if "over the limit" in text or "decompression bomb" in text:
        return UploadProblem.TOO_MANY_PIXELS
    return UploadProblem.UNREADABLE


def _refuse(upload_id: int, problem: str, detail: str = "") -> None:
    PendingUpload.objects.filter(pk=upload_id).update(
        status=PendingUploadStatus.REFUSED,
        problem=problem,
        detail=detail,
        data=b"",
        finished_at=timezone.now(),
    )


def pending_upload_register(*, upload_id: int) -> bool:
    """Fingerprint and register one stored file and record its result; False when another
    task has it or it is finished already. The work and the result are written in one
    transaction, so a crash never leaves a work without its upload's result."""
    if not _claim(upload_id):
        return False
    upload = PendingUpload.objects.select_related("artist").get(pk=upload_id)
    try:
        with transaction.atomic():
            registration = work_register(
                artist=upload.artist,
                data=bytes(upload.data),
                title=title_from_filename(upload.filename),
                allow=upload.allow,
                license=upload.license,
            )
            PendingUpload.objects.filter(pk=upload_id).update(
                status=PendingUploadStatus.REGISTERED,
                work=registration.work,
                disputes=[dispute.pk for dispute in registration.disputes],
                data=b"",
                finished_at=timezone.now(),
            )
    except ImageDecodeError as error:
        _refuse(upload_id, _decode_problem(error), str(error))
    except AlreadyRegistered as error:
        # The id, not a sentence: the worker has no reader's language (problem_sentence).
        _refuse(upload_id, UploadProblem.ALREADY_REGISTERED, str(error.work_id))
    except ValidationError as error:
        _refuse(upload_id, UploadProblem.NOT_REGISTERED, "; ".join(error.messages))
    except SoftTimeLimitExceeded:
        _refuse(upload_id, UploadProblem.TOO_SLOW, f"over {SOFT_TIME_LIMIT} seconds")
    except DatabaseError:
        raise  # the database's trouble, not the file's: beat's sweep tries it again
    except Exception:
        # The artist gets a result either way; the traceback is for the operator.
        logger.exception("Registering the uploaded file %r failed", upload.filename)
        _refuse(upload_id, UploadProblem.INTERNAL)
    return True


def stalled_upload_ids(*, older_than: timedelta) -> list[int]:
    """Files still waiting after `older_than`: their task message was lost, or its worker died."""
    cutoff = timezone.now() - older_than
    stalled = PendingUpload.objects.filter(
        Q(claimed_at__isnull=True) | Q(claimed_at__lt=timezone.now() - CLAIM_EXPIRY),
        status=PendingUploadStatus.PROCESSING,
        created_at__lt=cutoff,
    )
    return list(stalled.values_list("pk", flat=True)[:1000])
