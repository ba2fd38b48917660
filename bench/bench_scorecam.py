"""Score-CAM on a channel subset ("Faster Score-CAM") vs exact Score-CAM: time and fidelity.

For EfficientNet-Lite0's default layer (``_head_act``: 1 280 channels of 7×7) on the shipped
example photos (``examples/manifest.json``), each explained for its predicted class:

1. exact Score-CAM (one masked forward per channel), timed; its activations and masked scores
   are cached in ``--cache`` (default /tmp/gradcam-scorecam-exact) and reused by later runs;
2. for each k in ``--ks``: the top-k map rebuilt from the cached exact scores (the masked score
   of a channel does not depend on which other channels are kept), and its Spearman rank
   correlation with the exact map.  Both maps are compared at the layer's own 7×7 resolution,
   after the ReLU and before any normalisation (Spearman ρ ignores positive scaling anyway);
3. the default ``Score-CAM`` (k = ``SCORE_CAM_MAX_CHANNELS``) run for real on every photo: its
   time, and the largest difference from the rebuilt map (a check of step 2);
4. batch sizes: seconds per masked input for ``--batches``, with contiguous and channels-last
   tensors, on plain forwards of the same 224×224 inputs.

    python bench/bench_scorecam.py                 # 2 threads, every example photo
    python bench/bench_scorecam.py --photos 8 --ks 32,64,96,128

Prints Markdown tables (run_all.sh puts them in BENCHMARKS.md).  The other ImageNet models are
reported as skipped when their trained weights are not installed (random weights would make
the fidelity figures meaningless).
"""
from __future__ import annotations

import argparse
import copy
import hashlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gradcam_core.services import imagenet as svc  # noqa: E402
from gradcam_core.data.examples import load_manifest  # noqa: E402
from gradcam_core.cam.methods import SCORE_CAM_BATCH, ScoreCAM, ScoreCAMExact, top_variance_channels  # noqa: E402
from gradcam_core.models.registry import REGISTRY  # noqa: E402

