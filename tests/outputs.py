"""Reading the launched app's image outputs in tests."""
from __future__ import annotations

import numpy as np
from PIL import Image

from gradcam_core.render import decode_data_url


def png(value) -> np.ndarray:
    """An image output as an RGB array, checking it is a PNG: a ResultImage's
    ``{"url": "data:image/png;base64,…"}`` or a file path (galleries, downloads)."""
    if isinstance(value, dict) and "url" in value and str(value["url"]).startswith("data:"):
        assert value["url"].startswith("data:image/png;base64,")
        im = decode_data_url(value)
    else:
        im = Image.open(value)
    with im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))
