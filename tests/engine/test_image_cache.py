"""engine._image_cache: shapes from file headers, files checked without decoding.

Training used to decode every labelled image once for its data check and again for
the list of frame shapes, before its first step: two or three passes over a project
larger than the cache. The shapes now come from the headers and the check reads the
files' structure; a truncated or corrupt file is still named, with what to do.
"""

from __future__ import annotations

import struct
import zlib
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from posekit.engine import _image_cache
from posekit.engine._image_cache import ImageList, frame_shapes
from posekit.engine.io.dlc import LabelError


@pytest.fixture
def decodes(monkeypatch) -> Counter:
    """Count the images decoded (by file name)."""
    counts: Counter = Counter()
    decode = _image_cache._decode

    def counted(path):
        counts[Path(path).name] += 1
        return decode(path)

    monkeypatch.setattr(_image_cache, "_decode", counted)
    return counts


def write_png(path: Path, h: int = 24, w: int = 32, seed: int = 0) -> Path:
    img = np.random.default_rng(seed).integers(0, 255, (h, w, 3), np.uint8)
    assert cv2.imwrite(str(path), img)
    return path


def png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + n]))
        pos += 12 + n
    return out


def png_bytes(chunks) -> bytes:
    out = b"\x89PNG\r\n\x1a\n"
    for kind, data, *crc in chunks:
        check = crc[0] if crc else zlib.crc32(kind + data)
        out += struct.pack(">I", len(data)) + kind + data + struct.pack(">I", check)
    return out


def test_shapes_come_from_headers_without_decoding(tmp_path, decodes) -> None:
    paths = [write_png(tmp_path / "a.png", 24, 32)]
    # grey and RGBA files decode to RGB, as OpenCV reads them
    Image.fromarray(np.zeros((10, 12), np.uint8)).save(tmp_path / "grey.png")
    Image.fromarray(np.zeros((10, 12, 4), np.uint8)).save(tmp_path / "rgba.png")
    Image.fromarray(np.zeros((16, 20, 3), np.uint8)).save(tmp_path / "c.jpg")
    # EXIF orientation 6 (rotated 90°): OpenCV turns the image, so does the shape
    exif = Image.Exif()
    exif[0x0112] = 6
    for suffix in ("jpg", "png"):
        Image.fromarray(np.zeros((8, 14, 3), np.uint8)).save(
            tmp_path / f"turned.{suffix}", exif=exif
        )
    names = ["grey.png", "rgba.png", "c.jpg", "turned.jpg", "turned.png"]
    paths += [tmp_path / n for n in names]
    images = ImageList(paths, cache_bytes=0)
    shapes = images.shapes
    assert images.shape(0) == (24, 32, 3)
    assert (
        shapes
        == [(24, 32, 3), (10, 12, 3), (10, 12, 3), (16, 20, 3)] + [(14, 8, 3)] * 2
    )
    assert images.reads == 0 and not decodes
    assert frame_shapes(images) == shapes
    assert frame_shapes(images.take([3, 0])) == [shapes[3], shapes[0]]
    assert [img.shape for img in images] == shapes  # what decoding gives
    assert frame_shapes([np.zeros((5, 6, 3))]) == [(5, 6, 3)]


def test_check_reads_no_pixels_and_runs_once_per_file(
    tmp_path, decodes, monkeypatch
) -> None:
    paths = [write_png(tmp_path / f"img{k}.png", seed=k) for k in range(6)]
    images = ImageList(paths, cache_bytes=0)
    headers = Counter()
    header = _image_cache._header

    def counted(path, verify):
        headers[path.name, verify] += 1
        return header(path, verify)

    monkeypatch.setattr(_image_cache, "_header", counted)
    images.check()
    assert not decodes and images.reads == 0
    assert set(headers.values()) == {1} and len(headers) == 6
    # the views share what was checked: nothing read again
    images.take([4, 1]).check()
    images[2:].check()
    assert images.shapes == [(24, 32, 3)] * 6
    assert sum(headers.values()) == 6 and not decodes


@pytest.mark.parametrize("damage", ["truncated", "header only", "bit flip", "garbage"])
def test_check_names_a_truncated_or_corrupt_file(tmp_path, decodes, damage) -> None:
    paths = [write_png(tmp_path / f"img{k}.png", seed=k) for k in range(4)]
    data = paths[2].read_bytes()
    if damage == "truncated":
        data = data[: len(data) * 2 // 3]
    elif damage == "header only":
        data = data[:60]
    elif damage == "bit flip":
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0xFF
        data = bytes(flipped)
    else:
        data = b"\x89PNG not really"
    paths[2].write_bytes(data)
    images = ImageList(paths, error=LabelError)
    with pytest.raises(LabelError) as info:
        images.check()
    message = str(info.value)
    assert str(paths[2]) in message and "truncated or corrupt" in message
    assert "extract_frames" in message and "create-training-dataset" in message
    assert "more" not in message
    # only the suspect file was decoded (to confirm it); the others not at all
    assert dict(decodes) == {"img2.png": 1}


def test_check_names_every_bad_file(tmp_path) -> None:
    paths = [write_png(tmp_path / f"img{k}.png", seed=k) for k in range(9)]
    for p in paths[1:7]:
        p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(LabelError) as info:
        ImageList(paths, error=LabelError).check()
    first, others = str(info.value).split("Also unreadable: ")
    assert str(paths[1]) in first and "extract_frames" in first
    assert others == f"{paths[2]}, {paths[3]}, {paths[4]} and 2 more."


def test_a_file_only_pil_refuses_is_decoded_and_kept(tmp_path, decodes) -> None:
    """A bad checksum on an ancillary chunk: PIL refuses, OpenCV reads it (as before)."""
    path = write_png(tmp_path / "img.png")
    chunks = png_chunks(path.read_bytes())
    text = (b"tEXt", b"Comment\x00hello", 1234)  # wrong checksum
    path.write_bytes(png_bytes([chunks[0], text, *chunks[1:]]))
    images = ImageList([path])
    images.check()
    assert images.shapes == [(24, 32, 3)] and dict(decodes) == {"img.png": 1}
    assert images[0].shape == (24, 32, 3) and images.reads == 1  # kept in the cache


def test_a_file_that_only_fails_to_decode_is_named_when_used(tmp_path) -> None:
    """Compressed data damaged under a correct checksum: found at first use."""
    path = write_png(tmp_path / "img.png")
    chunks = []
    for kind, data in png_chunks(path.read_bytes()):
        if kind == b"IDAT":
            broken = bytearray(data)
            broken[len(data) // 2] ^= 0xFF
            broken[len(data) // 2 + 1] ^= 0x55
            data = bytes(broken)
        chunks.append((kind, data))
    path.write_bytes(png_bytes(chunks))
    images = ImageList([path], error=LabelError)
    images.check()  # the structure is whole
    with pytest.raises(LabelError, match=r"img\.png is missing or unreadable.*"):
        images[0]
    with pytest.raises(LabelError, match="extract_frames"):
        list(images)