MODEL = "efficientnet_lite0"


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def _timed_cpu(fn):
    """(wall seconds, CPU seconds of this process summed over its threads, result)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - t, time.process_time() - c, out


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def exact_run(model, layer: str, x: torch.Tensor, entry: dict, cache: Path, batch: int) -> dict:
    """Exact Score-CAM of one photo, from the cache when the same photo, layer and model were run."""
    path = cache / f"{MODEL}__{entry['file'].replace('/', '__')}.pt"
    sha = _sha256(entry["path"])
    if path.is_file():
        data = torch.load(path, weights_only=True)
        if data.get("sha256") == sha and data.get("layer") == layer and not torch.isnan(data["scores"]).any():
            data["how"] = "cached"
            return data
    seconds, r = _timed(lambda: ScoreCAMExact(model, layer, batch_size=batch)(x))
    data = {"file": entry["file"], "sha256": sha, "layer": layer, "target": int(r.targets[0]),
            "activations": r.activations, "scores": r.extras["masked_scores"], "weighted": r.weighted,
            "seconds": seconds, "batch": batch}
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(data, path)
    data["how"] = "measured"
    return data


def subset_map(activations: torch.Tensor, scores: torch.Tensor, k: int, keep=None) -> torch.Tensor:
    """The top-k Score-CAM map (after ReLU) rebuilt from exact masked scores; (h, w).  ``keep``:
    other channels instead of the top-k by variance (the random baseline)."""
    keep = top_variance_channels(activations, k)[0] if keep is None else keep
    w = torch.zeros(activations.shape[1])
    w[keep] = torch.softmax(scores[0, keep], dim=0)
    return torch.relu(torch.einsum("k,khw->hw", w, activations[0]))


def random_rho(ex: dict, exact_cam: torch.Tensor, k: int, draws: int = 5) -> float:
    """Baseline: k channels drawn at random (seeded), same softmax; mean ρ over the draws."""
    g = torch.Generator().manual_seed(k)
    channels = ex["activations"].shape[1]
    vals = [rho(subset_map(ex["activations"], ex["scores"], k, torch.randperm(channels, generator=g)[:k]), exact_cam)
            for _ in range(draws)]
    return float(np.nanmean(vals))


def rho(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().numpy(), b.flatten().numpy()
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(spearmanr(a, b).statistic)


def batch_table(model, x: torch.Tensor, sizes: list[int], reps: int) -> list[dict]:
    """Seconds per masked input at each batch size, contiguous vs channels-last.  The same
    number of inputs (the largest batch size) at every size; the configurations take turns
    within each repetition, so a shared machine's drift hits them all alike."""
    cl_model = copy.deepcopy(model).to(memory_format=torch.channels_last)
    n = max(sizes)
    inputs = x * torch.rand(n, 1, *x.shape[-2:])
    configs = [(b, name) for b in sizes for name in ("contiguous", "channels_last")]
    times: dict = {c: [] for c in configs}

    def run(b, name):
        m = model if name == "contiguous" else cl_model
        with torch.inference_mode():
            for s in range(0, n, b):
                t = inputs[s : s + b]
                m(t if name == "contiguous" else t.contiguous(memory_format=torch.channels_last))

    with torch.inference_mode():  # warm-up: one batch of each kind
        for b, name in configs:
            m = model if name == "contiguous" else cl_model
            t = inputs[:b]
            m(t if name == "contiguous" else t.contiguous(memory_format=torch.channels_last))
    for _ in range(reps):
        for c in configs:
            times[c].append(_timed(lambda: run(*c))[0] / n)
    return [{"batch": b, **{name: statistics.median(times[(b, name)]) for name in ("contiguous", "channels_last")}}
            for b in sizes]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2, help="torch threads (2 = this machine's cores)")
    ap.add_argument("--photos", type=int, default=0, help="use the first N example photos (0 = all)")
    ap.add_argument("--ks", default="16,32,48,64,96,128,192,256", help="channel subsets to score")
    ap.add_argument("--batches", default="8,16,32,64,128", help="batch sizes to time")
    ap.add_argument("--reps", type=int, default=2, help="repetitions per batch size (median)")
    ap.add_argument("--cache", default=os.environ.get("GRADCAM_SCORECAM_CACHE", "/tmp/gradcam-scorecam-exact"),
                    help="folder for the exact runs' activations and scores")
    ap.add_argument("--cached-only", action="store_true", help="only the photos whose exact run is cached")
    ap.add_argument("--time-photos", type=int, default=0,
                    help="time the default Score-CAM on the first N photos only (0 = all)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    ks = [int(k) for k in args.ks.split(",")]
    sizes = [int(b) for b in args.batches.split(",")]

    spec = REGISTRY[MODEL]
    if not spec.available:
        print(f"{spec.title} is not available here ({spec.reason}); nothing to measure.")
        return 0
    model = svc._load(spec)
    layer = spec.default_layer
    entries = load_manifest()
    if args.cached_only:
        cache = Path(args.cache)
        entries = [e for e in entries if (cache / f"{MODEL}__{e['file'].replace('/', '__')}.pt").is_file()]
    if args.photos:
        entries = entries[: args.photos]

    rows = []
    default = ScoreCAM(model, layer)
    for j, e in enumerate(entries):
        print(f"… {e['file']}", file=sys.stderr, flush=True)
        x = spec.preprocess(svc.load_photo(e["path"]))
        ex = exact_run(model, layer, x, e, Path(args.cache), SCORE_CAM_BATCH)
        timed = not args.time_photos or j < args.time_photos
        if j == 0:
            default(x)  # warm-up
        seconds, cpu, r = _timed_cpu(lambda: default(x)) if timed else (float("nan"), float("nan"), None)
        exact_cam = torch.relu(ex["weighted"][0])
        rebuilt = subset_map(ex["activations"], ex["scores"], default.max_channels)
        rows.append({
            "file": e["file"], "target": ex["target"], "exact_s": ex["seconds"], "exact_how": ex["how"],
            "default_s": seconds, "default_cpu": cpu, "rho": {k: rho(subset_map(ex["activations"], ex["scores"], k), exact_cam) for k in ks},
            "random": {k: random_rho(ex, exact_cam, k) for k in ks if k < ex["activations"].shape[1]},
            "mean_map": rho(ex["activations"][0].mean(dim=0), exact_cam),
            "check": float((r.cam[0] - rebuilt).abs().max() / rebuilt.abs().max().clamp_min(1e-12)) if r else float("nan"),
            "same_target": r is None or int(r.targets[0]) == ex["target"],
            "channels": int(ex["activations"].shape[1]),
        })
    x0 = spec.preprocess(svc.load_photo(entries[0]["path"]))
    table = batch_table(model, x0, sizes, args.reps)

    cats = svc.categories()
    channels = rows[0]["channels"]
    k0 = default.max_channels
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
          f"{args.threads} threads; {spec.title}, layer {layer} ({channels} channels of "
          f"{'×'.join(map(str, spec.layer(layer).size))}); {len(rows)} example photos, predicted class; "
          f"masked inputs in batches of {SCORE_CAM_BATCH}; load average at the end "
          f"{' '.join(f'{v:.1f}' for v in os.getloadavg())}.\n")
    print("Spearman ρ between the top-k map and the exact map (7×7, after ReLU, before normalisation), "
          "from the exact runs' own masked scores:\n")
    print("| k | forwards vs exact | mean ρ | min ρ | photos with ρ ≥ 0.9 | baseline: k random channels, mean ρ |")
    print("|---:|---:|---:|---:|---:|---:|")
    stats = {}
    for k in ks:
        vals = [r["rho"][k] for r in rows]
        ok = [v for v in vals if not np.isnan(v)]
        stats[k] = (statistics.mean(ok), min(ok))
        rnd = [r["random"][k] for r in rows if k in r["random"]]
        rnd_text = f"{statistics.mean(rnd):.3f}" if rnd else "—"
        print(f"| {k}{' (default)' if k == k0 else ''} | {k / channels:.1%} | {stats[k][0]:.3f} | "
              f"{stats[k][1]:.3f} | {sum(v >= 0.9 for v in ok)}/{len(vals)} | {rnd_text} |")
    mm = [r["mean_map"] for r in rows]
    print(f"\nBaseline with no weights at all (the mean of the {channels} maps): mean ρ {np.nanmean(mm):.3f}, "
          f"min {np.nanmin(mm):.3f}.")
    pick = next((k for k in ks if stats[k][1] >= 0.95), None)
    print(f"Smallest k whose lowest ρ on these photos is ≥ 0.95 (the 0.9 target with a margin for photos "
          f"not in this set): {pick}.")
    print(f"\nPer photo, default k = {k0} of {channels}:\n")
    print("| photo | class | exact | default | default, CPU s ÷ threads | speed-up | ρ (k = default) | "
          "default vs rebuilt |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['file']} | {cats[r['target']]} | {r['exact_s']:.1f} s ({r['exact_how']}) | "
              f"{r['default_s']:.2f} s | {r['default_cpu'] / args.threads:.2f} s | "
              f"{r['exact_s'] / r['default_s']:.0f}× | {r['rho'][k0]:.3f} | "
              f"{r['check']:.1e}{'' if r['same_target'] else ' (other class!)'} |")
    ex_mean = statistics.mean(r["exact_s"] for r in rows if not np.isnan(r["default_s"]))
    de = [r["default_s"] for r in rows if not np.isnan(r["default_s"])]
    dc = [r["default_cpu"] / args.threads for r in rows if not np.isnan(r["default_s"])]
    rk = [r["rho"][k0] for r in rows]
    print(f"\n**Default Score-CAM (k = {k0}): median {statistics.median(de):.2f} s, max {max(de):.2f} s "
          f"(CPU seconds ÷ {args.threads} threads: median {statistics.median(dc):.2f} s); "
          f"exact on the same photos: mean {ex_mean:.1f} s; speed-up {ex_mean / statistics.median(de):.0f}×; "
          f"ρ mean {statistics.mean(rk):.3f}, min {min(rk):.3f}.**")
    used = next((t for t in table if t["batch"] == SCORE_CAM_BATCH), table[0])
    print(f"Forwards: {k0} instead of {channels} ({channels / k0:.1f}× fewer); one masked forward at batch "
          f"{used['batch']}: {used['contiguous'] * 1e3:.1f} ms, so {k0} of them ≈ {k0 * used['contiguous']:.2f} s "
          f"and {channels} ≈ {channels * used['contiguous']:.1f} s.")
    print("\nBatch size (plain forwards of masked 224×224 inputs; seconds per input, median of "
          f"{args.reps}):\n")
    print("| batch | contiguous | channels-last |")
    print("|---:|---:|---:|")
    for t in table:
        print(f"| {t['batch']}{' (used)' if t['batch'] == SCORE_CAM_BATCH else ''} | "
              f"{t['contiguous'] * 1e3:.1f} ms | {t['channels_last'] * 1e3:.1f} ms |")
    skipped = [f"{s.title} ({s.reason})" for k, s in REGISTRY.items() if k != MODEL and not s.available]
    if skipped:
        print("\nNot measured (no trained weights installed): " + "; ".join(skipped) + ".")
    return 0


if __name__ == "__main__":
    sys.exit(main())
