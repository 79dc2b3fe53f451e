"""A picture turned, sheared or keystoned on a uniform fill, put upright again.

A re-post turned by a few degrees (its canvas grown to hold it, or its corners cut off by its
own frame), sheared, or photographed off its axis shows the work as a quadrilateral on a fill
the editor brought in (white, black). Hashes read the frame as it is, so the slanted content
and the fill's corners move pHash far from every registered variant (the registered tilts
reach a few degrees around their own angle). Here the quadrilateral is found where the content
meets the fill: on each side, the first pixel of content of every row or column, one straight
line fitted through them, the four lines intersected. Warped back to an upright rectangle, the
quadrilateral is framed as the work was: one more query region (regions.query_regions).

Only a clean fit is proposed: the fill on at least two corners of the frame, every side
supported by enough points on its line, no content outside the quadrilateral, and a turn of at
least MIN_TURN degrees. An upright picture, a drawing on white (its outline is no straight
line) and a photograph to its edges get nothing.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from registry.fingerprints.decode import BORDER_TOLERANCE, WORK_SIZE, shrink, trim_borders

# A pixel is fill when no channel differs from the fill colour by more than this (as a
# border is for trimming): JPEG noise on a flat fill stays within it.
FILL_TOLERANCE = BORDER_TOLERANCE
# The corners of the frame sampled for the fill colour, this many pixels a side (at the
# working size, 256 px). A turn of 4 degrees with its corners cut leaves triangles of fill
# some 9 pixels deep there.
CORNER = 4
# A profile point this close to the frame's side is where the frame cuts the content off
# (a turn that kept its canvas), not a side of the picture.
FRAME_EDGE = 2
# The quadrilateral is warped from this many pixels inside its sides: bilinear sampling on the
# side itself mixes in the fill.
INSET = 1.0
# A side with no line of its own is the frame's edge when the content runs along that edge for
# at least this share of the side's rows or columns.
ALONG_FRAME = 0.5
# A point is on a side's line within this many pixels (anti-aliasing, JPEG, resampling).
LINE_TOLERANCE = 1.5
# Line hypotheses drawn per side; fixed draws, so that a query always gives the same region.
HYPOTHESES = 32
# Each side is supported by at least this many points on its line, and by this share of the
# rows or columns it spans inside the frame: a picture's side is one straight edge from corner
# to corner, where lines through the edges of a drawing, of a collage's tiles or of a picture
# pasted over another leave gaps (on DEV, two such quadrilaterals had a side supported along
# only 46% and 50%; an icon's rounded corners leave its sides supported along 68-75%).
MIN_POINTS = 24
MIN_SUPPORT = 0.6
# A side turned less than this from its axis leaves the picture upright enough for the
# registered tilts (3 degrees) and the comparison; one turned more than this is another side.
MIN_TURN = 2.0
MAX_TURN = 40.0
# Opposite sides of a turned, sheared or keystoned picture are parallel or converge slowly (a
# keystone of 16% on a picture twice as wide as high: 18 degrees); lines through unrelated
# edges meet at any angle.
MAX_CONVERGENCE = 20.0
# At most this share of the frame outside the quadrilateral (past LINE_TOLERANCE) is content:
# what is left is fill, so the quadrilateral holds the whole picture.
MAX_CONTENT_OUTSIDE = 0.01
# The quadrilateral covers at least this share of the frame, and its corners lie at most this
# share of the frame's longer side beyond it (cut off by the frame: a banner turned in its own
# frame loses corners deeper than its height).
MIN_AREA = 0.2
MAX_OVERHANG = 0.25

Point = tuple[float, float]


@dataclass(frozen=True)
class Line:
    """A side: `along` is x for the top and bottom sides and y for the left and right ones;
    the side's other coordinate is slope * along + offset."""

    slope: float
    offset: float
    support: int  # points of the side's profile on the line
    on_frame: bool = False  # the frame's own edge, along which the content runs


@dataclass(frozen=True)
class Rectified:
    # left, top, right, bottom in thousandths of the frame: the quadrilateral's bounding box,
    # clipped to the frame and a thousandth inside it on every side, so that it is never
    # regions.WHOLE_FRAME (the untrimmed frame, which alone carries a PDQ).
    box: tuple[int, int, int, int]
    image: Image.Image
    turn: float  # the largest angle, in degrees, of a side from its axis


