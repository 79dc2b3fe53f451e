"""How far a query's descriptor is from a registered variant's: the distances `verify` judges.

The comparison models what a re-post does to a picture and measures what is left:

1. Brightness, contrast and saturation: the query's grey cells are fitted as
   `clip(a * registered + b)` by least squares, on flat cells where there are enough (blur
   and resampling leave them alone) and on those that agree best (an overlay must not skew
   the fit); cells clipped to white are left out (brightening clips). The colour the fit
   predicts is rebuilt channel by channel and clipped the same way, then scaled by a fitted
   saturation factor. Distances are shares of the query's grey range (2nd to 98th
   percentile), whatever its contrast.
2. Resampling: a cell is *changed* only when it lies outside the range of the other picture's
   3x3 neighbourhood, widened by `contrast_tolerance` times that range, by more than
   `cell_tolerance`. A line moved by one cell, blurred, or drawn a little darker or lighter
   stays inside; structure present in one picture and absent in the other does not. Both
   directions are checked (the registered picture softened by a cell, since a re-post loses
   the finest detail), and colour cells the same way.
3. Overlays: a watermark, a caption or a letterbox remnant sits at the edge of the frame.
   Changed cells connected to the outer band of the frame (gaps of one cell bridged, since a
   bar is invisible where it crosses content of its own colour) are counted as `changed`;
   the others, inside the picture, as `changed_inside` too. A different drawing of the same
   template (another letter on a dreidel, a placket on a shirt) differs inside.
4. Overall agreement: `luma` and `colour`, the mean difference of the 90% of cells that
   agree best, after the fit and softened by a cell (texture and shading that no single cell
   betrays).

Compiled with numba (20-40 microseconds a pair); imported by the matching rules only, so the
fingerprinting that clients run does not load numba.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from registry.fingerprints.descriptor import CELL_BITS, COLOUR_GRID, DESCRIPTOR_BYTES, GREY_GRID

# Changed cells this close to the frame's edge (in grey cells, 1/32 of a side each) start
# an overlay; gaps of up to OVERLAY_REACH - 1 cells between changed cells are bridged.
OVERLAY_BAND = 2
OVERLAY_REACH = 2
# The brightness fit uses flat cells (neighbourhood within FLAT of the picture's range) when
# at least MIN_FLAT_SHARE of the cells are and their greys span MIN_FLAT_SPAN of the range,
# and then the FIT_SHARE of them that agree best.
FLAT = 0.10
MIN_FLAT_SHARE = 0.10
MIN_FLAT_SPAN = 0.25  # of the registered picture's range, between the flat cells' greys
FIT_SHARE = 0.85
MIN_GAIN, MAX_GAIN = 0.2, 3.0
# Fading toward white or a muted filter takes up to 60% of the colour (version 3).
MIN_SATURATION, MAX_SATURATION = 0.4, 1.6
# Query cells this light (dark) may be clipped: the fit predicts at least (most) this there.
WHITE, BLACK = 250.0, 5.0
# Distances are shares of the query's grey range, and never of less than this many levels.
MIN_RANGE = 16.0
# Tone classes: TONE_BANDS grey bands times (HUE_SECTORS + 1) hues (one for grey); a class
# of at least MIN_TONE_CELLS cells gets its own brightness offset.
TONE_BANDS = 6
HUE_SECTORS = 6
MIN_TONE_CELLS = 8
# A hue rotation up to this many radians (40 degrees) is a filter.
MAX_HUE_TURN = 0.7
# Scattered changes are counted against the ink, and never against less than this share.
MIN_INK = 0.05
# `luma` and `colour` average the cells that agree best, this share of them.
AGREEING_SHARE = 0.90
_HIST_BINS = 256
# Reassociated sums vectorise; infinities and NaNs keep their meaning (no "ninf", "nnan").
_FAST = {"reassoc", "contract", "arcp"}


class Distances(NamedTuple):
    luma: float
    colour: float  # 0 when the query has no colour to compare
    changed: float  # share of grey cells that differ, anywhere
    overlay: float  # share of grey cells in the largest changed blob away from the edge
    scattered: float  # changed cells neither at the edge nor in that blob, share of the ink
    ink: float  # share of grey cells holding content in either picture
    # How far changes connected to the frame's edge reach in, as a share of the side: a
    # watermark or a caption bar stays near the edge, a picture inset in a corner does not.
    edge_depth: float
    # Scattered cells where the registered picture's structure is missing from the query
    # and the query shows nothing the registered picture lacks there (share of the ink):
    # erased detail, not an overlay.
    removed: float


def compare(
    query: bytes,
    candidate: bytes,
    *,
    cell_tolerance: float,
    contrast_tolerance: float,
    colourless: float,
) -> Distances:
    """The distances between two descriptors; ValueError unless both have DESCRIPTOR_BYTES."""
    if len(query) != DESCRIPTOR_BYTES or len(candidate) != DESCRIPTOR_BYTES:
        raise ValueError(f"descriptors must have {DESCRIPTOR_BYTES} bytes")
    return Distances(
        *_compare(
            np.frombuffer(query, dtype=np.uint8),
            np.frombuffer(candidate, dtype=np.uint8),
            cell_tolerance,
            contrast_tolerance,
            colourless,
        )
    )


def warm_up() -> None:
    """Compile the comparison (or load it from numba's cache) before the first verification."""
    blank = bytes(DESCRIPTOR_BYTES)
    compare(blank, blank, cell_tolerance=0.15, contrast_tolerance=0.5, colourless=0.0)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _unpack(raw: np.ndarray, start: int, count: int) -> np.ndarray:
    """`count` cells of CELL_BITS bits from byte `start` on; 8 cells fill 5 bytes exactly."""
    out = np.empty(count, np.int64)
    mask = (1 << CELL_BITS) - 1
    for group in range(count // 8):
        at = start + CELL_BITS * group
        word = np.int64(0)
        for k in range(CELL_BITS):
            word = (word << 8) | np.int64(raw[at + k])
        for k in range(8):
            out[8 * group + k] = (word >> (CELL_BITS * (7 - k))) & mask
    return out


@njit(cache=True, nogil=True, fastmath=_FAST)
def _grey(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Grey levels (0-31), grey values and the grey step of a descriptor."""
    levels = _unpack(raw, 3, GREY_GRID * GREY_GRID)
    step = (float(raw[1]) - float(raw[0])) / ((1 << CELL_BITS) - 1)
    grey = (float(raw[0]) + levels * step).reshape(GREY_GRID, GREY_GRID)
    return levels, grey, step


@njit(cache=True, nogil=True, fastmath=_FAST)
def _colour(raw: np.ndarray) -> np.ndarray:
    """The two opponent-colour channels of a descriptor, in grey levels."""
    cells = COLOUR_GRID * COLOUR_GRID
    levels = _unpack(raw, 3 + GREY_GRID * GREY_GRID * CELL_BITS // 8, 2 * cells)
    half = (1 << (CELL_BITS - 1)) - 1
    colour = (levels - (half + 1)) * (float(raw[2]) / half)
    return colour.reshape(2, COLOUR_GRID, COLOUR_GRID)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _fit(
    q: np.ndarray,
    r: np.ndarray,
    q_spread: np.ndarray,
    r_spread: np.ndarray,
    q_flat: float,
    r_flat: float,
) -> tuple[float, float]:
    """Gain and offset mapping r onto q.

    Fitted on flat cells (whose 3x3 neighbourhood spans at most `q_flat` and `r_flat` grey
    levels), where resampling, blur and a shift by a cell change nothing, when
    there are enough of them; then twice by least squares, each time on the FIT_SHARE of those
    cells that agree best, so that an overlay does not skew it.
    """
    n = q.size
    qf, rf = q.ravel(), r.ravel()
    qs_flat, rs_flat = q_spread.ravel(), r_spread.ravel()
    use = np.empty(n, np.bool_)
    count, low, high = 0, math.inf, -math.inf
    for i in range(n):
        use[i] = qs_flat[i] <= q_flat and rs_flat[i] <= r_flat
        if use[i]:
            count += 1
            low, high = min(low, rf[i]), max(high, rf[i])
    # Flat cells of one grey only (the page of a line drawing) cannot tell a gain from an
    # offset: then every cell is used.
    if count < MIN_FLAT_SHARE * n or high - low < r_flat / FLAT * MIN_FLAT_SPAN:
        use[:] = True
    # First agreement: standard scores, which need no fit.
    q_mean, q_std = _moments(qf, use)
    r_mean, r_std = _moments(rf, use)
    q_std, r_std = max(q_std, 8.0), max(r_std, 8.0)
    gaps = np.empty(n, np.float64)
    for i in range(n):
        gaps[i] = abs((qf[i] - q_mean) / q_std - (rf[i] - r_mean) / r_std)
    gain, offset = 1.0, 0.0
    # Standard scores first, then grey levels off that fit.
    for top in (4.0, 256.0):
        limit = _quantile_limit(gaps, use, top, FIT_SHARE)
        chosen, sq, sr, sqr, srr = 0, 0.0, 0.0, 0.0, 0.0
        for i in range(n):
            # A query cell clipped to white (or black) where the fit predicts beyond it
            # agrees with the fit and says nothing about the gain: brightening clips.
            clipped = (qf[i] >= WHITE and gain * rf[i] + offset >= qf[i]) or (
                qf[i] <= BLACK and gain * rf[i] + offset <= qf[i]
            )
            if use[i] and gaps[i] <= limit and not (clipped and top > 4.0):
                chosen += 1
                sq += qf[i]
                sr += rf[i]
                sqr += qf[i] * rf[i]
                srr += rf[i] * rf[i]
        if chosen == 0:
            break
        sq, sr = sq / chosen, sr / chosen
        var = srr / chosen - sr * sr
        gain = (sqr / chosen - sq * sr) / var if var > 1e-6 else 1.0
        # A registered picture is never matched by its negative or by a flat copy of it, nor
        # by one brightened past recognition.
        gain = min(max(gain, MIN_GAIN), MAX_GAIN)
        offset = sq - gain * sr
        for i in range(n):
            gaps[i] = abs(qf[i] - _clip(gain * rf[i] + offset))
    return gain, offset


@njit(cache=True, nogil=True, fastmath=_FAST)
def _clip(value: float) -> float:
    return min(max(value, 0.0), 255.0)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _moments(values: np.ndarray, use: np.ndarray) -> tuple[float, float]:
    count, total, squares = 0, 0.0, 0.0
    for i in range(values.size):
        if use[i]:
            count += 1
            total += values[i]
            squares += values[i] * values[i]
    mean = total / count
    return mean, math.sqrt(max(squares / count - mean * mean, 0.0))


@njit(cache=True, nogil=True, fastmath=_FAST)
def _grey_range(levels: np.ndarray, step: float) -> float:
    """The 2nd to 98th percentile range of a descriptor's grey cells, in grey levels."""
    counts = np.zeros(1 << CELL_BITS, np.int64)
    for level in levels:
        counts[level] += 1
    low, high, seen = -1, 0, 0
    for k in range(counts.size):
        seen += counts[k]
        if low < 0 and seen > 0.02 * levels.size:
            low = k
        if seen >= 0.98 * levels.size:
            high = k
            break
    return max((high - low) * step, MIN_RANGE)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _quantile_limit(values: np.ndarray, use: np.ndarray, top: float, share: float) -> float:
    """The smallest histogram edge below which at least `share` of the used values lie."""
    counts = np.zeros(_HIST_BINS + 1, np.int64)
    used = 0
    scale = _HIST_BINS / top
    for i in range(values.size):
        if use[i]:
            used += 1
            counts[int(min(values[i] * scale, _HIST_BINS))] += 1
    needed = share * used
    seen = 0
    for k in range(_HIST_BINS):
        seen += counts[k]
        if seen >= needed:
            return (k + 1) * top / _HIST_BINS
    return math.inf


@njit(cache=True, nogil=True, fastmath=_FAST)
def _agreeing_mean(values: np.ndarray) -> float:
    """Mean of the AGREEING_SHARE smallest values (all in 0..1, clipped), by histogram."""
    counts = np.zeros(_HIST_BINS, np.int64)
    sums = np.zeros(_HIST_BINS, np.float64)
    for v in values:
        v = min(v, 1.0)
        k = min(int(v * _HIST_BINS), _HIST_BINS - 1)
        counts[k] += 1
        sums[k] += v
    wanted = AGREEING_SHARE * values.size
    taken, total = 0.0, 0.0
    for k in range(_HIST_BINS):
        if taken + counts[k] >= wanted:
            if counts[k] > 0:
                total += (wanted - taken) * sums[k] / counts[k]
            return total / wanted
        taken += counts[k]
        total += sums[k]
    return total / max(taken, 1.0)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _neighbourhood(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value of each cell's 3x3 neighbourhood (inside the grid)."""
    rows, cols = a.shape
    row_low, row_high = np.empty((rows, cols)), np.empty((rows, cols))
    for i in range(rows):
        for j in range(cols):
            left, right = a[i, max(j - 1, 0)], a[i, min(j + 1, cols - 1)]
            row_low[i, j] = min(left, a[i, j], right)
            row_high[i, j] = max(left, a[i, j], right)
    low, high = np.empty((rows, cols)), np.empty((rows, cols))
    for i in range(rows):
        above, below = max(i - 1, 0), min(i + 1, rows - 1)
        for j in range(cols):
            low[i, j] = min(row_low[above, j], row_low[i, j], row_low[below, j])
            high[i, j] = max(row_high[above, j], row_high[i, j], row_high[below, j])
    return low, high


@njit(cache=True, nogil=True, fastmath=_FAST)
def _changed(
    a: np.ndarray,
    b_soft: np.ndarray,
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    widen: float,
    limit: float,
) -> np.ndarray:
    """Cells where either picture lies outside the other's widened 3x3 range by over `limit`
    (_disagreements, either way)."""
    added, removed = _disagreements(a, b_soft, ranges, widen, limit)
    return added | removed


@njit(cache=True, nogil=True, fastmath=_FAST)
def _disagreements(
    a: np.ndarray,
    b_soft: np.ndarray,
    ranges: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    widen: float,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The cells where the query shows what the registered picture has not (added), and those
    where only the registered picture shows what the query lacks (removed).

    `a` is the query, `b_soft` the registered picture fitted to it and softened (_soften);
    `ranges` the lowest and highest neighbour of a, then of the unsoftened b (_neighbourhood).
    What the query shows must be in the registered picture; what the registered picture
    shows must be in the query once softened by a cell, since blur, downscaling and
    compression take the finest detail and add none. An overlay adds to the picture; a
    different drawing also leaves out what the work has.
    """
    a_low, a_high, b_low, b_high = ranges
    rows, cols = a.shape
    added = np.zeros((rows, cols), np.bool_)
    removed = np.zeros((rows, cols), np.bool_)
    for i in range(rows):
        for j in range(cols):
            spread = widen * (b_high[i, j] - b_low[i, j]) + limit
            v = a[i, j]
            if v < b_low[i, j] - spread or v > b_high[i, j] + spread:
                added[i, j] = True
                continue
            spread = widen * (a_high[i, j] - a_low[i, j]) + limit
            v = b_soft[i, j]
            removed[i, j] = v < a_low[i, j] - spread or v > a_high[i, j] + spread
    return added, removed


@njit(cache=True, nogil=True, fastmath=_FAST)
def _soften(a: np.ndarray) -> np.ndarray:
    """A [1, 2, 1] / 4 blur along both axes, edges repeated."""
    rows, cols = a.shape
    across = np.empty_like(a)
    for i in range(rows):
        for j in range(cols):
            across[i, j] = (a[i, max(j - 1, 0)] + 2 * a[i, j] + a[i, min(j + 1, cols - 1)]) / 4
    out = np.empty_like(a)
    for i in range(rows):
        above, below = max(i - 1, 0), min(i + 1, rows - 1)
        for j in range(cols):
            out[i, j] = (across[above, j] + 2 * across[i, j] + across[below, j]) / 4
    return out


@njit(cache=True, nogil=True, fastmath=_FAST)
def _flood(changed: np.ndarray, seen: np.ndarray, stack: np.ndarray, top: int) -> int:
    """Mark every changed cell connected to the `top` cells on the stack; how many there were."""
    rows, cols = changed.shape
    found = 0
    while top > 0:
        top -= 1
        i, j = stack[top] // cols, stack[top] % cols
        found += 1
        for k in range(max(i - OVERLAY_REACH, 0), min(i + OVERLAY_REACH + 1, rows)):
            for m in range(max(j - OVERLAY_REACH, 0), min(j + OVERLAY_REACH + 1, cols)):
                if changed[k, m] and not seen[k, m]:
                    seen[k, m] = True
                    stack[top] = k * cols + m
                    top += 1
    return found


@njit(cache=True, nogil=True, fastmath=_FAST)
def _overlay_cells(changed: np.ndarray) -> tuple[int, int, int, np.ndarray]:
    """Changed cells connected to the frame's outer band, the largest blob of the others,
    how many cells deep the edge-connected ones reach into the frame, and the cells left
    over (scattered).

    A watermark or a caption bar touches the edge; a sticker, a line of text or a caption
    band inside the picture is one compact blob. What is left over is scattered. A watermark
    is also shallow, where another picture inset in a corner reaches far in.
    """
    rows, cols = changed.shape
    seen = np.zeros_like(changed)
    stack = np.empty(rows * cols, np.int64)
    top = 0
    for i in range(rows):
        for j in range(cols):
            edge = min(i, j, rows - 1 - i, cols - 1 - j) < OVERLAY_BAND
            if edge and changed[i, j]:
                seen[i, j] = True
                stack[top] = i * cols + j
                top += 1
    at_edge = _flood(changed, seen, stack, top)
    depth = 0
    for i in range(rows):
        for j in range(cols):
            if seen[i, j]:
                depth = max(depth, min(i, j, rows - 1 - i, cols - 1 - j) + 1)
    overlaid = seen.copy()
    largest, seed = 0, -1
    for i in range(rows):
        for j in range(cols):
            if changed[i, j] and not seen[i, j]:
                seen[i, j] = True
                stack[0] = i * cols + j
                size = _flood(changed, seen, stack, 1)
                if size > largest:
                    largest, seed = size, i * cols + j
    if seed >= 0:
        overlaid[seed // cols, seed % cols] = True
        stack[0] = seed
        _flood(changed, overlaid, stack, 1)
    return at_edge, largest, depth, changed & ~overlaid


@njit(cache=True, nogil=True, fastmath=_FAST)
def _predicted_colour(
    colour: np.ndarray, grey: np.ndarray, gain: float, offset: float
) -> np.ndarray:
    """The registered picture's colour after the brightness fit, channels clipped to 0-255.

    Brightening scales every channel and clips each at white, which pales and shifts colours
    (a yellow's red and green clip first): each cell's red, green and blue are rebuilt from
    its fitted grey and colour, clipped, and turned back into opponent colours.
    """
    size = GREY_GRID // COLOUR_GRID
    out = np.empty_like(colour)
    for i in range(COLOUR_GRID):
        for j in range(COLOUR_GRID):
            grey_sum = 0.0
            for k in range(i * size, (i + 1) * size):
                for m in range(j * size, (j + 1) * size):
                    grey_sum += grey[k, m]
            luma = gain * grey_sum / (size * size) + offset
            red_green, yellow_blue = gain * colour[0, i, j], gain * colour[1, i, j]
            # Inverse of luma = .299 R + .587 G + .114 B, R - G, (R + G) / 2 - B.
            green = luma - 0.356 * red_green + 0.114 * yellow_blue
            red = _clip(green + red_green)
            blue = _clip(green + red_green / 2 - yellow_blue)
            green = _clip(green)
            out[0, i, j] = red - green
            out[1, i, j] = (red + green) / 2 - blue
    return out


@njit(cache=True, nogil=True, fastmath=_FAST)
def _saturation(query: np.ndarray, predicted: np.ndarray) -> float:
    """The query's colour as a multiple of the predicted colour (a "vivid" filter), fitted on
    the FIT_SHARE of cells that agree best, within MIN_SATURATION..MAX_SATURATION."""
    q, p = query.ravel(), predicted.ravel()
    use = np.ones(q.size, np.bool_)
    gaps = np.abs(q - p)
    factor = 1.0
    for _ in range(2):
        limit = _quantile_limit(gaps, use, 256.0, FIT_SHARE)
        qp, pp = 0.0, 0.0
        for i in range(q.size):
            if gaps[i] <= limit:
                qp += q[i] * p[i]
                pp += p[i] * p[i]
        factor = qp / pp if pp > 1e-6 else 1.0
        factor = min(max(factor, MIN_SATURATION), MAX_SATURATION)
        for i in range(q.size):
            gaps[i] = abs(q[i] - factor * p[i])
    return factor


@njit(cache=True, nogil=True, fastmath=_FAST)
def _tone_classes(r_levels: np.ndarray, r_colour: np.ndarray, colourless: float) -> np.ndarray:
    """Each registered cell's tone class: its grey band and, when coloured, its hue sector.

    A hue rotation or a colour filter moves the grey of each hue by its own amount (a red
    turned orange gets lighter, a blue turned purple darker): cells of one class move together.
    """
    classes = np.empty(GREY_GRID * GREY_GRID, np.int64)
    size = GREY_GRID // COLOUR_GRID
    for i in range(GREY_GRID):
        for j in range(GREY_GRID):
            band = r_levels[i * GREY_GRID + j] * TONE_BANDS // (1 << CELL_BITS)
            red_green = r_colour[0, i // size, j // size]
            yellow_blue = r_colour[1, i // size, j // size]
            sector = 0
            if math.hypot(red_green, yellow_blue) >= colourless:
                turn = (math.atan2(yellow_blue, red_green) + math.pi) / (2 * math.pi)
                sector = 1 + min(int(turn * HUE_SECTORS), HUE_SECTORS - 1)
            classes[i * GREY_GRID + j] = band * (HUE_SECTORS + 1) + sector
    return classes


@njit(cache=True, nogil=True, fastmath=_FAST)
def _tone_offsets(q: np.ndarray, fitted: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """`fitted` moved, class by class, by the median of the query's difference from it.

    Classes of fewer than MIN_TONE_CELLS cells keep the global fit: a few cells could be
    fitted to anything.
    """
    qf, ff = q.ravel(), fitted.ravel()
    order = np.argsort(classes)
    out = ff.copy()
    start = 0
    n = classes.size
    while start < n:
        end = start
        while end < n and classes[order[end]] == classes[order[start]]:
            end += 1
        if end - start >= MIN_TONE_CELLS:
            gaps = np.empty(end - start, np.float64)
            for k in range(start, end):
                gaps[k - start] = qf[order[k]] - ff[order[k]]
            shift = np.median(gaps)
            for k in range(start, end):
                out[order[k]] = _clip(ff[order[k]] + shift)
        start = end
    return out.reshape(fitted.shape)


@njit(cache=True, nogil=True, fastmath=_FAST)
def _hue_turn(query: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """The predicted colour turned by the hue rotation that fits the query best, within
    MAX_HUE_TURN either way: a filter turns hues a little; red to green is another work."""
    cross, dot = 0.0, 0.0
    for i in range(COLOUR_GRID):
        for j in range(COLOUR_GRID):
            p0, p1 = predicted[0, i, j], predicted[1, i, j]
            q0, q1 = query[0, i, j], query[1, i, j]
            cross += p0 * q1 - p1 * q0
            dot += p0 * q0 + p1 * q1
    angle = min(max(math.atan2(cross, dot), -MAX_HUE_TURN), MAX_HUE_TURN)
    cos, sin = math.cos(angle), math.sin(angle)
    out = np.empty_like(predicted)
    for i in range(COLOUR_GRID):
        for j in range(COLOUR_GRID):
            p0, p1 = predicted[0, i, j], predicted[1, i, j]
            out[0, i, j] = cos * p0 - sin * p1
            out[1, i, j] = sin * p0 + cos * p1
    return out


@njit(cache=True, nogil=True, fastmath=_FAST)
def _ink(
    levels: np.ndarray, grey: np.ndarray, spread: np.ndarray, step: float, limit: float
) -> np.ndarray:
    """Cells holding content: away from the page's grey (the commonest level), or not flat."""
    counts = np.zeros(1 << CELL_BITS, np.int64)
    for level in levels:
        counts[level] += 1
    page = float(np.argmax(counts))
    out = np.empty(grey.shape, np.bool_)
    for i in range(GREY_GRID):
        for j in range(GREY_GRID):
            level = levels[i * GREY_GRID + j]
            out[i, j] = abs(level - page) * step > limit or spread[i, j] > limit
    return out


@njit(cache=True, nogil=True, fastmath=_FAST)
def _compare(
    query: np.ndarray,
    candidate: np.ndarray,
    cell_tolerance: float,
    contrast_tolerance: float,
    colourless: float,
) -> tuple[float, float, float, float, float, float, float, float]:
    """luma, colour, changed, overlay, scattered, ink, edge_depth, removed (see the module's
    description)."""
    q_levels, q, q_step = _grey(query)
    r_levels, r, r_step = _grey(candidate)
    q_scale = float(query[2])
    grey_range = _grey_range(q_levels, q_step)
    r_range = _grey_range(r_levels, r_step)
    q_low, q_high = _neighbourhood(q)
    r_low, r_high = _neighbourhood(r)
    gain, offset = _fit(
        q,
        r,
        q_high - q_low,
        r_high - r_low,
        FLAT * grey_range,
        FLAT * r_range,
    )
    affine = np.empty_like(r)
    for i in range(GREY_GRID):
        for j in range(GREY_GRID):
            affine[i, j] = _clip(gain * r[i, j] + offset)
    r_colour = _colour(candidate)
    fitted = _tone_offsets(q, affine, _tone_classes(r_levels, r_colour, colourless))
    r_low_fit, r_high_fit = _neighbourhood(fitted)
    colour_range = max(grey_range, q_scale)
    has_colour = q_scale >= colourless

    fitted_soft = _soften(fitted)
    added, removed = _disagreements(
        q,
        fitted_soft,
        (q_low, q_high, r_low_fit, r_high_fit),
        contrast_tolerance,
        cell_tolerance * grey_range,
    )
    changed = added | removed
    ink = _ink(q_levels, q, q_high - q_low, q_step, cell_tolerance * grey_range) | _ink(
        r_levels, r, r_high - r_low, r_step, cell_tolerance * r_range
    )
    residual = np.empty(q.size, np.float64)
    q_soft = _soften(q)
    for i in range(GREY_GRID):
        for j in range(GREY_GRID):
            residual[i * GREY_GRID + j] = abs(q_soft[i, j] - fitted_soft[i, j]) / grey_range
    luma = _agreeing_mean(residual)

    colour = 0.0
    if has_colour:
        predicted = _predicted_colour(r_colour, r, gain, offset)
        q_colour = _colour(query)
        predicted = _hue_turn(q_colour, predicted)
        saturation = _saturation(q_colour, predicted)
        climit = cell_tolerance * colour_range
        worst = np.zeros(COLOUR_GRID * COLOUR_GRID, np.float64)
        size = GREY_GRID // COLOUR_GRID
        for c in range(2):
            qc, pc = q_colour[c], saturation * predicted[c]
            ranges = _neighbourhood(qc) + _neighbourhood(pc)
            off = _changed(qc, _soften(pc), ranges, contrast_tolerance, climit)
            for i in range(COLOUR_GRID):
                for j in range(COLOUR_GRID):
                    if off[i, j]:
                        changed[i * size : (i + 1) * size, j * size : (j + 1) * size] = True
                    k = i * COLOUR_GRID + j
                    worst[k] = max(worst[k], abs(qc[i, j] - pc[i, j]) / colour_range)
        colour = _agreeing_mean(worst)

    total = int(changed.sum())
    at_edge, blob, depth, apart = _overlay_cells(changed)
    cells_all = changed.size
    ink_cells = max(int(ink.sum()), MIN_INK * cells_all)
    scattered = (total - at_edge - blob) / ink_cells
    erased = int((apart & removed).sum()) / ink_cells
    return (
        luma,
        colour,
        total / cells_all,
        blob / cells_all,
        scattered,
        ink_cells / cells_all,
        depth / GREY_GRID,
        erased,
    )
