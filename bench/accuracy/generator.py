"""A second edit generator, with randomized parameters (docs/matching.md's held-out set).

Independent of bench/accuracy/edits.py: other fonts, shapes, placements and ranges, and every
parameter drawn from a seeded random generator, so that no single framing is tuned for. Each
edit is a function (work on white, rng, other pictures) -> (encoded file, its suffix, the
parameters drawn); the parameters go into the evaluation manifest beside the query.

`other` gives unrelated pictures (never registered) for the collage tiles, the thumbnails
around a screenshot and the backgrounds of a composite.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

Params = dict[str, Any]
Others = Callable[[], Image.Image]
Result = tuple[bytes, str, Params]
Edit = Callable[[Image.Image, np.random.Generator, Others], Result]

# Re-posts start from a web-sized copy of the work.
WEB_SIDE = 1024
FONT_FILES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSerif-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Oblique.ttf",
)
WORDS = (
    "when the weekend finally arrives",
    "me explaining my plans",
    "nobody: absolutely nobody:",
    "this is fine",
    "found this gem today",
    "saved for later",
    "credit to the original artist",
    "look at this",
    "monday mood",
    "rate it 1 to 10",
    "so true lol",
    "best thing i have seen all week",
)

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont


def font(rng: np.random.Generator, size: float) -> FontType:
    available = [path for path in FONT_FILES if Path(path).exists()]
    size = max(8, round(size))
    if not available:
        return ImageFont.load_default(size=size)
    return ImageFont.truetype(available[int(rng.integers(len(available)))], size)


def phrase(rng: np.random.Generator) -> str:
    return str(WORDS[int(rng.integers(len(WORDS)))])


def encode(image: Image.Image, kind: str, quality: int) -> tuple[bytes, str]:
    out = io.BytesIO()
    if kind == "png":
        image.convert("RGB").save(out, "PNG", compress_level=1)
        return out.getvalue(), ".png"
    if kind == "webp":
        image.convert("RGB").save(out, "WEBP", quality=quality)
        return out.getvalue(), ".webp"
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue(), ".jpg"


def jpeg(image: Image.Image, rng: np.random.Generator, params: Params) -> Result:
    quality = int(rng.integers(78, 94))
    data, suffix = encode(image, "jpeg", quality)
    return data, suffix, params | {"quality": quality}


def uniform(rng: np.random.Generator, low: float, high: float, digits: int = 3) -> float:
    return round(float(rng.uniform(low, high)), digits)


def signed(rng: np.random.Generator, low: float, high: float) -> float:
    """A magnitude in [low, high] with a random sign."""
    return uniform(rng, low, high) * (1 if rng.random() < 0.5 else -1)


def resized(image: Image.Image, factor_x: float, factor_y: float | None = None) -> Image.Image:
    factor_y = factor_x if factor_y is None else factor_y
    size = (max(1, round(image.width * factor_x)), max(1, round(image.height * factor_y)))
    return image.resize(size, Image.Resampling.BICUBIC)


def fit(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scaled to fit inside width x height (aspect kept)."""
    factor = min(width / image.width, height / image.height)
    return resized(image, factor)


def cover(image: Image.Image, width: int, height: int) -> Image.Image:
    """Scaled and centre-cropped to fill width x height exactly, as a collage cell does."""
    return ImageOps.fit(image, (max(1, width), max(1, height)), Image.Resampling.BICUBIC)


# -- common edits ------------------------------------------------------------------------------


