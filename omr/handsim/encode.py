"""Image files as scanners write them: JPEG (grey, colour), PNG, TIFF (grey LZW, bitonal G4)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

SUFFIX = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif"}


def encode(image: np.ndarray, kind: str, dpi: int, jpeg_quality: int) -> tuple[bytes, str]:
    """(file bytes, suffix) for a scanned image of `kind` (`scanner.KINDS`)."""
    container = kind.split("-", 1)[0]
    buf = io.BytesIO()
    if image.dtype == bool:  # bitonal: True is black; mode "1" stores white as 1
        img = Image.fromarray(~image).convert("1")
        img.save(buf, "TIFF", compression="group4", dpi=(dpi, dpi))
        return buf.getvalue(), SUFFIX["tiff"]
    img = Image.fromarray(image)
    if container == "jpeg":
        img.save(buf, "JPEG", quality=jpeg_quality, dpi=(dpi, dpi))
    elif container == "png":
        img.save(buf, "PNG", dpi=(dpi, dpi), compress_level=1)
    elif container == "tiff":
        img.save(buf, "TIFF", compression="tiff_lzw", dpi=(dpi, dpi))
    else:
        raise ValueError(f"unknown scan kind {kind!r}")
    return buf.getvalue(), SUFFIX[container]
