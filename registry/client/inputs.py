"""What to screen: image files under the paths, recognised by their content, with img2dataset's
sidecars where present; every other file is listed as skipped, with its reason."""

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry.fingerprints import ALLOWED_FORMATS
from registry.optout import headers_from_img2dataset_sidecar

# Enough of a file's head for every signature below (ISO BMFF brands sit at bytes 8-12).
SNIFF_BYTES = 32

# The formats the fingerprinting decodes (registry.fingerprints.ALLOWED_FORMATS), by signature.
_SCREENABLE = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
# Images the fingerprinting does not decode: named in the reason, so the team knows what to convert.
_OTHER_IMAGES = (
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JPEG XL"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"<svg", "SVG"),
)
_ISO_BRANDS = {
    b"avif": "AVIF",
    b"avis": "AVIF",
    b"heic": "HEIC",
    b"heix": "HEIC",
    b"mif1": "HEIF",
    b"msf1": "HEIF",
}


@dataclass(frozen=True)
class InputItem:
    path: str
    id: str
    url: str | None = None
    # Response headers the downloader kept (a sidecar's "headers"), sent for the server to read.
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class SkippedFile:
    path: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    items: list[InputItem]
    skipped: list[SkippedFile]
    sidecars: int  # img2dataset .json files read as their image's id and url


class InputError(ValueError):
    """The paths name nothing to screen: missing, empty, or without a single image."""


def image_format(head: bytes) -> str | None:
    """The screenable format these first bytes announce, or None."""
    for signature, name in _SCREENABLE:
        if head.startswith(signature):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    return None


def _skip_reason(head: bytes) -> str:
    """Why a file that is no screenable image is left out, naming what it seems to be."""
    supported = ", ".join(ALLOWED_FORMATS)
    if not head:
        return "empty file"
    brand = _ISO_BRANDS.get(head[8:12]) if head[4:8] == b"ftyp" else None
    found = brand or next((name for sign, name in _OTHER_IMAGES if head.startswith(sign)), None)
    if found:
        return f"{found} image: not a format the client reads (convert it to one of {supported})"
    return f"not an image in a format the client reads ({supported})"


def _sidecar(image: Path) -> dict[str, object]:
    """img2dataset writes NAME.json beside NAME.jpg, with the sample's key and source url."""
    sidecar = image.with_suffix(".json")
    if sidecar == image or not sidecar.is_file():
        return {}
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _item(image: Path) -> InputItem:
    sidecar = _sidecar(image)
    key, url = sidecar.get("key"), sidecar.get("url")
    return InputItem(
        path=str(image),
        id=str(key) if isinstance(key, str | int) and str(key) else str(image),
        url=url if isinstance(url, str) and url else None,
        headers=headers_from_img2dataset_sidecar(sidecar),
    )


def _unique(items: Iterator[InputItem]) -> Iterator[InputItem]:
    # Two datasets screened together may reuse a key; every item still needs its own answer.
    seen: dict[str, int] = {}
    for item in items:
        seen[item.id] = seen.get(item.id, 0) + 1
        yield item if seen[item.id] == 1 else replace(item, id=f"{item.id}#{seen[item.id]}")


def _files(paths: Sequence[str]) -> Iterator[Path]:
    for name in paths:
        root = Path(name)
        if not root.exists():
            raise InputError(f"{name}: no such file or folder")
        if not root.is_dir():
            yield root
            continue
        files = sorted(path for path in root.rglob("*") if path.is_file())
        if not files:
            raise InputError(f"{name}: the folder holds no files")
        yield from files


class _Unreadable(Exception):
    """A file the client could not open: skipped, with the system's reason."""


def _head(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(SNIFF_BYTES)
    except OSError as error:
        raise _Unreadable(f"cannot read the file: {error.strerror}") from None


def discover(paths: Sequence[str]) -> Discovery:
    """Every file under the paths, sorted into images to screen and files skipped, in a stable
    order. An image's id is img2dataset's key where a sidecar gives one, else its path.

    Raises InputError when a path does not exist, a folder is empty, or no file is an image:
    nothing is screened then, so nothing is sent.
    """
    files = list(_files(paths))
    images: list[Path] = []
    skipped: list[SkippedFile] = []
    for path in files:
        try:
            head = _head(path)
        except _Unreadable as error:
            skipped.append(SkippedFile(str(path), str(error)))
            continue
        if image_format(head):
            images.append(path)
        else:
            skipped.append(SkippedFile(str(path), _skip_reason(head)))
    sidecar_names = {image.with_suffix(".json") for image in images}
    sidecars = [entry for entry in skipped if Path(entry.path) in sidecar_names]
    skipped = [entry for entry in skipped if Path(entry.path) not in sidecar_names]
    if not images:
        listed = "; ".join(f"{entry.path}: {entry.reason}" for entry in skipped[:3])
        more = f" and {len(skipped) - 3} more" if len(skipped) > 3 else ""
        raise InputError(f"no image to screen among {len(files)} files ({listed}{more})")
    return Discovery(list(_unique(_item(image) for image in images)), skipped, len(sidecars))
