"""Decompression bombs and oversized files: `python -m bench.fuzz.bombs`.

Each hostile file is small on disk and huge once decoded (or simply over the byte limit).
Each is fed to what the server runs on an upload, `fingerprint_image` and then
`embedded_to_wire`, in a fresh process whose peak RSS is read before and after: a refusal
must come as ImageDecodeError, before the memory is spent. The largest image the limits
still accept is measured too: it is what one upload may cost at most.
"""

import argparse
import io
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
# A refusal may cost the header parse and a few buffers, never the image.
REFUSAL_BUDGET_MB = 64


def _chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def _png(width: int, height: int, *, rows: int | None = None, extra: bytes = b"") -> bytes:
    """An RGB PNG of zeros; `rows` limits the rows actually stored (a truncated stream)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (1 + 3 * width)
    parts = [compressor.compress(row) for _ in range(height if rows is None else rows)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + extra
        + _chunk(b"IDAT", b"".join(parts))
        + _chunk(b"IEND", b"")
    )


def _xmp_bomb() -> bytes:
    """A PNG whose compressed iTXt XMP packet inflates to 256 MiB."""
    compressor = zlib.compressobj(9)
    block = b" " * (1 << 20)
    packed = b"".join(compressor.compress(block) for _ in range(256)) + compressor.flush()
    itxt = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + packed
    return _png(64, 64, extra=_chunk(b"iTXt", itxt))


def _small(fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _jpeg_header(width: int, height: int) -> bytes:
    data = bytearray(_small("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif_screen(width: int, height: int) -> bytes:
    data = bytearray(_small("GIF"))
    data[6:10] = struct.pack("<HH", width, height)
    return bytes(data)


def _bmp(width: int, height: int) -> bytes:
    data = bytearray(_small("BMP"))
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _tiff(width: int, height: int) -> bytes:
    data = bytearray(_small("TIFF", compression="tiff_adobe_deflate"))
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for number in range(count):
        entry = ifd + 2 + 12 * number
        tag, kind = struct.unpack("<HH", data[entry : entry + 4])
        if tag in (256, 257):
            value = width if tag == 256 else height
            packed = (
                struct.pack("<H", value) + b"\x00\x00" if kind == 3 else struct.pack("<I", value)
            )
            data[entry + 8 : entry + 12] = packed
    return bytes(data)


def _webp_lossless(width: int, height: int) -> bytes:
    data = bytearray(_small("WEBP", lossless=True))
    start = data.index(b"VP8L") + 8 + 1  # chunk header, then the 0x2f signature
    (bits,) = struct.unpack("<I", data[start : start + 4])
    bits = (bits & ~0x0FFFFFFF) | (width - 1) | ((height - 1) << 14)
    data[start : start + 4] = struct.pack("<I", bits)
    return bytes(data)


# name -> (what it is, builder, refused?)
CASES: dict[str, tuple[str, Callable[[], bytes], bool]] = {
    "png-100mp-zeros": ("PNG 10,000 x 10,000 of zeros", lambda: _png(10_000, 10_000), True),
    "png-60mp-zeros": (
        "PNG 7,750 x 7,750 of zeros: over our 50 MP limit, under Pillow's own",
        lambda: _png(7_750, 7_750),
        True,
    ),
    "png-10gp-header": (
        "PNG declaring 100,000 x 100,000",
        lambda: _png(100_000, 100_000, rows=1),
        True,
    ),
    "jpeg-4gp-header": (
        "JPEG SOF declaring 65,500 x 65,500",
        lambda: _jpeg_header(65_500, 65_500),
        True,
    ),
    "gif-4gp-screen": (
        "GIF logical screen 65,535 x 65,535",
        lambda: _gif_screen(65_535, 65_535),
        True,
    ),
    "bmp-900mp-header": ("BMP declaring 30,000 x 30,000", lambda: _bmp(30_000, 30_000), True),
    "tiff-4gp-header": (
        "TIFF (deflate) declaring 65,535 x 65,535",
        lambda: _tiff(65_535, 65_535),
        True,
    ),
    "webp-268mp-header": (
        "WebP lossless declaring 16,384 x 16,384",
        lambda: _webp_lossless(16_384, 16_384),
        True,
    ),
    "png-xmp-bomb": ("PNG with an iTXt XMP packet inflating to 256 MiB", _xmp_bomb, True),
    "oversized-41mb": (
        "41 MiB file (limit 40 MiB)",
        lambda: b"\xff\xd8\xff\xe0" + b"\x00" * (41 << 20),
        True,
    ),
    "png-49mp-accepted": (
        "PNG 7,000 x 7,000 of zeros: the largest accepted",
        lambda: _png(7_000, 7_000),
        False,
    ),
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(path: Path) -> dict[str, object]:
    """In this (fresh) process: feed the file to the upload path, with peak RSS around it."""
    from registry.fingerprints import ImageDecodeError, fingerprint_image
    from registry.optout import embedded_to_wire

    data = path.read_bytes()
    baseline = _peak_mb()
    began = time.perf_counter()
    try:
        fingerprint_image(data)
        outcome = "accepted"
    except ImageDecodeError as error:
        outcome = f"ImageDecodeError: {error}"
    except Exception as error:  # reported, and fails the run
        outcome = f"UNEXPECTED {type(error).__name__}: {error}"
    fingerprint_seconds = time.perf_counter() - began
    after_fingerprint = _peak_mb()
    began = time.perf_counter()
    # As registry.services.screening_uploads does: a refused file's signals are never read.
    embedded = "not read (refused above)"
    if outcome == "accepted":
        try:
            embedded = json.dumps(embedded_to_wire(data))[:120]
        except Exception as error:
            embedded = f"UNEXPECTED {type(error).__name__}: {error}"
    return {
        "outcome": outcome[:160],
        "seconds": round(fingerprint_seconds, 2),
        "baseline_mb": round(baseline),
        "fingerprint_peak_mb": round(after_fingerprint),
        "embedded": embedded,
        "embedded_seconds": round(time.perf_counter() - began, 2),
        "embedded_peak_mb": round(_peak_mb()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz.bombs", description=__doc__)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure)))
        return 0
    failures = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, (description, build, refused) in CASES.items():
            path = Path(folder) / name
            path.write_bytes(build())
            result = subprocess.run(
                [sys.executable, "-m", "bench.fuzz.bombs", "--measure", str(path)],
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                print(f"{name}: the measuring process failed\n{result.stderr[-2000:]}")
                failures += 1
                continue
            figures = json.loads(result.stdout.strip().splitlines()[-1])
            used = int(figures["fingerprint_peak_mb"]) - int(figures["baseline_mb"])
            embedded_used = int(figures["embedded_peak_mb"]) - int(figures["baseline_mb"])
            ok = not str(figures["outcome"]).startswith("UNEXPECTED") and "UNEXPECTED" not in str(
                figures["embedded"]
            )
            if refused:
                ok = ok and str(figures["outcome"]).startswith("ImageDecodeError")
                ok = ok and max(used, embedded_used) <= REFUSAL_BUDGET_MB
            failures += not ok
            print(
                f"{'ok  ' if ok else 'FAIL'} {name}: {description}, {path.stat().st_size:,} bytes\n"
                f"     fingerprint: {figures['outcome']} in {figures['seconds']} s, "
                f"peak RSS +{used} MB (from {figures['baseline_mb']} MB)\n"
                f"     embedded signals: {figures['embedded']} in "
                f"{figures['embedded_seconds']} s, peak RSS +{embedded_used} MB"
            )
    expected = len(CASES) - failures
    print(f"{expected} of {len(CASES)} as expected (refusals within {REFUSAL_BUDGET_MB} MB)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
