"""An ImageNet explanation drawn: overlays (on the model's crop or the whole photo), the raw heat
map with its colour bar, the teaching steps and the numbers for the API.  The model never runs
here: :func:`draw` returns a new :class:`gradcam_core.services.imagenet.Explanation` with its drawn
fields set (the service's result is never filled in), and :func:`restyle` draws it again with another
normalisation, colour map or opacity."""
from __future__ import annotations

import dataclasses
from typing import Any, Sequence

import numpy as np
import torch

from gradcam_core.base import inputs
from gradcam_core.base.errors import Refusal
from gradcam_core.cam.postprocess import normalize, upsample
from gradcam_core.present import colourbar, grids, paint
from gradcam_core.present.steps import Step, build_steps
from gradcam_core.present.words import lazy, say

#: Maps with more cells than this are left out of the JSON (a 112×112 map is 12 544 numbers).
JSON_MAX_CELLS = 28 * 28
STEPS_MAX_CHANNELS = 16


def numbers(expl: Any) -> dict:
    """JSON for API users: model, top-5, the explained class(es), weights, the map if small."""
    def one(v) -> dict:
        r = v.result
        h, w = r.cam.shape[-2:]
        d = {
            "target": v.target,
            "target_name": v.name,
            "prob": round(v.prob, 6),
            "score": round(float(r.scores[0]), 6),
            "cam_max": float(r.cam[0].max()),
            "cam_shape": [int(h), int(w)],
            "weights": [round(float(x), 8) for x in r.weights[0]],
            "cam": ([[round(float(x), 6) for x in row] for row in r.cam[0]] if h * w <= JSON_MAX_CELLS else None),
        }
        layout = getattr(r, "layout", "cnn")
        if layout != "cnn":  # a transformer layer (issue 29): what the grid is, and the measured zero share
            d.update(layout=layout, class_token_dropped=bool(getattr(r, "class_token_dropped", False)),
                     zero_grad_share=getattr(r, "zero_grad_share", None))
        return d

    out = {
        "model": expl.model_key,
        "layer": expl.layer,
        "method": expl.method,
        "normalisation": expl.norm,
        "predicted": expl.top5[0][0],
        "predicted_name": expl.top5[0][1],
        "top5": [{"class": i, "name": n, "prob": round(p, 6)} for i, n, p in expl.top5],
        **one(expl.views[0]),
    }
    if len(expl.views) > 1:
        out["second"] = one(expl.views[1])
    if expl.example:
        out["example"] = {k: expl.example.get(k) for k in ("file", "title", "credit", "licence")}
    return out


