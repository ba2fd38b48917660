#!/usr/bin/env bash
# Runs every benchmark and writes BENCHMARKS.md (date, machine, then each script's tables).
# Run by hand on a quiet machine: numbers taken while other jobs run are not comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-bench.txt
out=BENCHMARKS.md
{
  echo "# Benchmarks"
  echo
  echo "Written by \`bash bench/run_all.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM,"
  echo "Python $(python -c 'import platform; print(platform.python_version())'), torch $(python -c 'import torch; print(torch.__version__)'), gradio $(python -c 'import gradio; print(gradio.__version__)')."
  echo "Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
  echo "## 1. One explanation vs one forward (interleaved pairs, median ratio)"
  echo
  for m in resnet18 resnet50 vgg16 densenet121 lenet; do
    python bench/bench_engine.py --model "$m" --compare --reps "${REPS:-40}"
    echo
  done
  echo "## 2. ImageNet tab: one full response vs one forward"
  echo
  python bench/bench_imagenet.py
  echo
  echo "## 3. Rendering"
  echo
  python bench/bench_render.py
  echo
  echo "## 4. The 'Can I trust it?' panel"
  echo
  python bench/bench_sanity.py
  echo
  echo "## 5. The launched app under load (gradio_client, 127.0.0.1)"
  echo
  echo "Server only: the clients leave the result images on the server, as phones fetch theirs on"
  echo "their own CPUs (every client answers one untimed request first, as opening the page does)."
  echo
  python bench/bench_load.py --endpoint mnist --per-client 4 --soak "${SOAK:-1000}"
  echo
  echo "The same, with clients that also download every image file on these two cores (the MNIST"
  echo "answer's images are inline, so only files such as galleries would be fetched):"
  echo
  python bench/bench_load.py --endpoint mnist --per-client 4 --download
  echo
  echo "ImageNet, with photos that are not shipped examples (examples' results are cached):"
  echo
  python bench/bench_load.py --endpoint imagenet --clients 1,10,30 --per-client 2
  echo
  echo "## 6. Memory with every model loaded"
  echo
  python bench/bench_load.py --all-models
  echo
  echo "## 7. Slow work vs quick work"
  echo
  echo "A plain Grad-CAM on the ImageNet tab, alone and while two other clients keep running a slow job"
  echo "(a fresh server for each kind of slow job; target: at most 2× the unloaded latency):"
  echo
  python bench/bench_slow_quick.py
  echo
  echo "## 8. A phone's first load over a busy Wi-Fi"
  echo
  echo "Chromium at 390×844 with mobile emulation, throttled with CDP Network.emulateNetworkConditions;"
  echo "bytes on the wire until the MNIST tab's first prediction is on screen (targets: ≤ 1.2 MB, ≤ 3 s):"
  echo
  python bench/bench_first_load.py
  echo
  echo "## 9. Memory per visit"
  echo
  echo "At least 100 browser sessions, one after another, each explaining one photo on the ImageNet tab and"
  echo "closing; the server's RSS after the warm-up and at the end (target: ≤ 0.5 MB per closed session):"
  echo
  python bench/bench_visits.py
  echo
  echo "## 10. Score-CAM: the top-k channels by variance vs exact (time and fidelity)"
  echo
  echo "EfficientNet-Lite0's default layer on the shipped example photos, 2 threads (targets: Spearman ρ ≥ 0.9"
  echo "with exact Score-CAM, ≤ 5 s). The exact runs are cached in /tmp and reused by later runs:"
  echo
  python bench/bench_scorecam.py
} > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out"
