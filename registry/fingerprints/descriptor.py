"""The verification descriptor: a small picture of a variant, 963 bytes.

Hashes find candidates; a comparison of two descriptors decides (registry.matching.rules).
A descriptor holds:

- grey: the variant's brightness on a 32x32 grid, absolute grey levels quantized to 5 bits
  between the picture's darkest and lightest cell (both stored). Absolute levels, not
  standard scores, so that the comparison can fit the query's brightness and contrast to
  the registered picture's instead of trusting statistics an overlay would skew;
- colour: two opponent-colour channels (red - green, yellow - blue) on a 16x16 grid, in grey
  levels, quantized to 5 bits against the largest of them (stored). A grayscale copy has
  none and is compared without them.

Layout: grey low, grey high, colour scale (one byte each), then the grey cells and the two
colour channels, row by row, 5 bits a cell, first bit first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

GREY_GRID = 32
COLOUR_GRID = 16
CELL_BITS = 5
_LEVELS = (1 << CELL_BITS) - 1  # 31 steps between the lowest and the highest grey level
_COLOUR_STEPS = (1 << (CELL_BITS - 1)) - 1  # 15 steps either side of zero

_HEADER = 3
_GREY_CELLS = GREY_GRID * GREY_GRID
_COLOUR_CELLS = 2 * COLOUR_GRID * COLOUR_GRID
GREY_BYTES = _GREY_CELLS * CELL_BITS // 8
COLOUR_BYTES = _COLOUR_CELLS * CELL_BITS // 8
DESCRIPTOR_BYTES = _HEADER + GREY_BYTES + COLOUR_BYTES

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_BIT_WEIGHTS = (1 << np.arange(CELL_BITS - 1, -1, -1)).astype(np.uint8)


@dataclass(frozen=True)
class Descriptor:
    grey: np.ndarray  # float32, GREY_GRID x GREY_GRID, grey levels 0-255
    colour: np.ndarray  # float32, 2 x COLOUR_GRID x COLOUR_GRID, grey levels, signed
    colour_scale: int  # the largest colour value, in grey levels: 0 for a grayscale picture


def describe(image: Image.Image) -> bytes:
    """The descriptor of an image already normalized by decode (RGB, trimmed, working size)."""
    rgb = image if image.mode == "RGB" else image.convert("RGB")  # not a copy of every variant
    cells = np.asarray(rgb.resize((GREY_GRID, GREY_GRID), Image.Resampling.BOX), dtype=np.float32)
    grey = cells @ _LUMA
    low, high = int(np.floor(grey.min())), int(np.ceil(grey.max()))
    grey_levels = np.round((grey - low) * (_LEVELS / max(high - low, 1)))
    colour = _opponent_colour(cells)
    scale = int(min(np.ceil(np.abs(colour).max()), 255))
    colour_levels = np.round(colour * (_COLOUR_STEPS / max(scale, 1))) + _COLOUR_STEPS + 1
    packed = _pack(np.concatenate([grey_levels.ravel(), colour_levels.ravel()]))
    return bytes([low, high, scale]) + packed


def parse(data: bytes) -> Descriptor:
    """Read a descriptor back; the caller has checked its length."""
    raw = np.frombuffer(data, dtype=np.uint8)
    low, high, scale = int(raw[0]), int(raw[1]), int(raw[2])
    levels = _unpack(raw[_HEADER:]).astype(np.float32)
    grey = low + levels[:_GREY_CELLS] * ((high - low) / _LEVELS)
    colour = (levels[_GREY_CELLS:] - (_COLOUR_STEPS + 1)) * (scale / _COLOUR_STEPS)
    return Descriptor(
        grey=grey.reshape(GREY_GRID, GREY_GRID),
        colour=colour.reshape(2, COLOUR_GRID, COLOUR_GRID),
        colour_scale=scale,
    )


def _opponent_colour(cells: np.ndarray) -> np.ndarray:
    """Red - green and yellow - blue, averaged over 2x2 grey cells: colour needs less detail."""
    # GREY_GRID is twice COLOUR_GRID. Four strided slices rather than a mean over two axes
    # of a reshape: the same values (cells are whole grey levels: float32 sums exact in any
    # order, then a division by 4), in half the time.
    coarse = (cells[0::2, 0::2] + cells[0::2, 1::2] + cells[1::2, 0::2] + cells[1::2, 1::2]) / 4
    red, green, blue = coarse[..., 0], coarse[..., 1], coarse[..., 2]
    return np.stack([red - green, (red + green) / 2 - blue])


def _pack(levels: np.ndarray) -> bytes:
    bits = np.unpackbits(levels.astype(np.uint8)[:, None], axis=1)[:, 8 - CELL_BITS :]
    return np.packbits(bits.ravel()).tobytes()


def _unpack(packed: np.ndarray) -> np.ndarray:
    bits = np.unpackbits(packed).reshape(-1, CELL_BITS)
    return bits @ _BIT_WEIGHTS.astype(np.int32)
