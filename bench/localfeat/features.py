"""Local features of one picture: ORB keypoints on a normalised grey image of bounded size.

ORB because its descriptors are 256 bits: they can be cut into substrings for an exact index
(bench/localfeat/index.py) and compared with a popcount. OpenCV 5's main modules ship ORB and
SIFT only (AKAZE and BRISK moved to the contrib modules); SIFT's 128 floats would need a trained
vocabulary to be indexed, and cost four times the extraction time.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from bench.accuracy.generator import web_copy

DESCRIPTOR_BYTES = 32


@dataclass(frozen=True)
class FeatureConfig:
    """Keypoints from the grey picture at each of `sides` (its longer side), `keypoints` in all,
    shared evenly, each side searched over `levels` pyramid levels 1.2 apart.

    One side with 8 levels is ORB's usual pyramid, which gives a level keypoints in
    proportion to its area: the coarse levels, where a crop of the work meets it, get few.
    A registered work is taken at several sides so every scale a query may show it at holds
    a fair share of its keypoints."""

    sides: tuple[int, ...]
    keypoints: int
    levels: int = 8
    fast_threshold: int = 10  # lower than OpenCV's 20: flat graphics have soft corners too


@dataclass(frozen=True)
class Features:
    points: np.ndarray  # float32 (n, 2): x, y in pixels of the grey image
    descriptors: np.ndarray  # uint8 (n, 32)
    width: int
    height: int

    def __len__(self) -> int:
        return len(self.points)


def grey(data: bytes, side: int) -> np.ndarray:
    """The picture as a re-poster finds it (on white, RGB), grey, its longer side `side`.

    Small pictures are enlarged too, so a sprite and its thumbnail meet at one scale."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft("RGB", (side, side))  # JPEG: decode at the nearest smaller scale
        picture = np.asarray(web_copy(image).convert("L"))
    height, width = picture.shape
    scale = side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(picture, size, interpolation=interpolation)


def extract(data: bytes, config: FeatureConfig) -> Features:
    """Keypoints in the frame of the largest side."""
    largest = max(config.sides)
    picture = grey(data, largest)
    height, width = picture.shape
    points, descriptors = [], []
    for side in config.sides:
        scaled = picture
        if side != largest:
            size = (max(1, round(width * side / largest)), max(1, round(height * side / largest)))
            scaled = cv2.resize(picture, size, interpolation=cv2.INTER_AREA)
        orb = cv2.ORB.create(
            nfeatures=config.keypoints // len(config.sides),
            nlevels=config.levels,
            fastThreshold=config.fast_threshold,
        )
        keypoints, found = orb.detectAndCompute(scaled, None)
        if found is None or not keypoints:
            continue
        xy = np.array([keypoint.pt for keypoint in keypoints], dtype=np.float32)
        points.append(xy * np.float32(largest / side))
        descriptors.append(found)
    if not points:
        return Features(
            np.zeros((0, 2), dtype=np.float32),
            np.zeros((0, DESCRIPTOR_BYTES), dtype=np.uint8),
            width,
            height,
        )
    return Features(
        np.concatenate(points),
        np.ascontiguousarray(np.concatenate(descriptors), dtype=np.uint8),
        width,
        height,
    )
