"""``python -m gradcam_core weights list [--verify] | download KEY...``: the pretrained weights files
(``models/weights.py``) and their download (``models/fetch.py``).

It lives at the root, beside the CLI, because it words its output through the catalogue
(``[model.cli]``), which nothing inside ``models`` may import."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gradcam_core.models import weights as W
from gradcam_core.models.fetch import download
from gradcam_core.present.words import say

MIB = 2**20


def _cmd_list(verify: bool) -> int:
    # the registry's ImageNet keys in its order, without importing models (models imports this module)
    print(say("model.cli.folder", folder=str(W.weights_dir()), env=W.WEIGHTS_DIR_ENV))
    for key in [*W.TORCHVISION_MODELS, W.LITE0_KEY]:
        if key in W.TORCHVISION_MODELS:
            found = W.find_weights(key)
            if found:
                p, _ = found
                line = say("model.cli.present", key=key, path=str(p), size_mib=p.stat().st_size / MIB)
                if verify:
                    ok = W.sha256_prefix_ok(p)
                    line += {True: say("model.cli.sha_ok"), False: say("model.cli.sha_mismatch"), None: ""}[ok]
            else:
                names = [W.weights_filename(w) for w in W.candidate_weights(key)]
                line = say("model.cli.missing", key=key, path=str(W.weights_dir() / names[0]))
                if len(names) > 1:
                    line += say("model.cli.also_accepted", names=", ".join(names[1:]))
                line += say("model.cli.command", command=W.download_command(key))
        else:
            p = Path(W.lite0_weights_path())
            if p.is_file():
                line = say("model.cli.bundled", key=key, path=str(p), size_mib=p.stat().st_size / MIB)
            else:
                line = say("model.cli.bundled_missing", key=key, path=str(p))
        print(line)
    return 0


def _cmd_download(keys: list[str]) -> int:
    status = 0
    for key in keys:
        if key not in W.TORCHVISION_MODELS:
            if key == W.LITE0_KEY:
                print(say("model.cli.nothing_to_download", key=key))
                continue
            print(say("model.cli.unknown", key=key, known=", ".join(W.TORCHVISION_MODELS)), file=sys.stderr)
            status = 2
            continue
        found = W.find_weights(key)
        if found and found[1] is W.candidate_weights(key)[0]:
            print(say("model.cli.already", key=key, path=str(found[0])))
            continue
        try:
            dst = download(key)
        except W.WeightsError as e:
            print(say("model.cli.failed", why=e), file=sys.stderr)
            status = 1
            continue
        print(say("model.cli.saved", key=key, path=str(dst), size_mib=dst.stat().st_size / MIB))
    return status


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns its exit code (0 ok, 1 a download failed, 2 an unknown model)."""
    ap = argparse.ArgumentParser(prog=" ".join(W.DOWNLOAD_ARGV[:4]), description=say("model.cli.description"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    p_list = sub.add_parser("list", help=say("model.cli.list_help"))
    p_list.add_argument("--verify", action="store_true", help=say("model.cli.verify_help"))
    p_dl = sub.add_parser("download", help=say("model.cli.download_help"))
    p_dl.add_argument("keys", nargs="+", metavar="KEY", help=", ".join(W.TORCHVISION_MODELS))
    args = ap.parse_args(argv)
    if args.cmd == "list":
        return _cmd_list(args.verify)
    return _cmd_download(args.keys)
