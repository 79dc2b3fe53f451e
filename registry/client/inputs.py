"""What to screen: image files under the paths, with img2dataset's sidecars where present."""

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from registry.optout import headers_from_img2dataset_sidecar

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}


@dataclass(frozen=True)
class InputItem:
    path: str
    id: str
    url: str | None = None
    # Response headers the downloader kept (a sidecar's "headers"), sent for the server to read.
    headers: Mapping[str, str | Sequence[str]] = field(default_factory=dict)


def _sidecar(image: Path) -> dict[str, object]:
    """img2dataset writes NAME.json beside NAME.jpg, with the sample's key and source url."""
    sidecar = image.with_suffix(".json")
    if not sidecar.is_file():
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


def _images(paths: Sequence[str]) -> Iterator[Path]:
    for name in paths:
        root = Path(name)
        if root.is_dir():
            for image in sorted(root.rglob("*")):
                if image.is_file() and image.suffix.lower() in IMAGE_SUFFIXES:
                    yield image
        else:
            yield root


def discover(paths: Sequence[str]) -> list[InputItem]:
    """Named files as they are, and every image file under named folders, in a stable order.

    The id is img2dataset's key where a sidecar gives one, else the path.
    """
    return list(_unique(_item(image) for image in _images(paths)))
