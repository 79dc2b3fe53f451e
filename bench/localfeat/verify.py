"""Geometric verification of one candidate: do the query's keypoints show the work, moved by
one plausible transform?

Correspondences are each query descriptor's nearest registered descriptor, kept when clearly
nearer than the second (Lowe's ratio). RANSAC fits a full affine map from the work to the query
(crop, scale, rotation, shear, aspect; a keystone of up to 16% stays within the pixel
tolerance). Refused: too few inliers, a mirror, a scale outside [1/8, 8], a shear or aspect
change beyond `max_anisotropy`. Then the share: of the work's keypoints that the map sends
inside the query frame, how many are inliers. A different drawing of the same template shares
a few corners (a tile's border, a button's frame); the same drawing shares most of them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from bench.localfeat.features import Features


@dataclass(frozen=True)
class VerifyConfig:
    ratio: float = 0.8
    max_distance: int = 80  # bits of 256, for a correspondence
    tolerance: float = 0.012  # RANSAC reprojection error, share of the query's longer side
    min_inliers: int = 12
    min_share: float = 0.03
    max_changed: float = 0.25  # of the content the map puts in the query (changed_ink)
    max_anisotropy: float = 2.5
    min_scale: float = 1 / 8
    max_scale: float = 8.0


@dataclass(frozen=True)
class Geometry:
    inliers: int
    expected: int  # the work's keypoints the map sends inside the query
    share: float
    matched: bool
    affine: np.ndarray | None = None  # work frame -> query frame, when plausible


NOT_MATCHED = Geometry(0, 0, 0.0, False)


def correspondences(
    query: Features, work: Features, config: VerifyConfig
) -> tuple[np.ndarray, np.ndarray]:
    """(work points, query points) of the kept nearest neighbours, float32 (m, 2) each."""
    if len(query) < 2 or len(work) < 2:
        empty = np.zeros((0, 2), dtype=np.float32)
        return empty, empty
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    pairs = matcher.knnMatch(query.descriptors, work.descriptors, k=2)
    kept = [
        (best.trainIdx, best.queryIdx)
        for best, second in (pair for pair in pairs if len(pair) == 2)
        if best.distance <= config.max_distance and best.distance < config.ratio * second.distance
    ]
    if not kept:
        empty = np.zeros((0, 2), dtype=np.float32)
        return empty, empty
    work_index, query_index = (np.array(column) for column in zip(*kept, strict=True))
    return work.points[work_index], query.points[query_index]


def plausible(affine: np.ndarray, config: VerifyConfig) -> bool:
    linear = affine[:, :2]
    if np.linalg.det(linear) <= 0:  # a mirror, or a collapse to a line
        return False
    singular = np.linalg.svd(linear, compute_uv=False)
    if singular[1] <= 0 or singular[0] / singular[1] > config.max_anisotropy:
        return False
    scale = float(np.sqrt(singular[0] * singular[1]))
    return config.min_scale <= scale <= config.max_scale


def verify(query: Features, work: Features, config: VerifyConfig) -> Geometry:
    source, target = correspondences(query, work, config)
    if len(source) < config.min_inliers:
        return NOT_MATCHED
    affine, mask = cv2.estimateAffine2D(
        source,
        target,
        method=cv2.RANSAC,
        ransacReprojThreshold=config.tolerance * max(query.width, query.height),
        maxIters=2000,
        confidence=0.995,
    )
    if affine is None or mask is None:
        return NOT_MATCHED
    inliers = int(mask.sum())
    if inliers < config.min_inliers or not plausible(affine, config):
        return Geometry(inliers, 0, 0.0, False)
    mapped = work.points @ affine[:, :2].T + affine[:, 2]
    inside = (
        (mapped[:, 0] >= 0)
        & (mapped[:, 0] < query.width)
        & (mapped[:, 1] >= 0)
        & (mapped[:, 1] < query.height)
    )
    expected = max(int(inside.sum()), inliers)
    return replace(judged(inliers, expected, config), affine=affine)


def judged(inliers: int, expected: int, config: VerifyConfig) -> Geometry:
    share = inliers / expected if expected else 0.0
    matched = inliers >= config.min_inliers and share >= config.min_share
    return Geometry(inliers, expected, share, matched)


GRID = 32  # the resolution of the whole-frame grey picture a query item already carries


def changed_ink(
    query_grey: np.ndarray, work_grey: np.ndarray, affine: np.ndarray, threshold: float = 24.0
) -> float:
    """Where the verified map puts the work in the query, how much of it looks different.

    The work's grey picture is drawn into the query frame by the map (scaled to the work's
    grey picture), both are averaged on a GRID x GRID grid of the query frame, brightness and
    contrast fitted on the cells the work covers, and the cells that differ by more than
    `threshold` grey levels counted among the cells with content (away from either picture's
    median). A sibling of one icon set shares its frame's corners, and differs in its symbol;
    the same drawing, moved, differs in overlays at most. 1.0 when nothing can be compared."""
    height, width = query_grey.shape
    warped = cv2.warpAffine(work_grey, affine, (width, height), flags=cv2.INTER_LINEAR)
    covered = cv2.warpAffine(np.full(work_grey.shape, 255, dtype=np.uint8), affine, (width, height))
    cells = (GRID, GRID)
    query_cells = cv2.resize(query_grey, cells, interpolation=cv2.INTER_AREA).astype(np.float32)
    work_cells = cv2.resize(warped, cells, interpolation=cv2.INTER_AREA).astype(np.float32)
    inside = cv2.resize(covered, cells, interpolation=cv2.INTER_AREA) >= 250
    if inside.sum() < 16:
        return 1.0
    q, w = query_cells[inside], work_cells[inside]
    if w.std() > 1:
        gain, offset = np.polyfit(w, q, 1)
    else:
        gain, offset = 1.0, float(np.median(q - w))
    diff = np.abs(q - (gain * w + offset))
    ink = (np.abs(w - np.median(w)) > 12) | (np.abs(q - np.median(q)) > 12)
    if not ink.any():
        return 1.0
    return float((diff[ink] > threshold).mean())
