"""Writing simulated scans as scanners do (JPEG, PNG, multi-page TIFF), and checking that a
page's QR code still decodes after what the file will do to it."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import zxingcpp
from PIL import Image


def encode(image: np.ndarray, fmt: str, ops: Sequence[dict], dpi: int) -> bytes:
    """A page as JPEG or PNG bytes (bitonal pages as 1-bit PNG); dpi written in the file."""
    bitonal = any(o["name"] == "bitonal" for o in ops)
    buf = io.BytesIO()
    if fmt == "jpg":
        quality = next((o["quality"] for o in ops if o["name"] == "jpeg"), 95)
        Image.fromarray(image).save(buf, "JPEG", quality=quality, dpi=(dpi, dpi))
    elif fmt == "png":
        pil = Image.fromarray(image > 127).convert("1") if bitonal else Image.fromarray(image)
        pil.save(buf, "PNG", compress_level=1, dpi=(dpi, dpi))
    else:
        raise ValueError(f"encode: use write_tiff for {fmt!r}")
    return buf.getvalue()


def write_tiff(path: Path, images: Sequence[np.ndarray], bitonal: bool, dpi: int,
               jpeg_quality: int | None = None) -> None:
    """A multi-page TIFF: CCITT G4 when bitonal, else JPEG-compressed (or deflate without a
    quality)."""
    opts: dict
    if bitonal:
        pils = [Image.fromarray(im > 127).convert("1") for im in images]
        opts = {"compression": "group4"}
    else:
        pils = [Image.fromarray(im) for im in images]
        opts = ({"compression": "jpeg", "quality": jpeg_quality} if jpeg_quality else
                {"compression": "tiff_adobe_deflate"})
    pils[0].save(path, "TIFF", save_all=True, append_images=pils[1:], dpi=(dpi, dpi), **opts)


def roundtrip_jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf))


def code_decodes(image: np.ndarray, mm_to_px: np.ndarray, code_mm: Sequence[float],
                 payload: str, jpeg_quality: int | None = None) -> bool:
    """Whether zxing-cpp reads `payload` from the code square of a scanned page (looked for
    around where `mm_to_px` puts it, after the JPEG compression the file will get)."""
    x, y, s, _ = code_mm
    pts = np.array([[x, y, 1], [x + s, y, 1], [x + s, y + s, 1], [x, y + s, 1]]) @ mm_to_px.T
    pts = pts[:, :2] / pts[:, 2:]
    pad = max(16, int(0.25 * np.ptp(pts[:, 0])))
    x0 = max(0, (int(pts[:, 0].min()) - pad) // 16 * 16)  # JPEG blocks stay aligned
    y0 = max(0, (int(pts[:, 1].min()) - pad) // 16 * 16)
    crop = image[y0:int(pts[:, 1].max()) + pad, x0:int(pts[:, 0].max()) + pad]
    if jpeg_quality is not None:
        crop = roundtrip_jpeg(np.ascontiguousarray(crop), jpeg_quality)
    if crop.ndim == 3:
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    found = zxingcpp.read_barcodes(crop, formats=zxingcpp.BarcodeFormat.QRCode)
    return any(b.text == payload for b in found)
