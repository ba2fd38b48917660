"""Command line for Grad-CAM Explorer: explain image files or whole folders, batch-wise.

    python -m gradcam_core explain PATH... [--model KEY|lenet] [--layer NAME] [--method NAME]
                                   [--target auto|INT|NAME] [--out DIR] [--batch-size N]
                                   [--norm max|minmax] [--cmap jet] [--alpha 0.5] [--recursive]
                                   [--placement 'receptive field'|stretched] [--threads N] [--no-progress]
    python -m gradcam_core models

For every image NAME the explain command writes into ``--out``:

* ``NAME_map.png``      the map drawn at the model input's size and normalised (grayscale, 0..255):
                        for ``--model lenet`` each cell at the centre of what it sees (LeNet has no
                        padding; ``--placement stretched`` for the usual stretched drawing), for the
                        ImageNet models stretched (bilinear upsampling);
* ``NAME_heatmap.png``  the same map through the colour map;
* ``NAME_overlay.png``  the heat map blended over the image the model saw (its crop);
* ``NAME.json``         top-5 (names, probabilities), target, method, layer, model, the channel
                        weights alpha_k and the raw (un-normalised, layer-resolution) map and its max;

plus one ``predictions.csv`` for the run (one row per input file, with the error for bad files).
Images are preprocessed and explained in batches of ``--batch-size``: one forward and one
backward pass per batch, through the shared engine, with one target per sample.

Exit codes: 0 every image explained; 1 some images failed (each one gets a one-line error on
stderr and a row in the CSV; the others are still explained); 2 usage error (unknown model,
layer, method, target; unavailable model; nothing to explain).  No gradio import here.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from gradcam_core.present import codec, paint, words
from gradcam_core.present.steps import result_numbers
from gradcam_core.base.inputs import parse_alpha, parse_cmap, parse_norm, parse_placement
from gradcam_core.present.words import say, text_of
from gradcam_core.services import batch
from gradcam_core.services.batch import Runner

__all__ = ["main", "build_parser", "IMAGE_EXTENSIONS", "LENET_KEY", "CSV_COLUMNS"]

PROG = "python -m gradcam_core"
LENET_KEY = "lenet"
LENET_LAYER = "relu2"  # the rectified maps, as in the app (see method_texts.LENET_DEFAULT_LAYER)
LENET_LAYERS = ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2"]
#: Files picked up from folders (explicitly named files are always tried, whatever their name).
IMAGE_EXTENSIONS = batch.IMAGE_EXTENSIONS
CSV_NAME = "predictions.csv"
CSV_COLUMNS = ["file", "name", "status", "top1", "top1_name", "top1_prob", "target", "target_name", "cam_max", "error"]
SCORECAM_BATCH = batch.SCORECAM_BATCH  # masked forwards per batch inside Score-CAM (its own meaning of "batch")


class UsageError(Exception):
    """A bad option value; the message lists the valid choices."""


# --------------------------------------------------------------------------- models


Backend = Runner  # what the CLI needs from a model (services.batch)


def _imagenet_backend(key: str) -> Runner:
    try:
        return batch.runner(key)
    except batch.Unavailable as e:
        raise UsageError(say("cli.explain.model_unavailable", key=key, title=e.title, why=e.why)) from None


def _lenet_backend() -> Runner:
    try:
        return batch.runner(LENET_KEY)
    except batch.Unavailable as e:
        raise UsageError(say("cli.explain.lenet_unavailable", reason=e.why)) from None


def _model_keys() -> list[str]:
    return batch.model_keys()


def load_backend(key: str) -> Backend:
    if key == LENET_KEY:
        return _lenet_backend()
    if key not in batch.model_keys():
        raise UsageError(say("cli.explain.unknown_model", key=key, keys=", ".join(_model_keys())))
    return _imagenet_backend(key)


# --------------------------------------------------------------------------- option values


# The one parser of each kind is in gradcam_core.base.inputs (shared with the app's UI and API);
# here its ValueError becomes a UsageError (exit code 2).


def _usage(parse, *args, **kwargs):
    try:
        return parse(*args, **kwargs)
    except ValueError as e:
        raise UsageError(text_of(e)) from None


def resolve_method(name: str) -> str:
    """The METHODS key for a name given loosely ('gradcam++', 'Score-CAM', 'eigencam')."""
    return _usage(batch.method_key, name)


def resolve_layer(backend: Backend, name: str | None) -> str:
    """The registry's layer parser, as in the app's tabs (ImageNet: also the picker's labels)."""
    return _usage(backend.resolve_layer, name)


def resolve_target(backend: Backend, s: str) -> int | None:
    """None for 'auto' (each image's predicted class), else a class index."""
    return _usage(backend.parse_target, s)


def resolve_placement(backend: Backend, value: str | None) -> str:
    """How the map is drawn: LeNet at its cells' receptive-field centres (the default) or stretched;
    the padded ImageNet models always stretched (what their cells see is not centred on a block)."""
    if backend.key == LENET_KEY:
        return _usage(parse_placement, value)
    placement = "stretched" if value in (None, "") else _usage(parse_placement, value)
    if placement != "stretched":
        raise UsageError(say("cli.explain.placement_lenet_only", placement=placement))
    return placement


def _check_cmap(name: str) -> str:
    return _usage(parse_cmap, name)


# --------------------------------------------------------------------------- inputs


def _within(p: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        p.resolve().relative_to(folder)
        return True
    except ValueError:
        return False


OUTPUT_SUFFIXES = ("_map.png", "_heatmap.png", "_overlay.png")


def collect_inputs(paths: Sequence[str], recursive: bool, exclude: Path | None = None) -> tuple[list[Path], int]:
    """Files to explain, in order, without duplicates; and how many folder entries were skipped.

    Named files are always tried (a bad one becomes an error row).  From folders: files with an
    image extension, not hidden; sub-folders only with ``recursive``.  Our own outputs are left
    out: files inside the output folder ``exclude`` when it lies below the scanned folder, or
    files named ``*_map.png``, ``*_heatmap.png``, ``*_overlay.png`` when it *is* that folder.
    """
    out: list[Path] = []
    seen: set[Path] = set()
    skipped = 0

    def add(p: Path) -> None:
        key = p.resolve() if p.exists() else p.absolute()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            same_as_out = exclude is not None and p.resolve() == exclude
            it = p.rglob("*") if recursive else p.iterdir()
            for f in sorted(it, key=lambda q: str(q).casefold()):
                rel_parts = f.relative_to(p).parts
                if any(part.startswith(".") for part in rel_parts) or not f.is_file():
                    continue
                if same_as_out and f.parent.resolve() == exclude and f.name.lower().endswith(OUTPUT_SUFFIXES):
                    skipped += 1
                    continue
                if not same_as_out and _within(f, exclude):
                    continue
                if f.suffix.lower() in IMAGE_EXTENSIONS:
                    add(f)
                else:
                    skipped += 1
        else:
            add(p)  # missing or unreadable files get their error row later
    return out, skipped


def _safe(s: str) -> str:
    s = re.sub(r"[^\w.\-]+", "_", s).strip("._") or "image"
    return s


def output_names(files: Sequence[Path]) -> list[str]:
    """One output base name per file: its stem, made longer only where stems clash.

    Clashing files (``a/cat.jpg``, ``b/cat.jpg``) are named by their path below the folder
    they share (``a__cat``, ``b__cat``); same stem in one folder adds the extension
    (``cat_jpg``, ``cat_png``).  Names are compared case-insensitively (macOS, Windows).
    """
    stems = [_safe(f.stem) for f in files]
    counts = Counter(s.casefold() for s in stems)
    names = list(stems)
    groups: dict[str, list[int]] = {}
    for i, s in enumerate(stems):
        if counts[s.casefold()] > 1:
            groups.setdefault(s.casefold(), []).append(i)
    for idx in groups.values():
        parents = [str(files[i].absolute().parent) for i in idx]
        try:
            common = Path(os.path.commonpath(parents))
        except ValueError:  # different drives: numbered names below
            continue
        longer = []
        for i in idx:
            rel = files[i].absolute().parent.relative_to(common).parts
            longer.append("__".join(_safe(p) for p in rel + (files[i].stem,)))
        dup = Counter(n.casefold() for n in longer)
        for i, n in zip(idx, longer):
            if dup[n.casefold()] > 1 and files[i].suffix:
                n = f"{n}_{_safe(files[i].suffix.lstrip('.'))}"
            names[i] = n
    used: set[str] = set()
    for i, n in enumerate(names):  # last resort: numbered
        base, k = n, 2
        while n.casefold() in used:
            n, k = f"{base}-{k}", k + 1
        used.add(n.casefold())
        names[i] = n
    return names


# --------------------------------------------------------------------------- outputs


def _one_line(e: BaseException) -> str:
    if isinstance(e, batch.NoDigit):
        e = ValueError(say("cli.explain.no_digit", reason=text_of(e.cause)))
    msg = " ".join(text_of(e).split()) or type(e).__name__
    if not batch.is_bad_input(e):
        msg = f"{type(e).__name__}: {msg}"
    return msg


def write_outputs(out: Path, name: str, path: Path, result: Any, i: int, display: np.ndarray, backend: Backend,
                  opts: argparse.Namespace, target_arg: int | None) -> dict:
    """Write the three PNGs and the JSON of sample ``i``; return the JSON dict."""
    from PIL import Image

    heat = backend.heat(result, i, getattr(opts, "placement", "stretched"), opts.norm)
    files = {k: f"{name}_{k}.png" for k in ("map", "heatmap", "overlay")}
    Image.fromarray((heat * 255.0 + 0.5).astype(np.uint8), "L").save(out / files["map"])
    codec.to_pil(paint.colorize(heat, opts.cmap, 0.0, 1.0)).save(out / files["heatmap"])
    codec.to_pil(paint.overlay(display, heat, alpha=opts.alpha, cmap=opts.cmap)).save(out / files["overlay"])

    numbers = result_numbers(result, backend.categories, index=i)
    # Full float32 precision for the numbers a script may recompute (result_numbers rounds them).
    numbers["weights"] = [float(v) for v in result.weights[i]]
    numbers["cam"] = [[float(v) for v in row] for row in result.cam[i]]
    data = {
        "file": str(path),
        "name": name,
        "model": backend.key,
        "model_title": backend.title,
        **numbers,
        "target_requested": "auto" if target_arg is None else target_arg,
        "norm": opts.norm,
        "placement": getattr(opts, "placement", "stretched"),
        "input_size": list(result.input_size),
        "map_size": list(result.cam.shape[-2:]),
        "outputs": {**files, "json": f"{name}.json"},
    }
    # One key per line, each value compact: readable, and the 1000s of weights stay on one line.
    lines = [f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in data.items()]
    text = "{\n" + ",\n".join(lines) + "\n}\n"
    (out / f"{name}.json").write_text(text, encoding="utf-8")
    return data


def _ok_row(path: Path, name: str, data: dict) -> dict:
    top = data["top5"][0]
    return {"file": str(path), "name": name, "status": "ok", "top1": top["class"], "top1_name": top["name"],
            "top1_prob": top["prob"], "target": data["target"], "target_name": data["target_name"],
            "cam_max": data["cam_max"], "error": ""}


def _error_row(path: Path, name: str, msg: str) -> dict:
    return {"file": str(path), "name": name, "status": "error", "top1": "", "top1_name": "", "top1_prob": "",
            "target": "", "target_name": "", "cam_max": "", "error": msg}


# --------------------------------------------------------------------------- commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description=say("cli.help.description"),
        epilog=say("cli.help.epilog"),
    )
    parser.add_argument("--lang", choices=words.languages(), help=say("lang.cli_help"))
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    ex = sub.add_parser(
        "explain",
        help=say("cli.help.explain"),
        description=say("cli.help.explain_description"),
    )
    ex.add_argument("paths", nargs="+", metavar="PATH", help=say("cli.help.paths"))
    ex.add_argument("--model", default=None,
                    help=say("cli.help.model"))
    ex.add_argument("--layer", default=None, help=say("cli.help.layer"))
    ex.add_argument("--method", default="Grad-CAM", help=say("cli.help.method"))
    ex.add_argument("--target", default="auto", help=say("cli.help.target"))
    ex.add_argument("--out", default="gradcam_output", metavar="DIR", help=say("cli.help.out"))
    ex.add_argument("--batch-size", type=int, default=8, metavar="N", help=say("cli.help.batch_size"))
    ex.add_argument("--norm", default="max",
                    help=say("cli.help.norm"))
    ex.add_argument("--cmap", default="jet", help=say("cli.help.cmap"))
    ex.add_argument("--alpha", default=0.5, help=say("cli.help.alpha"))
    ex.add_argument("--placement", default=None, metavar="'receptive field'|stretched",
                    help=say("cli.help.placement"))
    ex.add_argument("--recursive", "-r", action="store_true", help=say("cli.help.recursive"))
    ex.add_argument("--threads", type=int, default=None, metavar="N",
                    help=say("cli.help.threads"))
    ex.add_argument("--no-progress", action="store_true", help=say("cli.help.no_progress"))
    sub.add_parser("models", help=say("cli.help.models"),
                   description=say("cli.help.models_description"))
    # the weights tool parses its own arguments (``weights_cli``): everything after the word is its
    sub.add_parser("weights", help=say("model.cli.description"))
    return parser


def cmd_models(out: Any = None) -> int:
    out = out or sys.stdout
    found = batch.model_rows()
    rows = [(r["key"], r["title"], r["available"], r["status"], r["layers"], r["default_layer"], r["default"])
            for r in found[:-1]]
    lenet = found[-1]
    ok, DEFAULT_WEIGHTS, TRAIN_COMMAND = lenet["available"], lenet["weights"], lenet["train"]
    status = (say("cli.models.weights_file", path=DEFAULT_WEIGHTS) if ok
              else say("cli.models.no_weights", path=DEFAULT_WEIGHTS, command=TRAIN_COMMAND))
    rows.append((LENET_KEY, say("cli.models.lenet_title"), ok, status, LENET_LAYERS, LENET_LAYER, False))
    for key, title, ok, status, layers, dl, is_default in rows:
        mark = say("cli.models.default_mark") if is_default else ""
        print(say("cli.models.row", key=key, state=say("cli.models.available") if ok else say("cli.models.not_available"), title=title, mark=mark), file=out)
        print(say("cli.models.status", what=say("cli.models.source") if ok else say("cli.models.reason"), status=status), file=out)
        print(say("cli.models.layers", layers=', '.join(layers), dl=dl), file=out)
    return 0


def _err(msg: str) -> None:
    print(say("cli.explain.usage_error", prog=PROG, msg=msg), file=sys.stderr)


def cmd_explain(args: argparse.Namespace) -> int:
    try:
        if args.batch_size < 1:
            raise UsageError(say("cli.explain.batch_size_too_small", value=args.batch_size))
        if args.threads is not None and args.threads < 1:
            raise UsageError(say("cli.explain.threads_too_small", value=args.threads))
        args.alpha, args.norm = _usage(parse_alpha, args.alpha), _usage(parse_norm, args.norm)
        _check_cmap(args.cmap)
        method = resolve_method(args.method)  # before loading a model: cheap checks first
        backend = load_backend(args.model or batch.default_key())
        _usage(backend.check_method, method)  # a method the model does not offer, with the reason
        layer = resolve_layer(backend, args.layer)
        target = resolve_target(backend, args.target)
        args.placement = resolve_placement(backend, args.placement)
        out = Path(args.out)
        if out.exists() and not out.is_dir():
            raise UsageError(say("cli.explain.out_not_folder", out=out))
        files, skipped = collect_inputs(args.paths, args.recursive, exclude=out.resolve() if out.exists() else None)
        if not files:
            where = ", ".join(args.paths)
            raise UsageError(say("cli.explain.no_images", where=where)
                             + ("" if args.recursive else say("cli.explain.use_recursive")))
        out.mkdir(parents=True, exist_ok=True)
    except UsageError as e:
        _err(str(e))
        return 2
    return _run(backend, method, layer, target, files, skipped, out, args)


def _run(backend: Backend, method: str, layer: str, target: int | None, files: list[Path], skipped: int,
         out: Path, args: argparse.Namespace) -> int:
    import torch
    from tqdm import tqdm

    cam = backend.cam(method, layer)
    names = output_names(files)
    n_ok = n_bad = 0
    bar = tqdm(total=len(files), desc=f"{method} {backend.key}", unit="img", file=sys.stderr,
               disable=args.no_progress, dynamic_ncols=True)

    def fail(path: Path, msg: str) -> dict:
        nonlocal n_bad
        n_bad += 1
        tqdm.write(say("cli.explain.file_error", path=path, msg=msg), file=sys.stderr)
        return _error_row(path, names[index[path]], msg)

    index = {p: i for i, p in enumerate(files)}
    csv_path = out / CSV_NAME
    with open(csv_path, "w", newline="", encoding="utf-8") as fcsv:
        writer = csv.DictWriter(fcsv, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for start in range(0, len(files), args.batch_size):
            chunk = files[start:start + args.batch_size]
            rows: dict[Path, dict] = {}
            good: list[tuple[Path, object, np.ndarray]] = []
            for p in chunk:
                try:
                    x, display = backend.prepare(p)
                    good.append((p, x, display))
                except Exception as e:  # one bad file never stops the batch
                    rows[p] = fail(p, _one_line(e))
            # One forward + backward for the batch; if that fails, find the culprit one by one.
            groups = [good] if good else []
            while groups:
                group = groups.pop(0)
                try:
                    x = torch.cat([g[1] for g in group])
                    result = cam(x, target=[target] * len(group))
                except Exception as e:
                    if len(group) > 1:
                        groups = [[g] for g in group] + groups
                    else:
                        rows[group[0][0]] = fail(group[0][0], _one_line(e))
                    continue
                for i, (p, _, display) in enumerate(group):
                    try:
                        data = write_outputs(out, names[index[p]], p, result, i, display, backend, args, target)
                        rows[p] = _ok_row(p, names[index[p]], data)
                        n_ok += 1
                    except Exception as e:
                        rows[p] = fail(p, say("cli.explain.write_failed", msg=_one_line(e)))
            for p in chunk:
                writer.writerow(rows[p])
            fcsv.flush()
            bar.update(len(chunk))
    bar.close()
    note = say("cli.explain.skipped", skipped=skipped) if skipped else ""
    print(say("cli.explain.summary", n_ok=n_ok, n_files=len(files), method=method, model=backend.key, layer=layer,
              failed=say("cli.explain.failed", n_bad=n_bad) if n_bad else "", note=note, out=out, csv_path=csv_path))
    return 0 if n_bad == 0 and n_ok > 0 else 1


def _without_lang(argv: list[str]) -> list[str]:
    """``argv`` without a valid ``--lang X`` / ``--lang=X`` (wherever it stands: before or after the
    command); an invalid one stays, for argparse to refuse with the languages it knows."""
    out, skip = [], False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg == "--lang" and i + 1 < len(argv) and words.supported(argv[i + 1]):
            skip = True
            continue
        if arg.startswith("--lang=") and words.supported(arg.split("=", 1)[1]):
            continue
        out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (argparse's own errors and --help included). ``--lang fr``
    (or ``GRADCAM_LANG=fr``) words every message, the help included, in that language."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with words.use_lang(words.lang_from_argv(argv)):
        return _main(_without_lang(argv))


def _main(argv: list[str]) -> int:
    if argv[:1] == ["weights"]:  # the weights tool parses its own arguments, --help included
        from gradcam_core import weights_cli
        try:
            return weights_cli.main(argv[1:])
        except SystemExit as e:  # its own --help (0) or a usage error (2)
            return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help (0) or an argparse usage error (2)
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    if args.command == "models":
        return cmd_models()
    import torch

    threads = torch.get_num_threads()
    try:
        if args.threads:
            torch.set_num_threads(args.threads)
        return cmd_explain(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    finally:  # main() may run inside another program: leave torch as it was
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)
