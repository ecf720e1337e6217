#!/usr/bin/env bash
# The paper's comparison grids published in docs/results, as one resumable job list shared by one-thread workers.
#
#   scripts/comparison_grid.sh list                     # every job: minutes it takes, run folder, options
#   scripts/comparison_grid.sh work DEADLINE [WORKER]   # run jobs until none is left that ends before DEADLINE
#   scripts/comparison_grid.sh status                   # jobs with a saved record, per grid
#
# DEADLINE: anything `date -d` reads ("2026-12-08 02:20"). Start one worker per core, a few seconds apart: they
# walk the same list, and a job another worker holds is refused by its run lock and skipped. A worker starts a job
# only if its estimated minutes end before DEADLINE, so workers stop between jobs and nothing half-done is lost.
# A job that was stopped anyway resumes from its last checkpoint when a worker meets it again.
#
# Every run trains with the sngan of one commit (GRID_COMMIT, checked out into $GRID_CODE), so that changes on main
# cannot reach a grid half-way through. A finished run's records (run.yaml, scalars, metrics, spectra, its last
# sample grid; not its checkpoints) are copied to docs/results/<grid>/runs/<job>, which `sngan report` reads like a
# run folder; a job whose records are there is done. The metrics' classifiers are kept in docs/results/classifiers
# and put back into the cache, so that every run of a grid is measured with the same classifier.
set -euo pipefail

GRID_COMMIT=${GRID_COMMIT:-adef289}
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=$(realpath -m "${RUNS:-/work/runs}")
GRID_CODE=$(realpath -m "${GRID_CODE:-/work/grid_code}")
PYTHON=${PYTHON:-$REPO/.venv/bin/python}
RECORDS=$(realpath -m "${RECORDS:-$REPO/docs/results}")
CACHE=${SNGAN_CACHE:-$HOME/.cache/sngan}
GRID_JOBS=${GRID_JOBS:-}  # a file of job lines to run instead of the list below (same format as `list`)

# Fashion-MNIST: the preset's options spelled out (conf/experiment/fashion_mnist_comparison.yaml).
FM="dataset=fashion_mnist arch=dcgan arch.g_ch=128 arch.d_ch=16 train.steps=4000 metrics.every.fidelity=1000 metrics.every.classes=1000 train.progress=false"
# digits: the proxy grid of docs/results/README.md, sigma(W_bar) every 10 updates for Fig. 9.
DIG="dataset=digits arch=dcgan arch.g_ch=64 arch.d_ch=16 arch.init=paper ema.enabled=false train.steps=1000 metrics.every.sigma=100 metrics.every.sigma_normalized=10 metrics.every.fidelity=500 metrics.num_samples=5000 train.progress=false"

loss_of() { case $1:$2 in gp:*) echo wgan ;; *:fm) echo hinge ;; *) echo bce ;; esac; }

# minutes a Fashion-MNIST run takes on one thread beside another (measured: 11 min at default, 27-32 at D with n_dis 5;
# gp's penalty doubles them, 17-20 and about 64 min)
fm_minutes() { case $1:$2 in default:gp) echo 22 ;; default:*) echo 14 ;; D:gp) echo 66 ;; *) echo 34 ;; esac; }

# digits (measured at D: 3.5-4.6 min with n_dis 5, 1.3-1.7 with n_dis 1), gp's penalty counted twice
digits_minutes() { local m; case $1 in B|C) m=2 ;; *) m=5 ;; esac; [ "$2" = gp ] && m=$((2 * m)); echo $m; }

jobs() {  # minutes  grid/job-folder  options; in the order workers take them
    local s n k
    if [ -n "$GRID_JOBS" ]; then cat "$GRID_JOBS"; return; fi
    # App. C.3 (Fig. 11): WN and SN at setting D's lr and betas with n_dis 1, 5 (= the digits grid's D cells), 20
    for k in 0 1 2; do for n in sn wn; do
        echo "$(digits_minutes D $n) digits/D/$n-s$k $DIG setting=D norm=$n loss=bce seed=$k"
        echo "2 c3/ndis1/$n-s$k $DIG setting=D optim.n_dis=1 norm=$n loss=bce seed=$k"
        echo "16 c3/ndis20/$n-s$k $DIG setting=D optim.n_dis=20 norm=$n loss=bce seed=$k"
    done; done
    for s in D default; do for k in 0 1 2; do for n in sn none wc wn gp ln ortho; do
        echo "$(fm_minutes $s $n) fashion_mnist/$s/$n-s$k $FM setting=$s norm=$n loss=$(loss_of $n fm) seed=$k"
    done; done; done
    for s in A B C D E F; do for k in 0 1 2; do for n in sn gp wc wn; do
        [ $s = D ] && { [ $n = sn ] || [ $n = wn ]; } && continue
        echo "$(digits_minutes $s $n) digits/$s/$n-s$k $DIG setting=$s norm=$n loss=$(loss_of $n dig) seed=$k"
    done; done; done
}

record_dir() { echo "$RECORDS/${1%%/*}/runs/${1#*/}"; }  # fashion_mnist/D/sn-s0 -> .../fashion_mnist/runs/D/sn-s0
saved() { [ -f "$1/scalars.jsonl" ]; }  # a record folder is whole once it is in place (saved through a temp folder)

