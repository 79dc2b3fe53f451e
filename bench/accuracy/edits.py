"""The re-post edits the accuracy benchmark applies, each a function of (picture, index).

The index varies each edit a little (direction of a rotation, which corner is cropped or
watermarked, bar or ribbon) so that no single framing is tuned for.
"""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont

# Re-posts are web-sized: edits start from the work at most this large.
WEB_SIDE = 1280

Edit = Callable[[Image.Image, int], bytes]


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def webp(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "WEBP", quality=quality)
    return out.getvalue()


def scaled(image: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.LANCZOS)


def watermark(image: Image.Image, index: int) -> Image.Image:
    """A dark text bar across one corner: a horizontal bar or a diagonal ribbon."""
    width, height = image.size
    layer = Image.new("RGBA", image.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    text = "@repost_daily  shared from xhs"
    if index % 2 == 0:
        bar_w, bar_h = round(width * 0.45), max(8, round(height * 0.08))
        corner = index // 2 % 4
        x0 = 0 if corner in (0, 2) else width - bar_w
        y0 = 0 if corner in (0, 1) else height - bar_h
        draw.rectangle((x0, y0, x0 + bar_w, y0 + bar_h), fill=(20, 20, 20, 190))
        font = ImageFont.load_default(size=max(6, bar_h * 0.6))
        draw.text((x0 + bar_h * 0.3, y0 + bar_h * 0.15), text, fill=(255, 255, 255, 255), font=font)
    else:
        reach = round(min(width, height) * 0.30)
        band = max(6, round(min(width, height) * 0.07))
        draw.polygon(
            [(0, reach), (reach, 0), (reach + band, 0), (0, reach + band)], fill=(200, 20, 20, 200)
        )
        font = ImageFont.load_default(size=max(6, band * 0.5))
        label = Image.new("RGBA", (round(reach * 1.3), band), (0, 0, 0, 0))
        ImageDraw.Draw(label).text(
            (band * 0.3, band * 0.2), "SAMPLE @repost", fill="white", font=font
        )
        label = label.rotate(45, expand=True)
        layer.alpha_composite(label, (round(reach * 0.05), round(reach * 0.05)))
        if index // 2 % 2:
            layer = layer.transpose(Image.Transpose.ROTATE_180)
    return Image.alpha_composite(image.convert("RGBA"), layer).convert("RGB")


def letterbox(image: Image.Image, index: int) -> Image.Image:
    """A black border of 10% of the picture: all round, or top and bottom only."""
    width, height = image.size
    pad_x = 0 if index % 2 else round(width * 0.10)
    pad_y = round(height * 0.10)
    framed = Image.new("RGB", (width + 2 * pad_x, height + 2 * pad_y), (0, 0, 0))
    framed.paste(image, (pad_x, pad_y))
    return framed


def centre_crop(image: Image.Image, share: float) -> Image.Image:
    width, height = image.size
    dx, dy = round(width * share / 2), round(height * share / 2)
    return image.crop((dx, dy, width - dx, height - dy))


def corner_crop(image: Image.Image, index: int) -> Image.Image:
    width, height = image.size
    kept_w, kept_h = round(width * 0.8), round(height * 0.8)
    corner = index % 4
    left = 0 if corner in (0, 2) else width - kept_w
    top = 0 if corner in (0, 1) else height - kept_h
    return image.crop((left, top, left + kept_w, top + kept_h))


def rotate_small(image: Image.Image, index: int) -> Image.Image:
    angle = 3 if index % 2 else -3
    fill = (0, 0, 0) if index // 2 % 2 else (255, 255, 255)
    return image.rotate(angle, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=fill)


def repost(image: Image.Image, index: int) -> bytes:
    return jpeg(watermark(scaled(image, 0.6), index), 70)


EDITS: dict[str, Edit] = {
    "reencoded": lambda im, i: jpeg(im, 90),
    "half_size": lambda im, i: jpeg(scaled(im, 0.5), 90),
    "thumbnail_256": lambda im, i: jpeg(scaled(im, 256 / max(im.size)), 85),
    "jpeg_q50": lambda im, i: jpeg(im, 50),
    "webp_q60": lambda im, i: webp(im, 60),
    "mirrored": lambda im, i: jpeg(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)),
    "rotated_90": lambda im, i: jpeg(
        im.transpose(Image.Transpose.ROTATE_90 if i % 2 else Image.Transpose.ROTATE_270)
    ),
    "brightness_25": lambda im, i: jpeg(ImageEnhance.Brightness(im).enhance(1.25)),
    "grayscale": lambda im, i: jpeg(im.convert("L")),
    "blur_2": lambda im, i: jpeg(im.filter(ImageFilter.GaussianBlur(2))),
    "watermark": lambda im, i: jpeg(watermark(im, i)),
    "letterbox_10": lambda im, i: jpeg(letterbox(im, i), 85),
    "repost": repost,
    "crop_centre_10": lambda im, i: jpeg(centre_crop(im, 0.10)),
    "rotated_3": lambda im, i: jpeg(rotate_small(im, i)),
    "crop_corner_20": lambda im, i: jpeg(corner_crop(im, i)),
}

# Recall each edit must reach: the matching benchmark's targets (docs/matching.md).
TARGETS: dict[str, float] = {name: 0.99 for name in EDITS} | {
    "crop_centre_10": 0.95,
    "rotated_3": 0.95,
    "crop_corner_20": 0.90,
}


def web_copy(image: Image.Image) -> Image.Image:
    """The work as a re-poster finds it online: flattened on white, at most WEB_SIDE."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(page, rgba)
    image = image.convert("RGB")
    if max(image.size) > WEB_SIDE:
        image = scaled(image, WEB_SIDE / max(image.size))
    return image
