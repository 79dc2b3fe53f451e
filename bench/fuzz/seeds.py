"""The fuzzer's seed corpus: small valid images of every allowed format and of the features
the decoder treats specially (EXIF orientation, alpha, palettes with transparency, 16-bit
greyscale, CMYK, progressive JPEG, animation, multi-page TIFF, XMP and C2PA-like metadata)."""

import io
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

from registry.demo_art import artwork

XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf='
    b'"http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:plus='
    b'"http://ns.useplus.org/ldf/xmp/1.0/" plus:DataMining='
    b'"http://ns.useplus.org/ldf/vocab/DMI-PROHIBITED-AIMLTRAINING"/></rdf:RDF></x:xmpmeta>'
)


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def seeds() -> Iterator[tuple[str, bytes]]:
    art = artwork(4242).resize((48, 40))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90°: the decoder transposes it
    rgba = art.convert("RGBA")
    rgba.putalpha(128)
    palette = art.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    grey16 = art.convert("I;16")
    frames = [art, art.rotate(90), art.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    yield "plain.jpg", _encode(art, "JPEG", quality=80)
    yield "exif-rotated.jpg", _encode(art, "JPEG", exif=exif.tobytes())
    yield "progressive.jpg", _encode(art, "JPEG", progressive=True, optimize=True)
    yield "cmyk.jpg", _encode(art.convert("CMYK"), "JPEG")
    yield "grey.jpg", _encode(art.convert("L"), "JPEG")
    yield "xmp.jpg", _encode(art, "JPEG", xmp=XMP)
    yield "plain.png", _encode(art, "PNG")
    yield "alpha.png", _encode(rgba, "PNG")
    yield "palette-transparent.png", _encode(palette, "PNG")
    yield "grey16.png", _encode(grey16, "PNG")
    yield "interlaced.png", _encode(art, "PNG", interlace=1)
    yield "lossy.webp", _encode(art, "WEBP", quality=60)
    yield "lossless-alpha.webp", _encode(rgba, "WEBP", lossless=True)
    yield "animated.webp", _encode(frames[0], "WEBP", save_all=True, append_images=frames[1:])
    yield "palette.gif", _encode(palette, "GIF")
    yield "animated.gif", _encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    yield "plain.bmp", _encode(art, "BMP")
    yield "rle.bmp", _encode(palette.convert("P"), "BMP")
    yield "plain.tiff", _encode(art, "TIFF")
    yield "deflate.tiff", _encode(art, "TIFF", compression="tiff_adobe_deflate")
    yield "lzw-alpha.tiff", _encode(rgba, "TIFF", compression="tiff_lzw")
    yield "jpeg.tiff", _encode(art, "TIFF", compression="jpeg")
    yield "pages.tiff", _encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    yield "grey16.tiff", _encode(grey16, "TIFF")


def write_corpus(folder: Path) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    for name, data in seeds():
        (folder / name).write_bytes(data)
        count += 1
    return count