def rectified(frame: Image.Image) -> Rectified | None:
    """The picture of `frame` (the untrimmed query, RGB, at most the working size) put upright,
    or None when it holds no turned quadrilateral on a uniform fill."""
    # As decoded (uint8): every reading of them is a difference from a float colour, a
    # max - min or a median, so no conversion is needed first.
    pixels = np.asarray(frame)
    for fill in _fill_colours(pixels):
        content = _content(pixels, fill)
        lines = _side_lines(content)
        if lines is None:
            continue
        corners = _corners(lines)
        height, width = content.shape
        if not _plausible(corners, lines, width, height) or _content_outside(content, lines):
            continue
        turn = max(math.degrees(math.atan(abs(line.slope))) for line in lines)
        if turn < MIN_TURN:
            continue
        try:
            image = _upright(frame, corners, _edge_colour(pixels, content, fill))
        except (np.linalg.LinAlgError, ValueError):
            continue  # a degenerate quadrilateral costs this region, never the item
        return Rectified(_box(corners, width, height), image, turn)
    return None


def _fill_colours(pixels: np.ndarray) -> list[np.ndarray]:
    """The colours each shared by at least two uniform corners of the frame (a keystone
    leaves fill in two corners and the picture's own border in the other two)."""
    uniform = []
    for rows in (slice(0, CORNER), slice(-CORNER, None)):
        for columns in (slice(0, CORNER), slice(-CORNER, None)):
            patch = pixels[rows, columns].reshape(-1, 3)
            if int((patch.max(axis=0) - patch.min(axis=0)).max()) <= FILL_TOLERANCE:
                uniform.append(patch.mean(axis=0))
    fills: list[np.ndarray] = []
    for colour in uniform:
        alike = [c for c in uniform if np.abs(c - colour).max() <= FILL_TOLERANCE]
        fill = np.mean(alike, axis=0)
        if len(alike) >= 2 and all(np.abs(fill - f).max() > FILL_TOLERANCE for f in fills):
            fills.append(fill)
    return fills


