"""The former one-file renderer, now split by job; this module only re-exports the public names so
that code written against ``present.render`` keeps working while other branches merge. New code
imports the module that does the job:

- ``present.paint``: palette, colour maps, ``colorize``, ``enlarge``, ``overlay``
- ``present.glyphs``: the text atlas that draws labels into arrays
- ``present.ticks``: ``format_number`` and the ticks (``matplotlib.ticker``)
- ``present.colourbar``: ``colorbar``, ``with_colorbar``
- ``present.grids``: ``map_grid``, ``number_grid``, ``caption_image``
- ``present.barchart``: ``bar_chart``
- ``present.codec``: ``to_pil``, ``png_bytes``, ``png_data_url``, ``decode_data_url``
"""
from __future__ import annotations

from gradcam_core.present.barchart import bar_chart
from gradcam_core.present.codec import decode_data_url, png_bytes, png_data_url, to_pil
from gradcam_core.present.colourbar import colorbar, with_colorbar
from gradcam_core.present.grids import caption_image, map_grid, number_grid
from gradcam_core.present.paint import (
    NAN_COLOR, NEG_COLOR, POS_COLOR, TEXT, colorize, colorize_signed, enlarge, overlay,
)
from gradcam_core.present.ticks import format_number

__all__ = [
    "colorize", "colorize_signed", "enlarge", "overlay", "colorbar", "with_colorbar", "map_grid",
    "bar_chart", "number_grid", "caption_image", "to_pil", "png_bytes", "png_data_url",
    "decode_data_url", "format_number", "NAN_COLOR", "POS_COLOR", "NEG_COLOR", "TEXT",
]