def reencode(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    return jpeg(image, rng, {})


def resize(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    factor = uniform(rng, 0.35, 0.8)
    return jpeg(resized(image, factor), rng, {"factor": factor})


def thumbnail(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    side = int(rng.integers(150, 321))
    small = fit(image, side, side)
    quality = int(rng.integers(70, 90))
    data, suffix = encode(small, "jpeg", quality)
    return data, suffix, {"side": side, "quality": quality}


def jpeg_low(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    quality = int(rng.integers(30, 56))
    data, suffix = encode(image, "jpeg", quality)
    return data, suffix, {"quality": quality}


def webp(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    quality = int(rng.integers(35, 76))
    data, suffix = encode(image, "webp", quality)
    return data, suffix, {"quality": quality}


def mirror(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    return jpeg(image.transpose(Image.Transpose.FLIP_LEFT_RIGHT), rng, {})


def rotate_90(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    clockwise = bool(rng.random() < 0.5)
    turn = Image.Transpose.ROTATE_270 if clockwise else Image.Transpose.ROTATE_90
    return jpeg(image.transpose(turn), rng, {"clockwise": clockwise})


def brightness(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    factor = 1 + signed(rng, 0.12, 0.3)
    return jpeg(ImageEnhance.Brightness(image).enhance(factor), rng, {"factor": factor})


def grayscale(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    return jpeg(image.convert("L"), rng, {})


def blur(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    radius = uniform(rng, 0.8, 2.5) * max(image.size) / 800
    return jpeg(image.filter(ImageFilter.GaussianBlur(radius)), rng, {"radius": round(radius, 2)})


def watermark(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """A handle in outlined text with a small round logo, in one corner, half transparent."""
    picture = image.convert("RGBA")
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = uniform(rng, 0.035, 0.07) * picture.height
    opacity = int(rng.integers(120, 230))
    handle = f"@{phrase(rng).split()[0]}_{int(rng.integers(100, 999))}"
    face = font(rng, size)
    text_w = draw.textlength(handle, font=face) + size * 1.4
    corner = int(rng.integers(4))
    margin = size * 0.6
    x = margin if corner in (0, 2) else picture.width - text_w - margin
    y = margin if corner in (0, 1) else picture.height - size * 1.4 - margin
    light = bool(rng.random() < 0.5)
    ink, edge = ((255, 255, 255), (0, 0, 0)) if light else ((20, 20, 20), (240, 240, 240))
    draw.ellipse((x, y, x + size, y + size), fill=(*ink, opacity), outline=(*edge, opacity))
    draw.text(
        (x + size * 1.3, y - size * 0.1),
        handle,
        font=face,
        fill=(*ink, opacity),
        stroke_width=max(1, round(size / 14)),
        stroke_fill=(*edge, opacity),
    )
    marked = Image.alpha_composite(picture, layer)
    return jpeg(marked, rng, {"corner": corner, "size": round(size), "opacity": opacity})


def letterbox(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    share = uniform(rng, 0.06, 0.15)
    sideways = bool(rng.random() < 0.3)
    colour = [(0, 0, 0), (255, 255, 255), (24, 24, 28)][int(rng.integers(3))]
    width, height = image.size
    pad_x, pad_y = (round(width * share), 0) if sideways else (0, round(height * share))
    framed = Image.new("RGB", (width + 2 * pad_x, height + 2 * pad_y), colour)
    framed.paste(image, (pad_x, pad_y))
    return jpeg(framed, rng, {"share": share, "sideways": sideways, "colour": colour})


# -- the work inside a bigger picture ---------------------------------------------------------


def screenshot(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """A phone screenshot of a social app's post: bars, avatar, text, other thumbnails."""
    dark = bool(rng.random() < 0.35)
    page_colour = (18, 18, 20) if dark else (255, 255, 255)
    ink = (235, 235, 235) if dark else (25, 25, 25)
    grey = (120, 120, 125)
    width = int(rng.integers(720, 1081))
    height = round(width * uniform(rng, 1.9, 2.2))
    screen = Image.new("RGB", (width, height), page_colour)
    draw = ImageDraw.Draw(screen)
    unit = width / 30
    # Status bar and app bar.
    bar = (250, 36, 80) if rng.random() < 0.5 else (30, 120, 220)
    app_bar = round(unit * 3.2)
    draw.rectangle((0, 0, width, round(unit * 1.4)), fill=(0, 0, 0) if dark else (245, 245, 245))
    draw.text((unit, unit * 0.2), "9:41", font=font(rng, unit * 0.9), fill=ink)
    top = round(unit * 1.4)
    draw.rectangle((0, top, width, top + app_bar), fill=bar)
    draw.text((unit * 3, top + unit * 0.8), "Discover", font=font(rng, unit * 1.3), fill="white")
    y = top + app_bar + round(unit)
    # Author row: avatar disc, name, time.
    avatar = round(unit * 2.6)
    face = other()
    disc = cover(face, avatar, avatar)
    mask = Image.new("L", (avatar, avatar), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, avatar - 1, avatar - 1), fill=255)
    screen.paste(disc, (round(unit), y), mask)
    draw.text((unit * 4.2, y), phrase(rng).title()[:18], font=font(rng, unit * 1.0), fill=ink)
    draw.text((unit * 4.2, y + unit * 1.3), "2h", font=font(rng, unit * 0.8), fill=grey)
    y += avatar + round(unit * 0.8)
    # Caption lines above the picture.
    for _ in range(int(rng.integers(1, 4))):
        draw.text((unit, y), phrase(rng), font=font(rng, unit * 0.95), fill=ink)
        y += round(unit * 1.4)
    # The picture: full width or with margins, never taller than most of the screen.
    margin = round(width * uniform(rng, 0.0, 0.06))
    room_h = round(height * 0.55)
    shown = fit(image, width - 2 * margin, room_h)
    x = (width - shown.width) // 2
    screen.paste(shown, (x, y))
    picture_box = (x, y, x + shown.width, y + shown.height)
    y += shown.height + round(unit * 0.7)
    # Action row and counts.
    for slot in range(4):
        cx = unit * (1.5 + slot * 3)
        draw.ellipse((cx, y, cx + unit * 1.4, y + unit * 1.4), outline=ink, width=2)
    draw.text(
        (width - unit * 8, y),
        f"{int(rng.integers(10, 9999))} likes",
        font=font(rng, unit),
        fill=ink,
    )
    y += round(unit * 2.4)
    # The next posts: a row of other thumbnails, cut by the bottom of the screen.
    thumbs = int(rng.integers(2, 4))
    cell = (width - (thumbs + 1) * round(unit * 0.5)) // thumbs
    for slot in range(thumbs):
        tile = cover(other(), cell, cell)
        screen.paste(tile, (round(unit * 0.5) + slot * (cell + round(unit * 0.5)), y))
    # Navigation bar.
    nav = round(unit * 3)
    draw.rectangle((0, height - nav, width, height), fill=page_colour)
    draw.line((0, height - nav, width, height - nav), fill=grey, width=2)
    kind = "png" if rng.random() < 0.3 else "jpeg"
    quality = int(rng.integers(75, 92))
    data, suffix = encode(screen, kind, quality)
    params = {"width": width, "height": height, "dark": dark, "box": picture_box}
    return data, suffix, params | {"format": kind, "quality": quality}


def collage(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """One tile of a 2x2 collage; cells take the work's aspect, the others are cropped to it."""
    side = int(rng.integers(700, 1201))
    aspect = image.width / image.height
    cell_w = side // 2 if aspect >= 1 else round(side / 2 * aspect)
    cell_h = round(cell_w / aspect)
    gap = int(rng.integers(0, 14))
    sheet = Image.new("RGB", (2 * cell_w + 3 * gap, 2 * cell_h + 3 * gap), (255, 255, 255))
    slot = int(rng.integers(4))
    for cell in range(4):
        tile = resized(image, cell_w / image.width, cell_h / image.height)
        if cell != slot:
            tile = cover(other(), cell_w, cell_h)
        sheet.paste(tile, (gap + (cell % 2) * (cell_w + gap), gap + (cell // 2) * (cell_h + gap)))
    return jpeg(sheet, rng, {"slot": slot, "gap": gap, "cell": [cell_w, cell_h]})


def meme(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    width, height = image.size
    top_share, bottom_share = uniform(rng, 0.1, 0.25), uniform(rng, 0.08, 0.22)
    top, bottom = round(height * top_share), round(height * bottom_share)
    colour, ink = ((255, 255, 255), (0, 0, 0)) if rng.random() < 0.7 else ((0, 0, 0), "white")
    framed = Image.new("RGB", (width, height + top + bottom), colour)
    framed.paste(image, (0, top))
    draw = ImageDraw.Draw(framed)
    for y0, band in ((0, top), (top + height, bottom)):
        text = phrase(rng).upper()
        size = band * 0.45
        face = font(rng, size)
        while draw.textlength(text, font=face) > width * 0.94 and size > 9:
            size *= 0.85
            face = font(rng, size)
        x = (width - draw.textlength(text, font=face)) / 2
        draw.text((x, y0 + (band - size) / 2), text, font=face, fill=ink)
    return jpeg(framed, rng, {"top": top_share, "bottom": bottom_share})


def composite(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """The work pasted at 40-70% of an unrelated picture's size onto it."""
    background = other()
    bg = fit(background, 1024, 1024) if max(background.size) > 1024 else background
    if max(bg.size) < 512:
        bg = resized(bg, 512 / max(bg.size))
    share = uniform(rng, 0.4, 0.7)
    pasted = fit(image, round(bg.width * share), round(bg.height * share))
    x = int(rng.integers(0, bg.width - pasted.width + 1))
    y = int(rng.integers(0, bg.height - pasted.height + 1))
    canvas = bg.copy()
    canvas.paste(pasted, (x, y))
    return jpeg(canvas, rng, {"share": share, "box": [x, y, x + pasted.width, y + pasted.height]})


def crop_centre(share: float) -> Edit:
    """Remove `share` of each dimension, half on each side, the centre off by up to 3%."""

    def edit(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
        width, height = image.size
        keep_w, keep_h = round(width * (1 - share)), round(height * (1 - share))
        jitter_x, jitter_y = signed(rng, 0, 0.03), signed(rng, 0, 0.03)
        left = min(max(0, round((width - keep_w) / 2 + jitter_x * width)), width - keep_w)
        top = min(max(0, round((height - keep_h) / 2 + jitter_y * height)), height - keep_h)
        cropped = image.crop((left, top, left + keep_w, top + keep_h))
        return jpeg(cropped, rng, {"share": share, "offset": [left, top]})

    return edit


def crop_16x9(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """The widest 16:9 window, placed at random along the other axis."""
    width, height = image.size
    if width / height < 16 / 9:
        keep_h = round(width * 9 / 16)
        top = int(rng.integers(0, height - keep_h + 1))
        box = (0, top, width, top + keep_h)
    else:
        keep_w = round(height * 16 / 9)
        left = int(rng.integers(0, width - keep_w + 1))
        box = (left, 0, left + keep_w, height)
    return jpeg(image.crop(box), rng, {"box": list(box)})


def border_asym(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """Uneven borders: one side 8-15%, the others 0-5%."""
    width, height = image.size
    shares = [uniform(rng, 0.0, 0.05) for _ in range(4)]
    shares[int(rng.integers(4))] = uniform(rng, 0.08, 0.15)
    left, top, right, bottom = (
        round(width * shares[0]),
        round(height * shares[1]),
        round(width * shares[2]),
        round(height * shares[3]),
    )
    colour = [(255, 255, 255), (0, 0, 0), (235, 228, 215)][int(rng.integers(3))]
    framed = Image.new("RGB", (width + left + right, height + top + bottom), colour)
    framed.paste(image, (left, top))
    return jpeg(framed, rng, {"shares": shares, "colour": colour})


# -- orientation and geometry ------------------------------------------------------------------


def rotate_small(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    angle = signed(rng, 4, 15)
    expand = bool(rng.random() < 0.5)
    fill = (255, 255, 255) if rng.random() < 0.6 else (0, 0, 0)
    turned = image.rotate(angle, Image.Resampling.BICUBIC, expand=expand, fillcolor=fill)
    return jpeg(turned, rng, {"angle": angle, "expand": expand, "fill": fill})


def rotate_180(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    return jpeg(image.transpose(Image.Transpose.ROTATE_180), rng, {})


def flip_vertical(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    return jpeg(image.transpose(Image.Transpose.FLIP_TOP_BOTTOM), rng, {})


def skew(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    shear = signed(rng, 0.08, 0.3)
    horizontal = bool(rng.random() < 0.6)
    width, height = image.size
    fill = (255, 255, 255)
    if horizontal:
        extra = round(abs(shear) * height)
        size = (width + extra, height)
        offset = -extra if shear > 0 else 0
        matrix: tuple[float, ...] = (1, shear, offset, 0, 1, 0)
    else:
        extra = round(abs(shear) * width)
        size = (width, height + extra)
        offset = -extra if shear > 0 else 0
        matrix = (1, 0, 0, shear, 1, offset)
    sheared = image.transform(
        size, Image.Transform.AFFINE, matrix, Image.Resampling.BICUBIC, fillcolor=fill
    )
    return jpeg(sheared, rng, {"shear": shear, "horizontal": horizontal})


def perspective_coefficients(
    source: list[tuple[float, float]], target: list[tuple[float, float]]
) -> list[float]:
    """Coefficients mapping output (target) points back to input (source) points."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(np.array(rows, float), np.array(source, float).reshape(8))
    return [float(value) for value in solution]


def perspective(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """A keystone: one edge shrunk by 6-16% toward its middle, as a photo of a screen."""
    width, height = image.size
    amount = uniform(rng, 0.06, 0.16)
    edge = int(rng.integers(4))
    dx, dy = width * amount / 2, height * amount / 2
    corners = [(0.0, 0.0), (width, 0.0), (width, height), (0.0, height)]
    if edge == 0:
        target = [(dx, 0.0), (width - dx, 0.0), (width, height), (0.0, height)]
    elif edge == 1:
        target = [(0.0, 0.0), (width, 0.0), (width - dx, height), (dx, height)]
    elif edge == 2:
        target = [(0.0, dy), (width, 0.0), (width, height), (0.0, height - dy)]
    else:
        target = [(0.0, 0.0), (width, dy), (width, height - dy), (0.0, height)]
    coefficients = perspective_coefficients(corners, target)
    warped = image.transform(
        image.size,
        Image.Transform.PERSPECTIVE,
        coefficients,
        Image.Resampling.BICUBIC,
        fillcolor=(255, 255, 255),
    )
    return jpeg(warped, rng, {"amount": amount, "edge": edge})


def aspect(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    change = signed(rng, 0.15, 0.6)
    stretched = (
        resized(image, 1 + change, 1.0) if rng.random() < 0.5 else resized(image, 1.0, 1 + change)
    )
    return jpeg(stretched, rng, {"change": change, "size": list(stretched.size)})


# -- tone and overlays -------------------------------------------------------------------------


def hue(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    degrees = signed(rng, 15, 60)
    hsv = np.asarray(image.convert("HSV")).copy()
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + round(degrees / 360 * 256)) % 256
    turned = Image.fromarray(hsv, "HSV").convert("RGB")
    return jpeg(turned, rng, {"degrees": degrees})


def saturation(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    factor = uniform(rng, 0.3, 0.65) if rng.random() < 0.5 else uniform(rng, 1.35, 1.9)
    return jpeg(ImageEnhance.Color(image).enhance(factor), rng, {"factor": factor})


def contrast(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    factor = uniform(rng, 0.6, 0.8) if rng.random() < 0.5 else uniform(rng, 1.2, 1.5)
    return jpeg(ImageEnhance.Contrast(image).enhance(factor), rng, {"factor": factor})


def gamma(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    value = uniform(rng, 0.55, 0.8) if rng.random() < 0.5 else uniform(rng, 1.25, 1.8)
    table = [round(255 * (level / 255) ** value) for level in range(256)] * 3
    return jpeg(image.point(table), rng, {"gamma": value})


def fade_white(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    share = uniform(rng, 0.25, 0.5)
    faded = Image.blend(image, Image.new("RGB", image.size, (255, 255, 255)), share)
    return jpeg(faded, rng, {"share": share})


def caption_band(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """A semi-transparent band with a caption, inside the picture (not at its edge)."""
    picture = image.convert("RGBA")
    width, height = picture.size
    band = round(height * uniform(rng, 0.08, 0.18))
    top = round(height * uniform(rng, 0.15, 0.75))
    opacity = int(rng.integers(90, 180))
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    shade = (0, 0, 0) if rng.random() < 0.7 else (255, 255, 255)
    draw.rectangle((0, top, width, top + band), fill=(*shade, opacity))
    face = font(rng, band * 0.5)
    text = phrase(rng)
    ink = (255, 255, 255, 255) if shade == (0, 0, 0) else (0, 0, 0, 255)
    draw.text((width * 0.05, top + band * 0.2), text, font=face, fill=ink)
    banded = Image.alpha_composite(picture, layer)
    return jpeg(banded, rng, {"top": top, "band": band, "opacity": opacity})


def text_inside(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """One or two lines of outlined text written across the picture."""
    picture = image.copy()
    draw = ImageDraw.Draw(picture)
    width, height = picture.size
    size = height * uniform(rng, 0.04, 0.08)
    lines = int(rng.integers(1, 3))
    y = height * uniform(rng, 0.1, 0.7)
    colour = [(255, 255, 255), (255, 230, 0), (230, 30, 60)][int(rng.integers(3))]
    for _ in range(lines):
        face = font(rng, size)
        text = phrase(rng)
        x = width * uniform(rng, 0.02, 0.3)
        draw.text(
            (x, y),
            text,
            font=face,
            fill=colour,
            stroke_width=max(1, round(size / 12)),
            stroke_fill=(0, 0, 0),
        )
        y += size * 1.3
    return jpeg(picture, rng, {"lines": lines, "size": round(size)})


def sticker(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """An emoji-like face: a yellow disc with eyes and a smile, 3-10% of the picture's area."""
    picture = image.convert("RGBA")
    width, height = picture.size
    area = uniform(rng, 0.03, 0.1)
    diameter = round(math.sqrt(area * width * height * 4 / math.pi))
    diameter = min(diameter, width, height)
    x = int(rng.integers(0, width - diameter + 1))
    y = int(rng.integers(0, height - diameter + 1))
    disc = Image.new("RGBA", (diameter, diameter), (0, 0, 0, 0))
    draw = ImageDraw.Draw(disc)
    fill = [(255, 204, 51), (255, 150, 180), (120, 200, 255)][int(rng.integers(3))]
    draw.ellipse(
        (0, 0, diameter - 1, diameter - 1),
        fill=(*fill, 255),
        outline=(60, 40, 0, 255),
        width=max(1, diameter // 30),
    )
    eye = diameter * 0.1
    for ex in (0.32, 0.62):
        draw.ellipse(
            (diameter * ex, diameter * 0.3, diameter * ex + eye, diameter * 0.3 + eye * 1.5),
            fill=(40, 30, 20, 255),
        )
    draw.arc(
        (diameter * 0.25, diameter * 0.35, diameter * 0.75, diameter * 0.78),
        20,
        160,
        fill=(40, 30, 20, 255),
        width=max(1, diameter // 18),
    )
    picture.alpha_composite(disc, (x, y))
    return jpeg(picture, rng, {"area": area, "at": [x, y], "diameter": diameter})


def stripes(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    """Translucent parallel stripes across the whole picture."""
    picture = image.convert("RGBA")
    width, height = picture.size
    count = int(rng.integers(3, 9))
    opacity = int(rng.integers(45, 110))
    thickness = max(2, round(min(width, height) * uniform(rng, 0.02, 0.06)))
    diagonal = bool(rng.random() < 0.5)
    colour = [(255, 255, 255), (0, 0, 0), (255, 80, 160)][int(rng.integers(3))]
    layer = Image.new("RGBA", picture.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    span = width + height if diagonal else height
    for number in range(count):
        at = (number + 0.5) * span / count
        if diagonal:
            draw.line((at, 0, at - height, height), fill=(*colour, opacity), width=thickness)
        else:
            draw.line((0, at, width, at), fill=(*colour, opacity), width=thickness)
    striped = Image.alpha_composite(picture, layer)
    return jpeg(striped, rng, {"count": count, "opacity": opacity, "diagonal": diagonal})


def pixelate(image: Image.Image, rng: np.random.Generator, other: Others) -> Result:
    blocks = int(rng.integers(28, 65))
    width, height = image.size
    factor = blocks / max(width, height)
    small = image.resize(
        (max(1, round(width * factor)), max(1, round(height * factor))), Image.Resampling.BOX
    )
    return jpeg(small.resize(image.size, Image.Resampling.NEAREST), rng, {"blocks": blocks})


COMMON: dict[str, Edit] = {
    "reencode": reencode,
    "resize": resize,
    "thumbnail": thumbnail,
    "jpeg_low": jpeg_low,
    "webp": webp,
    "mirror": mirror,
    "rotate_90": rotate_90,
    "brightness": brightness,
    "grayscale": grayscale,
    "blur": blur,
    "watermark": watermark,
    "letterbox": letterbox,
}
HARD: dict[str, Edit] = {
    "screenshot": screenshot,
    "collage_2x2": collage,
    "meme": meme,
    "composite": composite,
    "crop_centre_30": crop_centre(0.30),
    "crop_centre_50": crop_centre(0.50),
    "crop_16x9": crop_16x9,
    "border_asym": border_asym,
    "rotate_small": rotate_small,
    "rotate_180": rotate_180,
    "flip_vertical": flip_vertical,
    "skew": skew,
    "perspective": perspective,
    "aspect": aspect,
    "hue": hue,
    "saturation": saturation,
    "contrast": contrast,
    "gamma": gamma,
    "fade_white": fade_white,
    "caption_band": caption_band,
    "text_inside": text_inside,
    "sticker": sticker,
    "stripes": stripes,
    "pixelate": pixelate,
}
EDITS: dict[str, Edit] = COMMON | HARD

# Recall each edit must reach in the held-out evaluation.
TARGETS: dict[str, float] = (
    {name: 0.99 for name in COMMON} | {name: 0.95 for name in HARD} | {"crop_centre_50": 0.90}
)


def web_copy(image: Image.Image) -> Image.Image:
    """The work as a re-poster finds it: on white, RGB, at most WEB_SIDE a side."""
    if image.mode in ("RGBA", "LA", "PA", "P") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(page, rgba)
    image = image.convert("RGB")
    if max(image.size) > WEB_SIDE:
        image = fit(image, WEB_SIDE, WEB_SIDE)
    return image
