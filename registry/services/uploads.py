"""What image uploads may cost: bytes and pixels per request, and per artist or organization
per hour. Decoding is the expensive part (a 190-byte PNG may declare millions of pixels), so the
pixels are counted from the headers, before anything is decoded."""

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from registry.fingerprints import declared_pixels

HOUR = 3600


@dataclass(frozen=True)
class UploadCost:
    bytes: int
    pixels: int


class UploadTooLarge(Exception):
    """One request asks for more than a request may: answer 400 with the message."""


class UploadBudgetSpent(Exception):
    """The hour's budget is spent: answer 429 with the message and Retry-After."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def upload_cost(uploads: Sequence[UploadedFile]) -> UploadCost:
    return UploadCost(
        bytes=sum(upload.size or 0 for upload in uploads),
        pixels=sum(declared_pixels(cast(BinaryIO, upload)) for upload in uploads),
    )


def _number(value: int) -> str:
    return f"{value:,}"


def _check_request(cost: UploadCost) -> None:
    limits = (
        (cost.bytes, settings.CONSENTRY_UPLOAD_MAX_BYTES, "CONSENTRY_UPLOAD_MAX_BYTES", _("bytes")),
        (
            cost.pixels,
            settings.CONSENTRY_UPLOAD_MAX_PIXELS,
            "CONSENTRY_UPLOAD_MAX_PIXELS",
            _("pixels"),
        ),
    )
    for used, limit, setting, unit in limits:
        if used > limit:
            raise UploadTooLarge(
                _(
                    "The images of one upload may hold %(limit)s %(unit)s in total "
                    "(%(setting)s); these hold %(used)s. Send them in smaller batches."
                )
                % {"limit": _number(limit), "unit": unit, "setting": setting, "used": _number(used)}
            )


def _charge(key: str, amount: int, limit: int) -> bool:
    """Add to this hour's counter; False, and nothing added, when it would pass the limit."""
    cache.add(key, 0, timeout=HOUR + 60)
    try:
        total = cache.incr(key, amount)
    except ValueError:  # the key expired between add and incr: a new hour
        cache.add(key, 0, timeout=HOUR + 60)
        total = cache.incr(key, amount)
    if total > limit:
        cache.decr(key, amount)
        return False
    return True


def upload_admit(*, owner: str, uploads: Sequence[UploadedFile]) -> UploadCost:
    """Admit an upload of `owner` ("artist:7", "organization:3") or raise UploadTooLarge or
    UploadBudgetSpent. The hour's counters are kept in the cache, shared by every web process
    when CACHE_URL names Redis."""
    cost = upload_cost(uploads)
    _check_request(cost)
    now = int(time.time())
    hour = now // HOUR
    retry_after = (hour + 1) * HOUR - now
    hourly: list[tuple[str, int, int, str, str]] = [
        (
            "bytes",
            cost.bytes,
            settings.CONSENTRY_UPLOAD_BYTES_PER_HOUR,
            "CONSENTRY_UPLOAD_BYTES_PER_HOUR",
            _("bytes"),
        ),
        (
            "pixels",
            cost.pixels,
            settings.CONSENTRY_UPLOAD_PIXELS_PER_HOUR,
            "CONSENTRY_UPLOAD_PIXELS_PER_HOUR",
            _("pixels"),
        ),
    ]
    charged: list[tuple[str, int]] = []
    for kind, amount, limit, setting, unit in hourly:
        key = f"consentry:uploads:{owner}:{kind}:{hour}"
        if not _charge(key, amount, limit):
            for charged_key, charged_amount in charged:
                cache.decr(charged_key, charged_amount)
            raise UploadBudgetSpent(
                _(
                    "Uploads may hold %(limit)s %(unit)s per hour (%(setting)s), and this one "
                    "would pass it. Try again in %(seconds)s seconds."
                )
                % {
                    "limit": _number(limit),
                    "unit": unit,
                    "setting": setting,
                    "seconds": retry_after,
                },
                retry_after=retry_after,
            )
        charged.append((key, amount))
    return cost


def refusal_status(error: Any) -> int:
    return 429 if isinstance(error, UploadBudgetSpent) else 400
