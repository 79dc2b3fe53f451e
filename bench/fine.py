"""Offline: the pictures behind a verified pair, and finer evidence on them (64x64 grey).

Used by bench.precision to test checks the 963-byte descriptor cannot make. The query's
picture is what fingerprint_image hashes (its trimmed frame, or region k - 1); the
registered picture is the variant's image (registry.fingerprints.variants).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from registry.fingerprints import comparison as cmp
from registry.fingerprints.decode import decode_image
from registry.fingerprints.regions import query_regions
from registry.fingerprints.variants import variant_images

FINE = 64
LUMA = np.array([0.299, 0.587, 0.114])


def grey(image: Image.Image, size: int = FINE) -> np.ndarray:
    cells = np.asarray(image.convert("RGB").resize((size, size), Image.Resampling.BOX), float)
    return cells @ LUMA


@lru_cache(maxsize=4096)
def query_pictures(path: str) -> tuple[Image.Image, ...]:
    decoded = decode_image(Path(path).read_bytes())
    return (decoded.trimmed, *(r.image for r in query_regions(decoded)))


@lru_cache(maxsize=2048)
def work_pictures(path: str) -> dict[str, Image.Image]:
    return variant_images(decode_image(Path(path).read_bytes()))


def sharpness(a: np.ndarray) -> float:
    blurred = np.asarray(
        Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(1.0)),
        float,
    )
    return float(np.sqrt(((a - blurred) ** 2).mean()))


def blur(a: np.ndarray, sigma: float) -> np.ndarray:
    if sigma <= 0:
        return a
    image = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))
    return np.asarray(image.filter(ImageFilter.GaussianBlur(sigma)), float)


def _wide(a: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    low, high = cmp._neighbourhood(a)
    for _ in range(reach - 1):
        low, high = cmp._neighbourhood(low)[0], cmp._neighbourhood(high)[1]
    return low, high


def fine_distances(
    q: np.ndarray, r: np.ndarray, sigma: float = 0.0, reach: int = 1
) -> dict[str, float]:
    """The descriptor's changed-cell rule on 64x64 grey pictures: shares of changed cells,
    the largest inside blob, the scattered rest against the ink, and the luma residual."""
    if sigma > 0:
        r = blur(r, sigma)
    q_low, q_high = cmp._neighbourhood(q)
    r_low, r_high = cmp._neighbourhood(r)
    q_range = max(float(np.percentile(q, 98) - np.percentile(q, 2)), cmp.MIN_RANGE)
    r_range = max(float(np.percentile(r, 98) - np.percentile(r, 2)), cmp.MIN_RANGE)
    gain, offset = cmp._fit(q, r, q_high - q_low, r_high - r_low, 0.1 * q_range, 0.1 * r_range)
    fitted = np.clip(gain * r + offset, 0, 255)
    f_low, f_high = _wide(fitted, reach)
    w_low, w_high = _wide(q, reach)
    changed = cmp._changed(
        q, cmp._soften(fitted), (w_low, w_high, f_low, f_high), 0.5, 0.15 * q_range
    )
    page_q = np.abs(q - np.median(q)) > 0.15 * q_range
    page_r = np.abs(fitted - np.median(fitted)) > 0.15 * q_range
    ink = page_q | page_r | ((q_high - q_low) > 0.15 * q_range)
    at_edge, blob, _, _ = cmp._overlay_cells(changed)
    total = int(changed.sum())
    ink_cells = max(int(ink.sum()), 0.05 * changed.size)
    residual = np.abs(cmp._soften(q) - cmp._soften(fitted)) / q_range
    return {
        "changed": total / changed.size,
        "edge": at_edge / changed.size,
        "blob": blob / changed.size,
        "scattered": (total - at_edge - blob) / ink_cells,
        "ink": ink_cells / changed.size,
        "luma": float(np.sort(residual.ravel())[: int(0.9 * residual.size)].mean()),
        "q_sharp": sharpness(q),
        "r_sharp": sharpness(gain * r + offset),
    }


# -- local features: ORB keypoints and a RANSAC similarity fit ---------------------------------

ORB_SIDE = 512  # pictures are scaled to this longer side before keypoints are found
RATIO = 0.8  # Lowe's ratio test on the two nearest descriptors
REPROJECTION = 6.0  # RANSAC inlier distance, in pixels at ORB_SIDE


def keypoints(image: Image.Image) -> tuple[list[object], np.ndarray | None]:
    import cv2

    scale = ORB_SIDE / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    grey_image = np.asarray(image.convert("L").resize(size), np.uint8)
    orb = cv2.ORB_create(nfeatures=500, fastThreshold=10, edgeThreshold=15)  # type: ignore[attr-defined]
    found, descriptors = orb.detectAndCompute(grey_image, None)
    return list(found), descriptors


def inliers(
    query: tuple[list[object], np.ndarray | None],
    registered: tuple[list[object], np.ndarray | None],
) -> int:
    """Matched keypoints consistent with one rotation, scale and shift of the query."""
    import cv2

    (query_points, query_codes), (work_points, work_codes) = query, registered
    if query_codes is None or work_codes is None or len(query_points) < 3 or len(work_points) < 3:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query_codes, work_codes, k=2)
    good = [
        m[0]
        for m in pairs
        if len(m) == 1 or (len(m) == 2 and m[0].distance < RATIO * m[1].distance)
    ]
    if len(good) < 3:
        return 0
    source = np.array([query_points[m.queryIdx].pt for m in good], dtype=np.float32)  # type: ignore[attr-defined]
    target = np.array([work_points[m.trainIdx].pt for m in good], dtype=np.float32)  # type: ignore[attr-defined]
    _, mask = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION
    )
    return int(mask.sum()) if mask is not None else 0
