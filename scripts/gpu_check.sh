#!/usr/bin/env bash
# One command that checks sngan's CUDA paths on one GPU, offline, in under 10 minutes:
#   bash scripts/gpu_check.sh [OUT_DIR]
# 1. the gpu-marked tests (a CUDA run resumed; a G update under torch.cuda.set_sync_debug_mode("error"))
# 2. train on CUDA, stop, rerun the same command: it must resume
# 3. sngan bench --throughput for resnet:cifar10 (synthetic CIFAR-10 files), each speed option alone and all on
# 4. a compiled run with TORCH_LOGS=graph_breaks,recompiles: counts of both
# 5. sngan eval and sngan sample on CUDA from the run of step 2
# 6. sngan bench --overhead on CUDA: trainer / bare loop, SN / no norm
# and prints a table. Missing Python packages can come as wheels in .whl/ (hydra-core, omegaconf,
# antlr4-python3-runtime, torch-fidelity, pytest and its needs); sngan itself runs from this checkout.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 SNGAN_CACHE="$OUT/cache"

if ! $PY -c "import hydra, omegaconf, torch_fidelity, pytest" 2>/dev/null; then
  if compgen -G ".whl/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --target /tmp/sngan-site .whl/*.whl || exit 2
    export PYTHONPATH="/tmp/sngan-site${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "gpu_check: hydra-core, omegaconf, torch-fidelity or pytest missing and no wheels in .whl/" >&2
    exit 2
  fi
fi
if ! $PY -c "import sngan.conf" 2>/dev/null; then  # not installed: this checkout, conf/ as sngan.conf
  rm -rf /tmp/sngan-src && mkdir -p /tmp/sngan-src && cp -r sngan /tmp/sngan-src/ && cp -r conf /tmp/sngan-src/sngan/conf
  export PYTHONPATH="/tmp/sngan-src${PYTHONPATH:+:$PYTHONPATH}"
fi
$PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print('torch', torch.__version__, torch.cuda.get_device_name(0))" || exit 2
SNGAN="$PY -m sngan.cli"
ROWS=()
check() {  # check NAME COMMAND...: run it, log to OUT/NAME.log, record status and seconds
  local name=$1; shift
  local t0=$SECONDS
  "$@" >"$OUT/$name.log" 2>&1
  local rc=$?
  ROWS+=("$(printf '%-22s %-6s %5ss' "$name" "$([ $rc -eq 0 ] && echo ok || echo FAIL:$rc)" $((SECONDS - t0)))")
  return $rc
}

check gpu_tests $PY -m pytest -q -m gpu -p no:cacheprovider tests
RUN="$OUT/run"
TRAIN=(train dataset=digits device=cuda train.progress=false hydra.run.dir="$RUN" metrics.num_samples=2000
       metrics.kid_subset_size=500 train.ckpt_every=100 train.log_every=50)
check train_200 $SNGAN "${TRAIN[@]}" train.steps=200
check resume_to_300 $SNGAN "${TRAIN[@]}" train.steps=300  # the same run folder: resumes at step 200
grep -q "resumed from .*ckpt_000000200.pt" "$OUT/resume_to_300.log" && ROWS+=("$(printf '%-22s %-6s' resumed_at_200 ok)") \
  || ROWS+=("$(printf '%-22s %-6s' resumed_at_200 FAIL)")
check throughput $SNGAN bench --throughput --pairs resnet:cifar10 --device cuda --steps 30 --warmup 10 \
  --options bf16,compile,channels_last,tf32,data_on_device=false --json "$OUT/throughput.json"
export TORCH_LOGS="graph_breaks,recompiles"
check compiled_run $SNGAN train dataset=digits arch=resnet device=cuda speed.compile=true train.steps=30 \
  train.progress=false metrics.enabled=false hydra.run.dir="$OUT/compiled"
unset TORCH_LOGS
BREAKS=$(grep -ci "graph break" "$OUT/compiled_run.log")
RECOMPILES=$(grep -ci "recompil" "$OUT/compiled_run.log")
check eval_cuda $SNGAN eval ckpt="$RUN" device=cuda metrics.num_samples=2000 metrics.kid_subset_size=500
check sample_cuda $SNGAN sample ckpt="$RUN" device=cuda n=64 out="$OUT/samples.png"
check overhead $SNGAN bench --overhead --device cuda --steps 100 --warmup 20 --d-steps 50 --json "$OUT/overhead.json"

echo
echo "== sngan gpu_check ($(date -u +%F)) =="
printf '%s\n' "${ROWS[@]}"
echo "compiled run: $BREAKS graph-break lines, $RECOMPILES recompile lines (TORCH_LOGS; $OUT/compiled_run.log)"
grep -E "^(arch|resnet)" "$OUT/throughput.log" 2>/dev/null
tail -2 "$OUT/overhead.log" 2>/dev/null
tail -1 "$OUT/eval_cuda.log" 2>/dev/null | cut -c1-300
echo "logs: $OUT"