def _content(pixels: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """Pixels off the fill, two in a row (a lone speck of JPEG noise is not content)."""
    off = np.abs(pixels[..., 0] - fill[0]) > FILL_TOLERANCE
    off |= np.abs(pixels[..., 1] - fill[1]) > FILL_TOLERANCE
    off |= np.abs(pixels[..., 2] - fill[2]) > FILL_TOLERANCE
    beside = np.zeros_like(off)
    beside[:, 1:] |= off[:, :-1]
    beside[:, :-1] |= off[:, 1:]
    beside[1:] |= off[:-1]
    beside[:-1] |= off[1:]
    return off & beside


def _side_lines(content: np.ndarray) -> tuple[Line, Line, Line, Line] | None:
    """The top, right, bottom and left sides' lines, each fitted through its profile: the
    first pixel of content from that side in every column (top, bottom) or row (left,
    right), less the points where the content reaches the frame. A side with no line of its
    own inside the frame but along which the content runs on the frame's edge for at least
    ALONG_FRAME of it is that edge (the long side of a keystone, the sides a shear keeps)."""
    lines = []
    # Top: down each column; right: in from the end of each row; bottom; left.
    for lanes, from_end in (
        (content.T, False),
        (content, True),
        (content.T, True),
        (content, False),
    ):
        depth = lanes.shape[1]
        seen = lanes.any(axis=1)
        if from_end:
            first = depth - 1 - lanes[:, ::-1].argmax(axis=1)
            inside = first < depth - 1 - FRAME_EDGE
        else:
            first = lanes.argmax(axis=1)
            inside = first > FRAME_EDGE
        along = np.flatnonzero(seen & inside)
        line = _fit(along.astype(np.float64), first[along].astype(np.float64))
        on_frame = int((seen & ~inside).sum())
        if line is None and on_frame >= max(MIN_POINTS, ALONG_FRAME * int(seen.sum())):
            line = Line(0.0, float(depth - 1 if from_end else 0), on_frame, on_frame=True)
        if line is None:
            return None
        lines.append(line)
    top, right, bottom, left = lines
    return top, right, bottom, left


def _fit(along: np.ndarray, across: np.ndarray) -> Line | None:
    """The line through the most points (a fixed draw of pairs, then least squares on the
    points within LINE_TOLERANCE of the best), or None when too few points support it."""
    if along.size < MIN_POINTS:
        return None
    first, second = _draws(along.size)
    spread = along[second] - along[first]
    usable = np.abs(spread) >= 4
    if not usable.any():
        return None
    slope = (across[second] - across[first])[usable] / spread[usable]
    offset = across[first][usable] - slope * along[first][usable]
    # Only sides turned less than MAX_TURN: a steeper line is a neighbouring side seen end on.
    shallow = np.abs(slope) <= math.tan(math.radians(MAX_TURN))
    if not shallow.any():
        return None
    slope, offset = slope[shallow], offset[shallow]
    residual = np.abs(across[None, :] - (slope[:, None] * along[None, :] + offset[:, None]))
    best = int((residual <= LINE_TOLERANCE).sum(axis=1).argmax())
    on_line = residual[best] <= LINE_TOLERANCE
    for _ in range(2):  # refine: least squares on the supporters, then who supports that
        if on_line.sum() < MIN_POINTS:
            return None
        fitted_slope, fitted_offset = _least_squares(along[on_line], across[on_line])
        on_line = np.abs(across - (fitted_slope * along + fitted_offset)) <= LINE_TOLERANCE
    if on_line.sum() < MIN_POINTS or abs(fitted_slope) > math.tan(math.radians(MAX_TURN)):
        return None
    return Line(float(fitted_slope), float(fitted_offset), int(on_line.sum()))


@functools.lru_cache(maxsize=1024)
def _draws(size: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed draw of HYPOTHESES pairs of points out of `size`: kept, since making the
    generator cost more than the fit (the arrays are read, never written)."""
    rng = np.random.default_rng(0)
    first = rng.integers(0, size, HYPOTHESES)
    second = rng.integers(0, size, HYPOTHESES)
    first.flags.writeable = second.flags.writeable = False
    return first, second


def _least_squares(along: np.ndarray, across: np.ndarray) -> tuple[float, float]:
    mean_along, mean_across = float(along.mean()), float(across.mean())
    spread = float(((along - mean_along) ** 2).sum())
    slope = float(((along - mean_along) * (across - mean_across)).sum()) / spread
    return slope, mean_across - slope * mean_along


def _corners(lines: tuple[Line, Line, Line, Line]) -> list[Point]:
    """Top-left, top-right, bottom-right and bottom-left: where neighbouring sides meet."""
    top, right, bottom, left = lines
    return [_meet(top, left), _meet(top, right), _meet(bottom, right), _meet(bottom, left)]


def _meet(level: Line, upright: Line) -> Point:
    """Where a top or bottom side (y = a x + b) meets a left or right one (x = c y + d):
    1 - a c > 0 since neither turns past 45 degrees."""
    x = (upright.slope * level.offset + upright.offset) / (1 - level.slope * upright.slope)
    return x, level.slope * x + level.offset


def _plausible(
    corners: list[Point], lines: tuple[Line, Line, Line, Line], width: int, height: int
) -> bool:
    """A convex quadrilateral of a good size, its corners near the frame, each side supported
    along MIN_SUPPORT of the rows or columns it spans inside the frame."""
    xs = np.array([x for x, _ in corners])
    ys = np.array([y for _, y in corners])
    overhang = MAX_OVERHANG * max(width, height)
    if xs.min() < -overhang or xs.max() > width + overhang:
        return False
    if ys.min() < -overhang or ys.max() > height + overhang:
        return False
    top, right, bottom, left = (math.degrees(math.atan(line.slope)) for line in lines)
    if max(abs(top - bottom), abs(left - right)) > MAX_CONVERGENCE:
        return False
    # Shoelace area, and every turn the same way round: convex.
    turns = [
        (xs[(i + 1) % 4] - xs[i]) * (ys[(i + 2) % 4] - ys[(i + 1) % 4])
        - (ys[(i + 1) % 4] - ys[i]) * (xs[(i + 2) % 4] - xs[(i + 1) % 4])
        for i in range(4)
    ]
    if min(turns) <= 0:
        return False
    area = 0.5 * abs(float(np.dot(xs, np.roll(ys, -1)) - np.dot(ys, np.roll(xs, -1))))
    if area < MIN_AREA * width * height:
        return False
    # Each side (top, right, bottom, left, as `lines`) between its corners: the columns (top,
    # bottom) or rows (left, right) it spans, and how far across the frame they reach.
    spans = (
        (xs[0], xs[1], width, height),
        (ys[1], ys[2], height, width),
        (xs[3], xs[2], width, height),
        (ys[0], ys[3], height, width),
    )
    for line, (start, end, lanes, depth) in zip(lines, spans, strict=True):
        spanned = _spanned(line, min(start, end), max(start, end), lanes, depth)
        if spanned < MIN_POINTS or line.support < MIN_SUPPORT * spanned:
            return False
    return True


def _spanned(line: Line, start: float, end: float, lanes: int, depth: int) -> int:
    """The rows or columns between `start` and `end` where the side lies inside the frame (or
    along its edge, for a side that is the frame's edge): where its profile should find it."""
    along = np.arange(max(0, math.ceil(start)), min(lanes - 1, math.floor(end)) + 1)
    if line.on_frame:
        return int(along.size)
    across = line.slope * along + line.offset
    return int(((across > FRAME_EDGE) & (across < depth - 1 - FRAME_EDGE)).sum())


def _content_outside(content: np.ndarray, lines: tuple[Line, Line, Line, Line]) -> bool:
    """Whether more than MAX_CONTENT_OUTSIDE of the frame outside the quadrilateral (past the
    line tolerance) is content: then the lines are not the picture's sides (a drawing's
    outline, a picture on a page with other things on it). Read every other pixel."""
    step = 2
    y, x = np.mgrid[0 : content.shape[0] : step, 0 : content.shape[1] : step]
    sampled = content[::step, ::step]
    top, right, bottom, left = lines
    margin = 2 * LINE_TOLERANCE
    outside = (
        (y < top.slope * x + top.offset - margin)
        | (y > bottom.slope * x + bottom.offset + margin)
        | (x < left.slope * y + left.offset - margin)
        | (x > right.slope * y + right.offset + margin)
    )
    return bool((sampled & outside).sum() > MAX_CONTENT_OUTSIDE * sampled.size)


def _edge_colour(pixels: np.ndarray, content: np.ndarray, fill: np.ndarray) -> tuple[int, ...]:
    """The picture's own colour where the frame cuts it: the median of the frame's border
    pixels that are content (the fill's colour when the picture nowhere reaches the frame)."""
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    touching = np.concatenate([content[0], content[-1], content[:, 0], content[:, -1]])
    colour = np.median(border[touching], axis=0) if touching.any() else fill
    return tuple(round(float(c)) for c in colour)


def _upright(frame: Image.Image, corners: list[Point], edge: tuple[int, ...]) -> Image.Image:
    """The quadrilateral warped onto an upright rectangle as long as its sides, at most the
    working size, then trimmed as a query is. Its corners are moved INSET pixels in, so that
    no fill bleeds into its edges (a dark line along a drawing's white margin keeps it from
    trimming as its work did). Where they lie beyond the frame (a turn that kept its canvas
    cut them off) the picture's edge colour fills them, as the registered tilts fill theirs:
    a drawing on white turned on black trims again."""
    centre_x = sum(x for x, _ in corners) / 4
    centre_y = sum(y for _, y in corners) / 4
    tl, tr, br, bl = corners
    width = (math.dist(tl, tr) + math.dist(bl, br)) / 2
    height = (math.dist(tl, bl) + math.dist(tr, br)) / 2
    shrunk = [
        (
            centre_x + (x - centre_x) * (1 - 2 * INSET / width),
            centre_y + (y - centre_y) * (1 - 2 * INSET / height),
        )
        for x, y in corners
    ]
    scale = min(1.0, WORK_SIZE / max(width, height))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    target = [(0.0, 0.0), (size[0], 0.0), (size[0], size[1]), (0.0, size[1])]
    coefficients = _perspective(target, shrunk)
    upright = frame.transform(
        size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BILINEAR, fillcolor=edge
    )
    return shrink(trim_borders(upright), WORK_SIZE)


def _perspective(target: list[Point], source: list[Point]) -> list[float]:
    """Pillow's PERSPECTIVE coefficients: each output (target) point to its input (source)."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.array(rows, float), np.array(source, float).reshape(8))
    return [float(value) for value in solution]


def _box(corners: list[Point], width: int, height: int) -> tuple[int, int, int, int]:
    xs = [x for x, _ in corners]
    ys = [y for _, y in corners]
    return (
        min(max(1, math.floor(1000 * min(xs) / width)), 998),
        min(max(1, math.floor(1000 * min(ys) / height)), 998),
        max(min(999, math.ceil(1000 * max(xs) / width)), 2),
        max(min(999, math.ceil(1000 * max(ys) / height)), 2),
    )
