"""Regions of a query that may hold a registered work inside a bigger picture.

A screenshot of a post, a meme with caption bars or a collage holds the work in a rectangle
separated from the rest by runs of the page's background (the app's page, the bars, the
gutters). A recursive XY cut along such runs, rows then columns then rows again inside each
piece, finds those rectangles, nested ones too (a picture inside a band of a screenshot, a
tile inside a row of a collage). A line is background when it is uniform and has the frame's
border level: a flag's uniform green rows or a drawing's flat sky are part of the picture.

A work pasted onto another picture has no uniform surroundings; its rectangle still shows as
straight edges where the paste meets the background. Lines whose gradient runs unbroken
across a long stretch are the candidate sides; a rectangle whose four sides are mostly such
edges is a region.

The untrimmed frame is a region too when trimming changed the query: a mark in the margin of
a drawing changes how it trims, and the registered "untrimmed" variant is framed like it.
Each region is hashed like a query of its own (hashing.hash_region).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image

from registry.fingerprints.decode import (
    BORDER_TOLERANCE,
    WORK_SIZE,
    DecodedImage,
    shrink,
    trim_borders,
)
from registry.fingerprints.rectify import rectified

# A 2x2 collage on a trimmed page spends a place on the untrimmed frame and its tiles, with
# a caption's run or a pasted rectangle, need the rest: at four places the limit decided
# which tile was searched (docs/matching.md section 19). Layout 3 of the binary wire counts
# regions in 4 bits.
MAX_REGIONS = 8
# A row or column is uniform when its grey levels spread less than this (standard deviation).
UNIFORM = 6.0
# A cut needs a run of at least this many background rows or columns (at twice the working
# size).
MIN_GAP = 2
# The frame's border is the page's background when this share of its pixels is within
# BORDER_TOLERANCE of its median level.
BACKGROUND_SHARE = 0.6
# The cut recurses this deep (rows, columns, rows, columns) and cuts no further piece once it
# holds this many. A soft cap: the cut that crosses it keeps all its pieces (a page of many
# thin stripes gives over a hundred), which only costs their plausibility checks; what it
# bounds is the number of cuts, each a pass over a piece's rows or columns.
MAX_DEPTH = 4
MAX_PIECES = 64
# Unions of neighbouring pieces are proposed where a cut gives at most this many pieces.
MAX_UNION = 6
# A region covers at least this share of the query's area and at most this much of it
# unless it differs from the whole frame by at least MIN_MARGIN of a side (uneven borders).
MIN_AREA, MAX_AREA = 0.02, 0.85
MIN_MARGIN = 0.03
# A region is at least this many pixels a side (at twice the working size) and no more
# elongated than this: a line of text or a button row is neither a picture nor a work.
MIN_SIDE_PIXELS = 40
MAX_ELONGATION = 4.0
# Straight edges of a pasted picture: a line of the gradient is an edge where the grey
# level steps by at least EDGE_STEP, and a candidate side when it steps along an unbroken
# run of at least EDGE_RUN of the frame's side. EDGE_LINES candidate lines a direction; a
# rectangle is kept when EDGE_SUPPORT of its perimeter steps.
EDGE_STEP = 16.0
EDGE_RUN = 0.2
EDGE_LINES = 4
EDGE_SUPPORT = 0.7
EDGE_GAP = 3
# A region whose grey levels spread less than this is a bar or a blank band, not a picture.
FLAT = 10.0
# Two boxes overlapping this much (intersection over union) are one region.
SAME_BOX = 0.85

Box = tuple[int, int, int, int]  # left, top, right, bottom in pixels of the cut frame
# The region of a trimmed query's untrimmed frame: the file as a plain hash reads it.
WHOLE_FRAME = (0, 0, 1000, 1000)


@dataclass(frozen=True)
class Region:
    box: tuple[int, int, int, int]  # left, top, right, bottom in thousandths of the frame
    image: Image.Image
    # The picture found by four fitted sides on a fill and put upright (fingerprints.rectify):
    # geometric evidence of a placed picture, which a cut piece lacks, so its dHash is
    # searched too (rules.verify_item). At most one region of a query.
    upright: bool = False


def query_regions(decoded: DecodedImage) -> list[Region]:
    """At most MAX_REGIONS regions: the untrimmed frame, the picture put upright when it is
    turned on a uniform fill (fingerprints.rectify), then the cut's pieces and pasted
    rectangles in the order of `_ranked`, less near duplicates and flat bars."""
    found: list[Region] = []
    if decoded.was_trimmed:
        found.append(Region(WHOLE_FRAME, decoded.untrimmed))
    # Cut at twice the working size: a collage's gutter of a few pixels blurs into one
    # non-uniform row at the working size.
    frame = shrink(decoded.decoded, 2 * WORK_SIZE)
    grey = np.asarray(frame.convert("L"), dtype=np.float32)
    kept: list[Box] = []
    # The upright picture comes before the cut's pieces: when the query is a turned picture
    # on a fill, the pieces of its cut are that same picture still turned.
    upright = rectified(decoded.untrimmed)
    if upright is not None and np.asarray(upright.image.convert("L")).std() >= FLAT:
        found.append(Region(upright.box, upright.image, upright=True))
        kept.append(_pixels(upright.box, frame.size))  # a cut piece framing it adds nothing
    for box in _ranked(grey):
        if len(found) >= MAX_REGIONS:
            break
        if any(_overlap(box, other) >= SAME_BOX for other in kept):
            continue
        left, top, right, bottom = box
        if grey[top:bottom, left:right].std() < FLAT:
            continue  # a bar or a blank band: it would match every plain picture
        kept.append(box)
        image = shrink(trim_borders(frame.crop(box)), WORK_SIZE)
        found.append(Region(_thousandths(box, frame.size), image))
    return found


def _ranked(grey: np.ndarray) -> Iterator[Box]:
    """Plausible pictures, in order: the runs of bands between lines (_blocks), the cut's
    pieces by tier, largest first in each, then pasted rectangles (found only when the cut
    leaves room: the edges cost most)."""
    height, width = grey.shape
    tiers: tuple[list[Box], list[Box], list[Box]] = ([], [], [])
    # First the pictures between lines of text: drawn on the page's own colour, a post's
    # picture or a meme's falls apart in the cut, and its parts took the places.
    yield from (
        b for b in sorted(_blocks(grey), key=_area, reverse=True) if _plausible(b, width, height)
    )
    for box, tier in _cut_pieces(grey):
        tiers[tier].append(box)
    for boxes in tiers:
        yield from (
            b for b in sorted(boxes, key=_area, reverse=True) if _plausible(b, width, height)
        )
    yield from (box for box in _edge_rectangles(grey) if _plausible(box, width, height))


def _plausible(box: Box, width: int, height: int) -> bool:
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    if min(w, h) < MIN_SIDE_PIXELS or max(w, h) > MAX_ELONGATION * min(w, h):
        return False
    area = w * h / (width * height)
    if area < MIN_AREA:
        return False
    if area <= MAX_AREA:
        return True
    # Nearly the whole frame: a region only where it leaves a margin the symmetric trim
    # keeps (a border on one side), else the whole query already covers it.
    margins = (left / width, top / height, 1 - right / width, 1 - bottom / height)
    return max(margins) >= MIN_MARGIN


def _cut_pieces(grey: np.ndarray) -> list[tuple[Box, int]]:
    """The pieces of a recursive XY cut along background runs, each with its tier.

    Tier 0: the rectangles of the first cut into bands and of each band into columns (a
    meme's picture between its bars, a collage's tile, the picture of a post), bounded by
    their neighbours rather than by their own content, and the whole content box (uneven
    borders). Tier 1: deeper pieces that cut no further. Tier 2: pieces cut further and
    unions of neighbouring pieces (a drawing on the page's colour falls apart along its
    inner gaps)."""
    height, width = grey.shape
    level = _background(grey)
    pieces: list[tuple[Box, int]] = []
    pending: list[tuple[Box, int, int, bool]] = [((0, 0, width, height), 0, 0, False)]
    while pending and len(pieces) < MAX_PIECES:
        box, axis, depth, other_tried = pending.pop()
        stretches = _runs(grey, box, axis, level)
        if not stretches:
            continue
        if len(stretches) == 1:
            tight = _piece(box, axis, stretches[0])
            if other_tried:
                pieces.append((tight, 0 if depth == 0 else 1))
            else:
                if depth == 1:
                    pieces.append((tight, 0))  # a band holding one column of content
                pending.append((tight, 1 - axis, depth, True))
            continue
        if depth > 0:
            pieces.append((box, 2))
        if len(stretches) <= MAX_UNION:
            for first in range(len(stretches)):
                for last in range(first + 1, len(stretches)):
                    if (first, last) != (0, len(stretches) - 1):
                        union = (stretches[first][0], stretches[last][1])
                        pieces.append((_piece(box, axis, union), 2))
        if depth < MAX_DEPTH:
            for stretch in stretches:
                piece = _piece(box, axis, stretch)
                if depth == 1:
                    pieces.append((piece, 0))  # a band's column
                pending.append((piece, 1 - axis, depth + 1, False))
    return pieces


def _is_line(box: Box) -> bool:
    """A band too thin or too elongated to be a picture: a line of text, a bar, a row of
    buttons."""
    left, top, right, bottom = box
    w, h = right - left, bottom - top
    return min(w, h) < MIN_SIDE_PIXELS or w > MAX_ELONGATION * h


def _blocks(grey: np.ndarray) -> list[Box]:
    """Pictures stacked between lines of text or bars (a post between its caption and its
    buttons, a meme's picture between its captions): the first cut's bands, each framed by
    its own content, split at the bands that are lines; each run of bands between lines is
    framed by its content. A drawing on the page's colour falls apart into several bands
    along its inner gaps; the run puts it back together."""
    height, width = grey.shape
    level = _background(grey)
    bands = _runs(grey, (0, 0, width, height), 0, level)
    framed: list[Box] = []
    # Bands holding two pictures side by side or more: a row of a grid of tiles.
    rows_of_tiles: set[Box] = set()
    for top, bottom in bands:
        columns = _runs(grey, (0, top, width, bottom), 1, level)
        if not columns:
            continue
        content = (columns[0][0], top, columns[-1][1], bottom)
        framed.append(content)
        tiles = [(a, top, b, bottom) for a, b in columns]
        if sum(_plausible(tile, width, height) for tile in tiles) >= 2:
            rows_of_tiles.add(content)
    found: list[Box] = []
    run: list[Box] = []
    after_line = False
    for band in [*framed, None]:
        if band is not None and not _is_line(band):
            run.append(band)
            continue
        # Only a run that lines bound: without a line, the run is the whole content (a
        # collage's rows of tiles); a run of one band, only between two lines (a row of a
        # collage's tiles above a line took a tile's place). Never a run with a row of
        # tiles: a captioned collage or a post of four pictures is a grid, whose box matches
        # none of its pictures and would take the place of one (the cut's pieces find them).
        lines = int(after_line) + int(band is not None)
        is_grid = any(member in rows_of_tiles for member in run)
        if run and not is_grid and lines >= (2 if len(run) == 1 else 1):
            found.append(_framed(grey, level, run[0][1], run[-1][3]))
        run = []
        after_line = band is not None
    return found


def _framed(grey: np.ndarray, level: float | None, top: int, bottom: int) -> Box:
    """Rows top to bottom, less the background columns on either side."""
    width = grey.shape[1]
    columns = _runs(grey, (0, top, width, bottom), 1, level)
    if not columns:
        return (0, top, width, bottom)
    return (columns[0][0], top, columns[-1][1], bottom)


def _piece(box: Box, axis: int, stretch: tuple[int, int]) -> Box:
    """The part of `box` along a stretch of its rows (axis 0) or columns (axis 1)."""
    left, top, right, bottom = box
    start, end = stretch
    if axis == 0:
        return (left, top + start, right, top + end)
    return (left + start, top, left + end, bottom)


def _background(grey: np.ndarray) -> float | None:
    """The grey level of the page around the pictures: the frame's border, when uniform."""
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    level = float(np.median(border))
    if (np.abs(border - level) <= BORDER_TOLERANCE).mean() < BACKGROUND_SHARE:
        return None
    return level


def content_box(grey: np.ndarray) -> Box | None:
    """The frame less its background lines on every side, each side on its own: how the cut
    frames a picture shown on a page of its own background colour (a drawing on white in a
    screenshot of a white page). None when the frame's border is not a uniform page, or
    when nothing but page is left."""
    height, width = grey.shape
    level = _background(grey)
    if level is None:
        return None
    rows = _runs(grey, (0, 0, width, height), 0, level)
    if not rows:
        return None
    top, bottom = rows[0][0], rows[-1][1]
    columns = _runs(grey, (0, top, width, bottom), 1, level)
    if not columns:
        return None
    return columns[0][0], top, columns[-1][1], bottom


def _runs(grey: np.ndarray, box: Box, axis: int, level: float | None) -> list[tuple[int, int]]:
    """The stretches of busy rows (axis 0) or columns (axis 1) of `box` between runs of at
    least MIN_GAP background ones: uniform, and at the page's level when it has one."""
    left, top, right, bottom = box
    window = grey[top:bottom, left:right]
    lines = window if axis == 0 else window.T
    quiet_line = lines.std(axis=1) < UNIFORM
    if level is not None:
        quiet_line &= np.abs(lines.mean(axis=1) - level) <= BORDER_TOLERANCE
    stretches: list[tuple[int, int]] = []
    start, quiet = None, 0
    for position, line_quiet in enumerate(quiet_line.tolist()):
        if not line_quiet:
            if start is None:
                start = position
            quiet = 0
            continue
        quiet += 1
        if start is not None and quiet >= MIN_GAP:
            stretches.append((start, position - quiet + 1))
            start = None
    if start is not None:
        stretches.append((start, len(quiet_line) - quiet))
    return stretches


def _edge_rectangles(grey: np.ndarray) -> list[Box]:
    """Rectangles whose four sides are straight steps of the grey level: a pasted picture.

    Read at the working size (a pasted picture is large), in pixels of the cut frame. The
    frame's own sides are not candidate sides: with them, the bands of a flag or a caption
    bar across the frame made rectangles, and false matches (corpus 2's DEV set)."""
    height, width = grey.shape
    # The mean of each 2x2 block, pairs of rows then of columns: a tenth of the time of a
    # mean over the axes of a reshaped array, and the same values (grey levels are whole
    # numbers, so the float32 sums are exact in any order and the division by 4 too).
    even = grey[: height // 2 * 2, : width // 2 * 2]
    pairs = even[0::2] + even[1::2]
    half = (pairs[:, 0::2] + pairs[:, 1::2]) / 4
    steps_down = np.abs(np.diff(half, axis=0)) >= EDGE_STEP  # between row y and y + 1
    steps_across = np.abs(np.diff(half, axis=1)) >= EDGE_STEP  # between column x and x + 1
    rows = sorted(_edge_lines(steps_down, half.shape[1]))
    columns = sorted(_edge_lines(steps_across.T, half.shape[0]))
    # Each candidate side's steps counted once, not once for every rectangle it bounds.
    along_rows = _stepped_counts(steps_down, rows)
    along_columns = _stepped_counts(steps_across.T, columns)
    found: list[tuple[float, Box]] = []
    for i, top in enumerate(rows):
        for bottom in rows[i + 1 :]:
            for j, left in enumerate(columns):
                for right in columns[j + 1 :]:
                    box = (left, top, right, bottom)
                    support = _perimeter_support(box, along_rows, along_columns)
                    if support >= EDGE_SUPPORT:
                        found.append((support, (2 * left, 2 * top, 2 * right, 2 * bottom)))
    return [box for _, box in sorted(found, key=lambda f: (-f[0], -_area(f[1])))]


def _edge_lines(steps: np.ndarray, length: int) -> list[int]:
    """The EDGE_LINES lines (between pixel lines) with the longest unbroken steps."""
    longest = _longest_runs(steps)
    order = np.argsort(-longest, kind="stable")
    chosen: list[int] = []
    for position in order.tolist():
        if longest[position] < EDGE_RUN * length or len(chosen) >= EDGE_LINES:
            break
        if all(abs(position + 1 - other) > 2 for other in chosen):
            chosen.append(position + 1)  # the box's side lies after the step
    return chosen


def _longest_runs(steps: np.ndarray) -> np.ndarray:
    """Per line, the longest run of True, gaps of up to EDGE_GAP pixels bridged (JPEG noise
    and content of the same grey on both sides break an edge)."""
    length = steps.shape[1]
    bridged = steps.copy()
    # A line shorter than the gap has nothing to bridge (a picture a few pixels wide).
    for gap in range(1, min(EDGE_GAP, length - 1) + 1):
        # True at x and at x + gap + 1: the gap between them is bridged.
        ends = steps[:, : length - gap - 1] & steps[:, gap + 1 :]
        for offset in range(1, gap + 1):
            bridged[:, offset : offset + length - gap - 1] |= ends
    position = np.arange(length)
    last_gap = np.maximum.accumulate(np.where(bridged, -1, position), axis=1)
    return (position - last_gap).max(axis=1) if bridged.size else np.zeros(len(steps), int)


def _stepped_counts(steps: np.ndarray, lines: list[int]) -> dict[int, np.ndarray]:
    """For each candidate side inside the frame (between lines `line - 1` and `line` of
    `steps`): how many of the first n positions along it step, at n, the side's reach being
    the step lines `line - 2` to `line`."""
    counts = {}
    for line in lines:
        if 0 < line < steps.shape[0] + 1:
            band = steps[max(0, line - 2) : line + 1].any(axis=0)
            counts[line] = np.concatenate(([0], np.cumsum(band)))
    return counts


def _perimeter_support(
    box: Box, along_rows: dict[int, np.ndarray], along_columns: dict[int, np.ndarray]
) -> float:
    """The share of the box's sides (inside the frame) along which the grey level steps."""
    left, top, right, bottom = box
    stepped, total = 0, 0
    for row in (top, bottom):
        if row in along_rows:
            stepped += int(along_rows[row][right] - along_rows[row][left])
            total += right - left
    for column in (left, right):
        if column in along_columns:
            stepped += int(along_columns[column][bottom] - along_columns[column][top])
            total += bottom - top
    return stepped / total if total else 0.0


def _area(box: Box) -> int:
    return (box[2] - box[0]) * (box[3] - box[1])


def _overlap(a: Box, b: Box) -> float:
    width = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = _area(a) + _area(b) - inter
    return inter / union if union else 0.0


def _pixels(box: tuple[int, int, int, int], size: tuple[int, int]) -> Box:
    """A box in thousandths of the frame, in pixels of a frame of `size`."""
    width, height = size
    left, top, right, bottom = box
    return (
        left * width // 1000,
        top * height // 1000,
        right * width // 1000,
        bottom * height // 1000,
    )


def _thousandths(box: Box, size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = size
    left, top, right, bottom = box
    return (
        1000 * left // width,
        1000 * top // height,
        1000 * right // width,
        1000 * bottom // height,
    )