save_record() {  # copy a finished run's records next to the results; done only if it reached train.steps
    local run=$1 dest=$2 tmp=$2.tmp.$$ last  # a temp folder of its own: two workers can meet at a finished job
    "$PYTHON" - "$run" <<'EOF' || return 1
import sys
from sngan.commands.report.reader import find_runs
run, = find_runs([sys.argv[1]])
sys.exit(0 if run.finished else 1)
EOF
    rm -rf "$tmp" && mkdir -p "$tmp/samples" || return 1
    cp "$run"/run.yaml "$run"/scalars.jsonl "$tmp/" || return 1
    for f in metrics.jsonl spectra.jsonl; do  # absent where the run measured nothing
        [ ! -f "$run/$f" ] || cp "$run/$f" "$tmp/" || return 1
    done
    last=$(ls "$run"/samples/step_*.png 2>/dev/null | sort -V | tail -1)
    [ -z "$last" ] || cp "$last" "$tmp/samples/" || return 1
    ! saved "$dest" || { rm -rf "$tmp"; return 0; }  # the other worker saved it first
    rm -rf "$dest" && mv -T "$tmp" "$dest" || { rm -rf "$tmp"; return 1; }
}

pin_classifiers() {  # one metrics classifier per dataset for the whole grid, across sessions and machines: the first
    # one trained is kept with the records and put back into the cache (retrained, it can differ: thread count, CPU)
    local f
    mkdir -p "$RECORDS/classifiers" "$CACHE/classifiers"
    for f in "$RECORDS"/classifiers/*.pt; do
        [ -e "$f" ] && ! cmp -s "$f" "$CACHE/classifiers/${f##*/}" || continue
        cp "$f" "$CACHE/classifiers/.${f##*/}.$$" && mv "$CACHE/classifiers/.${f##*/}.$$" "$CACHE/classifiers/${f##*/}"
    done
    for f in "$CACHE"/classifiers/*.pt; do
        [ -e "$f" ] && [ ! -e "$RECORDS/classifiers/${f##*/}" ] && cp "$f" "$RECORDS/classifiers/"
    done
    return 0
}

ensure_code() {
    if [ ! -d "$GRID_CODE" ]; then
        git -C "$REPO" worktree prune
        git -C "$REPO" worktree add --detach "$GRID_CODE" "$GRID_COMMIT" >/dev/null
        ln -s ../conf "$GRID_CODE/sngan/conf"  # where the wheel ships the configs
    fi
    [ "$(git -C "$GRID_CODE" rev-parse --short=7 HEAD)" = "${GRID_COMMIT:0:7}" ] \
        || { echo "$GRID_CODE is not at $GRID_COMMIT: remove it or set GRID_CODE" >&2; exit 2; }
}

work() {
    local deadline worker minutes job opts dest rc log
    deadline=$(date -d "$1" +%s) || { echo "DEADLINE: give a date, e.g. '$(date -d '+2 hours' '+%F %H:%M')'" >&2; exit 2; }
    worker=${2:-0}
    ensure_code
    mkdir -p "$RUNS"
    pin_classifiers
    while read -r minutes job opts; do
        dest=$(record_dir "$job")
        saved "$dest" && continue
        [ $(( $(date +%s) + minutes * 60 )) -le "$deadline" ] || continue
        echo "[$(date +%T) w$worker] $job"
        rc=0 log=$RUNS/${job//\//_}.w$worker.log
        # shellcheck disable=SC2086
        # from inside $GRID_CODE: `python -m` puts the working folder first on sys.path, and a checkout of sngan
        # there (without the wheel's sngan/conf) would be imported instead of the grid's commit
        (cd "$GRID_CODE" && OMP_NUM_THREADS=1 PYTHONPATH=$GRID_CODE exec "$PYTHON" -m sngan.cli train $opts \
            "hydra.run.dir=$RUNS/$job") > "$log" 2>&1 || rc=$?
        if [ $rc = 0 ] && PYTHONPATH=$GRID_CODE save_record "$RUNS/$job" "$dest"; then
            echo "[$(date +%T) w$worker] $job saved"
        else
            echo "[$(date +%T) w$worker] $job: exit $rc ($(tail -1 "$log"))"
        fi
        pin_classifiers
    done < <(jobs)
    echo "[$(date +%T) w$worker] no job left that ends before $1"
}

main() {
    case ${1:-} in
        list) jobs ;;
        work) [ $# -ge 2 ] || { echo "usage: $0 work DEADLINE [WORKER]" >&2; exit 2; }; work "$2" "${3:-0}" ;;
        status) jobs | while read -r _ job _; do saved "$(record_dir "$job")" && echo "done ${job%/*}" || echo "todo ${job%/*}"; done | sort | uniq -c ;;
        *) echo "usage: $0 list | work DEADLINE [WORKER] | status" >&2; exit 2 ;;
    esac
}

# on one line: bash reads a script as it runs it, so an edit to this file cannot reach a worker after main returns
main "$@"; exit $?
