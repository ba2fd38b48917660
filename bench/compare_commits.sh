#!/usr/bin/env bash
# Before/after on one machine, in one run: the same benchmarks from an older commit and from this
# checkout, alternating, so that both sides see the same machine (these 2-core boxes are noisy, and
# figures from different days are not comparable). Each side runs its own copy of the bench scripts.
#
#   bash bench/compare_commits.sh 9864ba3            # 2 rounds: render, ImageNet response, app load
#   ROUNDS=3 bash bench/compare_commits.sh 9864ba3
set -euo pipefail
cd "$(dirname "$0")/.."
ref=${1:?usage: bench/compare_commits.sh <older commit>}
old=$(mktemp -d /tmp/gradcam-compare-XXXX)
git worktree add -q --detach "$old/tree" "$ref"
trap 'git worktree remove --force "$old/tree"; rm -rf "$old"' EXIT
for round in $(seq "${ROUNDS:-2}"); do
  for side in "$ref" HEAD; do
    dir=$PWD; [ "$side" = HEAD ] || dir=$old/tree
    echo "=== round $round · $side ($(git rev-parse --short "$side"))"
    (cd "$dir" && python bench/bench_imagenet.py --no-score-cam 2>&1 | grep -E "^\| EfficientNet")
    (cd "$dir" && python bench/bench_render.py --reps 50 2>&1 | grep -E "^(LeNet|ResNet) ")
    (cd "$dir" && python bench/bench_load.py --endpoint mnist --clients 1,10 --per-client 6 --soak 0 2>&1 \
       | grep -E "^cold|^\| +(1|10) \|")
    (cd "$dir" && python bench/bench_load.py --endpoint imagenet --clients 10 --per-client 5 --soak 0 2>&1 \
       | grep -E "^cold|^\| +10 \|")
  done
done
