#!/usr/bin/env bash
# Reproduce the universal-model table: data, encoders, every variant over several seeds, evaluation on
# held-out areas (each step resumes or is skipped when done).
#   ./scripts/ablations.sh [WORK_DIR] [STEPS] [SEEDS] [EVAL_EVERY]
# Defaults: WORK_DIR=out/ablations, STEPS=2400, SEEDS="0 1 2": the shipped checkpoint's recipe (about 47 minutes
# per run of a variant with a backbone on a 2-core CPU; wm takes a few minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-out/ablations}
STEPS=${2:-2400}
SEEDS=${3:-0 1 2}
EVERY=${4:-400}  # also how often a run saves what a re-run resumes from
AT=.venv/bin/airtwin
$AT generate --suite mix-train-xl --samples 204800 --shard-size 128 --batch-size 128 --out "$W/train"
$AT generate --suite mix-heldout --samples 2048 --shard-size 128 --batch-size 128 --out "$W/test"
[ -f "$W/enc/encoders.json" ] || $AT pretrain-encoders --data "$W/train" --out "$W/enc" --steps 2000
CKPTS=()
for s in $SEEDS; do  # seeds outside: a run stopped part-way leaves whole seeds of the table
    for v in full fp sp te wl rl wm; do
        [ -f "$W/run_${v}_s$s/final/config.json" ] || $AT train --data "$W/train" --encoders "$W/enc" \
            --out "$W/run_${v}_s$s" --variant "$v" --seed "$s" --steps "$STEPS" --eval-every "$EVERY"
        CKPTS+=("$W/run_${v}_s$s/final")
    done
done
$AT evaluate-model --data "$W/test" --checkpoints "${CKPTS[@]}" --baselines-from "$W/train" --json "$W/table.json"
.venv/bin/python scripts/ablation_seeds.py "$W/table.json" --out "$W/seeds.json"