def _display_heat(cam: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    return upsample(cam, size).numpy()


def _heat_range(heats: Sequence[np.ndarray], norm: str) -> tuple[float, float]:
    hi = max(float(h.max()) for h in heats)
    lo = 0.0 if norm == "max" else min(float(h.min()) for h in heats)
    if hi <= lo:
        hi = lo + 1.0
    return lo, hi


def heatmap_image(expl: Any) -> np.ndarray:
    """The raw map(s), upsampled, in real units with a colour bar; two classes share one scale."""
    H, W_ = expl.image.shape[:2]
    heats = [_display_heat(v.result.cam[0], (H, W_)) for v in expl.views]
    lo, hi = _heat_range(heats, expl.norm)
    tiles = [paint.colorize(h, expl.cmap, lo, hi) for h in heats]
    body = _side_by_side(tiles, [v.name for v in expl.views])
    label = say("imagenet.raw_shared" if len(heats) > 1 else "imagenet.raw_value", method=expl.method)
    return colourbar.with_colorbar(body, lo, hi, cmap=expl.cmap, label=label)


def overlay_images(expl: Any) -> list[np.ndarray]:
    if expl.whole and expl.photo is not None and expl.crop_box is not None:
        return [whole_photo_overlay(expl.photo, expl.crop_box, v.result.cam[0], norm=expl.norm, alpha=expl.alpha,
                                    cmap=expl.cmap) for v in expl.views]
    H, W_ = expl.image.shape[:2]
    out = []
    for v in expl.views:
        heat = normalize(upsample(v.result.cam[0], (H, W_)), expl.norm).numpy()
        out.append(paint.overlay(expl.image, heat, alpha=expl.alpha, cmap=expl.cmap))
    return out


def not_seen_caption() -> str:
    return say("imagenet.not_seen")


#: ``NOT_SEEN_CAPTION``: worded when read, in the reader's language
__getattr__ = lazy(NOT_SEEN_CAPTION=not_seen_caption)


def _mark_unseen(photo: np.ndarray) -> np.ndarray:
    """Dimmed, with light diagonal hatching: how the unseen part of the photo is drawn."""
    out = photo.astype(np.float32) * 0.45
    yy, xx = np.mgrid[0 : photo.shape[0], 0 : photo.shape[1]]
    lines = ((xx + yy) % 12) == 0
    out[lines] = 0.4 * out[lines] + 0.6 * 235.0
    return np.rint(out).astype(np.uint8)


def whole_photo_overlay(photo: np.ndarray, box: tuple[float, float, float, float], cam: Any, *, norm: str = "max",
                        alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """The heat map mapped back through the model's resize and crop onto the whole ``photo``.

    Inside ``box`` (what the model saw, in ``photo``'s pixels) the map is upsampled to the box's
    size and blended as in the crop overlay; outside it the photo is dimmed and hatched, with the
    caption "not seen by the model" underneath (no caption when the model saw all of it)."""
    H, W_ = photo.shape[:2]
    l, t = max(0, int(round(box[0]))), max(0, int(round(box[1])))
    r, b = min(W_, int(round(box[2]))), min(H, int(round(box[3])))
    if r <= l or b <= t:
        raise Refusal("imagenet.crop_outside")
    out = _mark_unseen(photo)
    heat = normalize(upsample(torch.as_tensor(cam, dtype=torch.float32), (b - t, r - l)), norm).numpy()
    out[t:b, l:r] = paint.overlay(photo[t:b, l:r], heat, alpha=alpha, cmap=cmap)
    if (l, t, r, b) == (0, 0, W_, H):
        return out
    return _caption_below(out, not_seen_caption())


def _caption_below(img: np.ndarray, text: str) -> np.ndarray:
    """``img`` with a one-line caption strip underneath (a page's label badge covers the top)."""
    strip = grids.caption_image(np.zeros((1, img.shape[1], 3), np.uint8), text)[:-1]
    return np.concatenate([img, strip], axis=0)


def _side_by_side(tiles: Sequence[np.ndarray], captions: Sequence[str]) -> np.ndarray:
    tiles = [_caption_below(t, c) for t, c in zip(tiles, captions)]
    if len(tiles) == 1:
        return tiles[0]
    gap = np.full((tiles[0].shape[0], 6, 3), 255, np.uint8)
    return np.concatenate([tiles[0], gap, tiles[1]], axis=1)


def overlay_panel(expl: Any) -> np.ndarray:
    """The overlay(s) for the page: one per explained class, side by side, each captioned."""
    overlays = expl.overlays or overlay_images(expl)
    return _side_by_side(overlays, [say("imagenet.view_caption", name=v.name, prob=v.prob) for v in expl.views])


def step_notes(expl: Any, index: int = 0) -> dict[str, Any]:
    """What the steps of class ``index`` add to the method's texts for this model and layer (the
    keywords of ``build_steps``): on a CNN, step 7's note on where a stretched cell really looks; on a
    token grid (issue 29), step 1's vocabulary and class token, step 3's reason for exact zeros, step
    7's note on patches, and, when no patch token reaches the score, why the map is empty (step 6)."""
    from gradcam_core.present import token_texts as tt

    r = expl.views[index].result
    if not tt.is_token_grid(tt.layout_of(r)):
        from gradcam_core.analysis.cell import MEASURED_OFFSETS
        from gradcam_core.present.method_texts import stretched_shift_text

        note = stretched_shift_text(expl.model_title, expl.layer, MEASURED_OFFSETS.get((expl.model_key, expl.layer)))
        return {"notes": {"upsample": note}}
    default = getattr(expl, "default_layer", "") or expl.layer
    return {"notes": {"features": tt.tokens_note(r), "upsample": say("transformer.upsample_note")},
            "zero_gradient_reason": tt.zero_reason(r, default), "empty_reason": tt.empty_note(r, default)}


def _steps(expl) -> dict[str, Step]:
    v = expl.views[0]
    return build_steps(v.result, expl.image, max_channels=STEPS_MAX_CHANNELS, cmap=expl.cmap, norm=expl.norm,
                       alpha=expl.alpha, class_name=v.name, **step_notes(expl))


def draw(expl: Any, steps: bool = True) -> Any:
    """``expl`` drawn: a new Explanation with its overlays, heat map, steps (``steps`` False: the
    ones it has) and numbers; ``expl`` itself is not changed."""
    return dataclasses.replace(expl, overlays=overlay_images(expl), heatmap=heatmap_image(expl),
                               steps=_steps(expl) if steps else expl.steps, numbers=numbers(expl))


def styled(expl: Any, norm: str | None = None, cmap: str | None = None, alpha: float | None = None,
           whole: bool | None = None, keep_steps: bool = False) -> Any:  # an Explanation, not drawn
    """A copy of ``expl`` with another style (parsed as everywhere) and nothing drawn yet
    (``keep_steps``: keep the steps it has). The parts are then drawn one by one, as the page needs
    them: :func:`draw_overlays`, :func:`heatmap_image`, :func:`draw_steps`, :func:`numbers`."""
    return dataclasses.replace(
        expl,
        whole=expl.whole if whole is None else bool(whole),
        norm=inputs.parse_norm(norm if norm is not None else expl.norm),
        cmap=inputs.parse_cmap(cmap if cmap is not None else expl.cmap),
        alpha=inputs.parse_alpha(alpha if alpha is not None else expl.alpha),
        overlays=[], heatmap=None, steps=dict(expl.steps) if keep_steps else {}, numbers={},
    )


def restyle(expl: Any, norm: str | None = None, cmap: str | None = None, alpha: float | None = None,
            steps: bool = True, whole: bool | None = None) -> Any:  # an Explanation, drawn
    """The same explanation drawn anew (the model does not run): a new Explanation.
    ``whole``: draw the overlay on the whole photo (True) or on the model's crop (False)."""
    return draw(styled(expl, norm, cmap, alpha, whole, keep_steps=not steps), steps=steps)


def draw_overlays(expl: Any) -> Any:
    """``expl`` with only its overlays drawn (what a page's answer shows first; the raw map, the
    steps and the numbers are drawn when their part of the page is opened)."""
    return dataclasses.replace(expl, overlays=overlay_images(expl))


def draw_steps(expl: Any) -> Any:
    """``expl`` with only its teaching steps drawn (the same pictures :func:`draw` draws)."""
    return dataclasses.replace(expl, steps=_steps(expl))


#: JPEG settings of a photo overlay sent to the page, (quality, chroma subsampling): on the crop,
#: quality 90 differs from the PNG by a mean of 1.7/255 per channel, invisible on a phone, for ~8× fewer
#: bytes and ~1/10 the encoding time; the whole photo's overlay has a fine hatching (the unseen part),
#: which needs quality 95 without chroma subsampling for the same (1.2/255, still 3× fewer bytes than
#: PNG). BENCHMARKS §17. Flat graphics (steps, raw map, colour bar) stay PNG.
OVERLAY_JPEG = (90, 2)
WHOLE_OVERLAY_JPEG = (95, 0)


def jpeg_data_url(img: Any, whole: bool = False) -> str:
    """``data:image/jpeg;base64,…`` of a photo overlay (``whole``: on the whole photo), for the page only."""
    import base64
    import io

    from gradcam_core.present.codec import to_pil

    quality, subsampling = WHOLE_OVERLAY_JPEG if whole else OVERLAY_JPEG
    buf = io.BytesIO()
    to_pil(img).convert("RGB").save(buf, format="JPEG", quality=quality, subsampling=subsampling)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def comparison_overlays(cmp: Any) -> list[np.ndarray]:
    """Each model's map over the crop it saw, in the comparison's style."""
    return [paint.overlay(p.image, normalize(upsample(p.cam, p.image.shape[:2]), cmp.norm).numpy(), alpha=cmp.alpha,
                           cmap=cmp.cmap) for p in cmp.panels]


def download_images(expl: Any) -> tuple[str, dict[str, np.ndarray]]:
    """The three downloads of the first class: (file stem, {"gray", "heatmap", "overlay"}). The
    grayscale map is the normalised map at the input size (0 → black, 1 → white); the coloured one
    uses the chosen colour map; the overlay the chosen opacity."""
    import re

    def slug(text: str) -> str:
        return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40] or "x"

    v = expl.views[0]
    H, W_ = expl.image.shape[:2]
    heat = normalize(upsample(v.result.cam[0], (H, W_)), expl.norm).numpy()
    stem = f"{slug(expl.model_key)}_{slug(expl.layer)}_{slug(expl.method)}_{v.target}-{slug(v.name)}"
    return stem, {"gray": np.clip(np.rint(heat * 255), 0, 255).astype(np.uint8),
                  "heatmap": paint.colorize(heat, expl.cmap, 0.0, 1.0),
                  "overlay": expl.overlays[0] if expl.overlays else overlay_images(expl)[0]}
