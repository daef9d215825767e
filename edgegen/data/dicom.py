"""DICOM chest X-rays → display-ready grayscale pixels, and nothing else.

Applies the modality LUT (rescale slope/intercept), then the VOI LUT or window centre/width,
inverts MONOCHROME1 (where high values are dark), and scales 8/12/16-bit data to uint8. Only
pixels leave this module: no tag (patient name, ID, dates, institution) is ever copied out.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgegen.data.transforms import to_uint8


def is_dicom(path: Path) -> bool:
    if path.suffix.lower() in (".dcm", ".dicom"):
        return True
    try:
        with path.open("rb") as f:
            head = f.read(132)
    except OSError:
        return False
    return len(head) == 132 and head[128:132] == b"DICM"


def read_dicom_pixels(path: Path) -> np.ndarray:
    """uint8 [H, W] of the first frame; raises ValueError with a short reason on bad files."""
    import pydicom
    from pydicom.errors import InvalidDicomError
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    try:
        ds = pydicom.dcmread(str(path))
    except InvalidDicomError as exc:
        raise ValueError("not a DICOM file") from exc
    if "PixelData" not in ds:
        raise ValueError("DICOM has no pixel data")
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric not in ("MONOCHROME1", "MONOCHROME2"):
        raise ValueError(f"DICOM is {photometric}, not a grayscale radiograph")
    try:
        pixels = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds for broken pixel data
        raise ValueError(f"unreadable pixel data ({type(exc).__name__})") from exc
    if pixels.ndim == 3:  # multi-frame: the first frame is the radiograph
        pixels = pixels[0]
    values = apply_modality_lut(pixels, ds)
    values = apply_voi_lut(values, ds, index=0) if ("VOILUTSequence" in ds or "WindowCenter" in ds) else values
    gray = to_uint8(np.asarray(values, dtype=np.float64))
    if photometric == "MONOCHROME1":
        gray = 255 - gray
    return gray
