#!/usr/bin/env bash
# Reproduce the universal-model table: data, encoders, every variant, evaluation on held-out areas.
#   ./scripts/ablations.sh [WORK_DIR] [STEPS]
# Defaults: WORK_DIR=out/ablations, STEPS=300 (about 6 minutes per variant on a 2-core CPU).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-out/ablations}
STEPS=${2:-300}
AT=.venv/bin/airtwin
$AT generate --suite procedural-train --samples 4096 --out "$W/train"
$AT generate --suite procedural-heldout --samples 1024 --out "$W/test"
[ -f "$W/enc/encoders.json" ] || $AT pretrain-encoders --data "$W/train" --out "$W/enc" --steps 800
CKPTS=()
for v in full fp sp te wl rl wm; do
    $AT train --data "$W/train" --encoders "$W/enc" --out "$W/run_$v" --variant "$v" --steps "$STEPS" --eval-every 100
    CKPTS+=("$W/run_$v/final")
done
$AT evaluate-model --data "$W/test" --checkpoints "${CKPTS[@]}" --baselines-from "$W/train" --json "$W/table.json"
