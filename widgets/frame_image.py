"""A labelled frame's image file as a data URL for a Bokeh ``ImageURL`` glyph.

The labeller sends each frame to the browser as one compressed data URL (never raw
RGBA pixels): JPEG by default, a lossless PNG re-encode, or the file's own bytes.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import cv2
import numpy as np

from ._bokeh import encode_image, file_to_data_url, image_to_data_url

__all__ = ["IMAGE_FORMATS", "image_file_data_url", "placeholder_data_url"]

#: How a frame can be sent: re-encoded as JPEG or PNG, or the file as it is.
IMAGE_FORMATS = ("jpeg", "png", "original")


def _png_size(path: Path) -> tuple[int, int] | None:
    """``(W, H)`` from a PNG header, or ``None`` if ``path`` is not a PNG."""
    with open(path, "rb") as fh:
        head = fh.read(24)
    if head[:8] == b"\x89PNG\r\n\x1a\n" and head[12:16] == b"IHDR":
        return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    return None


def image_file_data_url(
    path: str | os.PathLike, image_format: str = "jpeg", *, quality: int = 90
) -> tuple[str, tuple[int, int]] | None:
    """Read an image file as a data URL and its size ``(W, H)``.

    Parameters
    ----------
    path
        The image file.
    image_format
        One of :data:`IMAGE_FORMATS`. ``"original"`` sends a PNG's bytes as they are
        (other files are re-encoded as JPEG).
    quality
        JPEG quality.

    Returns
    -------
    tuple of (str, (int, int)) or None
        ``None`` when the file is missing or unreadable.

    Raises
    ------
    ValueError
        If ``image_format`` is not one of :data:`IMAGE_FORMATS`.
    """
    if image_format not in IMAGE_FORMATS:
        raise ValueError(
            f"image_format must be one of {IMAGE_FORMATS}; received {image_format!r}"
        )
    path = Path(path)
    if not path.is_file():
        return None
    if image_format == "original":
        size = _png_size(path)
        if size is not None:
            return file_to_data_url(path), size
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    h, w = bgr.shape[:2]
    fmt = "png" if image_format == "png" else "jpeg"
    data = encode_image(bgr, fmt, quality=quality, bgr=True)
    return f"data:image/{fmt};base64,{base64.b64encode(data).decode()}", (w, h)


def placeholder_data_url(width: int, height: int, text: str = "image missing") -> str:
    """Make a dark grey ``width`` × ``height`` JPEG with ``text``, as a data URL.

    Examples
    --------
    >>> placeholder_data_url(64, 48)[:23]
    'data:image/jpeg;base64,'
    """
    image = np.full((height, width, 3), 60, np.uint8)
    cv2.putText(
        image,
        text,
        (10, height // 2),
        cv2.FONT_HERSHEY_SIMPLEX,
        max(0.5, width / 640),
        (220, 220, 220),
        1,
        cv2.LINE_AA,
    )
    return image_to_data_url(image, "jpeg")
