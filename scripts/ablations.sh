#!/usr/bin/env bash
# Reproduce the universal-model table: data, encoders, every variant over several seeds, evaluation on
# held-out areas (each step resumes or is skipped when done).
#   ./scripts/ablations.sh [WORK_DIR] [STEPS] [SEEDS] [EVAL_EVERY]
# Defaults: WORK_DIR=out/ablations, STEPS=2400, SEEDS="0 1 2": the shipped checkpoint's recipe (about 47 minutes
# per run of a variant with a backbone on a 2-core CPU; wm takes a few minutes).
# Each seed is evaluated on the held-out areas once its seven runs are done (WORK_DIR/table_sSEED.json), and the
# seeds are pooled at the end (WORK_DIR/seeds.json).
# Several copies may run at once on one WORK_DIR (say one per core, each with OMP_NUM_THREADS=1), once its data and
# encoders exist: each run is taken by one copy (a lock file per run, released when its copy ends), a copy skips
# the runs others hold, and the copy that finds a seed's (or every seed's) runs done evaluates them, once.
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-out/ablations}
STEPS=${2:-2400}
SEEDS=${3:-0 1 2}
EVERY=${4:-400}  # also how often a run saves what a re-run resumes from
AT=${AIRTWIN:-.venv/bin/airtwin}  # the CLI and the interpreter (tests put stand-ins here)
PY=${PYTHON:-.venv/bin/python}
$AT generate --suite mix-train-xl --samples 204800 --shard-size 128 --batch-size 128 --out "$W/train"
$AT generate --suite mix-heldout --samples 2048 --shard-size 128 --batch-size 128 --out "$W/test"
[ -f "$W/enc/encoders.json" ] || $AT pretrain-encoders --data "$W/train" --out "$W/enc" --steps 2000
TAKEN=75  # flock's exit status when another copy holds the lock

all_exist() {  # all_exist PATH...
    local p
    for p in "$@"; do [ -f "$p" ] || return 1; done
}

# up_to_date FILE PATH...: FILE exists and no PATH is newer. Equal modification times count as up to date, as in
# make: file systems with coarse timestamps give them to files written moments apart.
up_to_date() {
    local f=$1 p
    shift
    [ -f "$f" ] || return 1
    for p in "$@"; do [ "$p" -nt "$f" ] && return 1; done
    return 0
}

TABLES=()
for s in $SEEDS; do  # seeds outside: a run stopped part-way leaves whole seeds of the table
    DONE=()
    for v in full fp sp te wl rl wm; do
        R="$W/run_${v}_s$s"
        DONE+=("$R/final/config.json")
        [ -f "$R/final/config.json" ] && continue
        rc=0
        # Inside the lock the run is looked at again: another copy may have finished it since.
        flock -n -E $TAKEN "$R.lock" bash -c '[ -f "$1/final/config.json" ] || exec "${@:2}"' _ "$R" \
            $AT train --data "$W/train" --encoders "$W/enc" --out "$R" --variant "$v" --seed "$s" --steps "$STEPS" \
            --eval-every "$EVERY" || rc=$?
        if [ $rc = $TAKEN ]; then
            echo "ablations: $R is another copy's run; skipped"
        elif [ $rc != 0 ]; then
            exit $rc
        fi
    done
    T="$W/table_s$s.json"
    TABLES+=("$T")
    if all_exist "${DONE[@]}"; then
        exec 8>"$T.lock"
        if flock -n 8; then  # one copy evaluates the seed (the table is written atomically); the others go on
            up_to_date "$T" "${DONE[@]}" || $AT evaluate-model --data "$W/test" \
                --checkpoints "${DONE[@]%/config.json}" --baselines-from "$W/train" --json "$T"
        else
            echo "ablations: another copy evaluates seed $s"
        fi
        exec 8>&-
    fi
done
for t in "${TABLES[@]}"; do
    if [ ! -f "$t" ]; then
        echo "ablations: other copies' runs are not done; the last copy to finish evaluates"
        exit 0
    fi
done
exec 9>"$W/seeds.lock"
flock 9
if up_to_date "$W/seeds.json" "${TABLES[@]}"; then
    echo "ablations: $W/seeds.json is as new as every seed's table; nothing to evaluate"
else
    $PY scripts/ablation_seeds.py "${TABLES[@]}" --out "$W/seeds.json"
fi
