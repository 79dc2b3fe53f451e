"""Registering uploaded files one by one, with a result for each that names the file."""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from registry.fingerprints import ALLOWED_FORMATS, MAX_IMAGE_BYTES, ImageDecodeError
from registry.models import Artist, Permission, Purpose, Work
from registry.selectors.terms import default_terms_of
from registry.services.works import title_from_filename, work_register

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class UploadResult:
    file: str
    work: Work | None = None
    disputes: int = 0
    problem: str = ""  # a sentence for the artist, in their language, naming the file
    detail: str = ""  # the decoder's or the registry's own words, for support

    @property
    def registered(self) -> bool:
        return self.work is not None


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


def _decode_problem(name: str, error: ImageDecodeError) -> str:
    # The decoder's message says which check refused the file; the artist gets that as one of
    # three plain sentences in their language, and the original text as the detail.
    text = str(error)
    if "allowed format" in text or "unrecognized image format" in text:
        return _("“%(file)s” is not an image in an accepted format (%(formats)s).") % {
            "file": name,
            "formats": ", ".join(ALLOWED_FORMATS),
        }
    if "over the limit" in text or "decompression bomb" in text:
        return _("“%(file)s” is too large to register: its image has too many pixels.") % {
            "file": name
        }
    return _("“%(file)s” could not be read as an image; it may be damaged or incomplete.") % {
        "file": name
    }


def register_upload(
    *, artist: Artist, upload: UploadedFile, allow: Sequence[str], license: str
) -> UploadResult:
    name = upload.name or _("(unnamed file)")
    size = upload.size or 0
    if size == 0:
        return UploadResult(name, problem=_("“%(file)s” is empty (0 bytes).") % {"file": name})
    if size > MAX_IMAGE_BYTES:
        return UploadResult(
            name,
            problem=_("“%(file)s” is too large: %(size)s; the limit is %(limit)s.")
            % {
                "file": name,
                "size": filesizeformat(size),
                "limit": filesizeformat(MAX_IMAGE_BYTES),
            },
        )
    try:
        registration = work_register(
            artist=artist,
            data=upload.read(),
            title=title_from_filename(name),
            allow=allow,
            license=license,
        )
    except ImageDecodeError as error:
        return UploadResult(name, problem=_decode_problem(name, error), detail=str(error))
    except ValidationError as error:
        reason = "; ".join(error.messages)
        return UploadResult(
            name,
            problem=_("“%(file)s” was not registered: %(reason)s")
            % {"file": name, "reason": reason},
            detail=reason,
        )
    except Exception:
        # One file's failure must not lose the report of the files registered before it.
        logger.exception("Registering the uploaded file %r failed", name)
        return UploadResult(
            name,
            problem=_("“%(file)s” could not be registered because of an error on our side.")
            % {"file": name},
        )
    return UploadResult(name, work=registration.work, disputes=len(registration.disputes))
