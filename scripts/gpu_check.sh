#!/usr/bin/env bash
# The one command that checks sngan's CUDA paths, on a bare GPU machine without network, in one call.
#
#   bash scripts/gpu_check.sh --prepare     # where pip works: wheels the GPU machine lacks -> .whl/ (git-ignored)
#   bash scripts/gpu_check.sh               # on the GPU machine (copy the checkout with .whl/ there first)
#   bash scripts/gpu_check.sh --cpu-smoke   # the same install and steps at tiny sizes on the CPU (<= 5 min)
#
# The GPU machine's python is expected to have torch, torchvision, numpy, pillow, scipy, tensorboard and tqdm;
# hydra-core, omegaconf, antlr4-python3-runtime, PyYAML, torch-fidelity and pytest come from .whl/. Everything
# installs offline into a temporary target folder on PYTHONPATH, sngan too (copied from this checkout with its
# configs inside, as the wheel lays it out), and the steps run from a temporary working directory, so the
# checkout's own sngan/ (which has no conf/) can never shadow it. Steps (scripts/gpu_check.py):
#   resume_*    train, SIGTERM half way, rerun: resumes, ends close to the uninterrupted run (max |dG| reported),
#               for speed=default and speed=gpu
#   throughput  G updates/s of the paper's ResNet CIFAR-10 job (hinge, n_dis 5, batch 64, G batch 128,
#               synthetic CIFAR-10 files) for speed=default, speed=gpu and compile mode reduce-overhead
#   compile     graph breaks (0 expected) and recompiles in those compiled runs (TORCH_LOGS)
#   overhead    the same job in the trainer and in a bare loop of the same modules
#   host_syncs  FLOPs, aten ops and host synchronizations per G update (0 syncs expected)
#   gpu_tests   pytest -m gpu
# Output: ${OUT:-gpu_check_out}/gpu_check.json and one log per step; exit 0 only when every step passed.
set -uo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=${PYTHON:-python3}
MODE=gpu
case "${1:-}" in
  --prepare) MODE=prepare ;;
  --cpu-smoke) MODE=cpu-smoke ;;
  "") ;;
  *) echo "gpu_check: unknown argument '$1': use --prepare, --cpu-smoke or nothing (the GPU check)" >&2; exit 2 ;;
esac

if [ "$MODE" = prepare ]; then
  # One version of each, the versions this project is tested with; cp312 manylinux x86_64 or pure Python.
  WHL="$REPO/.whl"
  rm -rf "$WHL" && mkdir -p "$WHL"
  PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
  $PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp "${PLATFORMS[@]}" \
    -d "$WHL" hydra-core==1.3.8 omegaconf==2.3.1 PyYAML==6.0.4 torch-fidelity==0.4.0 \
    pytest==9.2.0 iniconfig==2.3.1 pluggy==1.7.0 packaging==26.4 Pygments==2.21.0 || exit 1
  # antlr4-python3-runtime 4.9.3 (the version hydra 1.3 pins) is published as a source archive only: build it here
  $PY -m pip wheel -q --no-deps -w "$WHL" antlr4-python3-runtime==4.9.3 || exit 1
  SIZE=$(du -sm "$WHL" | cut -f1)
  ls -1 "$WHL"
  echo "gpu_check --prepare: $(ls "$WHL" | wc -l) wheels, ${SIZE} MiB in $WHL"
  [ "$SIZE" -lt 64 ] || { echo "gpu_check: .whl/ is ${SIZE} MiB, over the 64 MiB a device call carries" >&2; exit 1; }
  exit 0
fi

OUT=${OUT:-$REPO/gpu_check_out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sngan-gpu-check.XXXXXX")
SITE="$WORK/site"
mkdir -p "$SITE" "$WORK/cwd"
export PYTHONUNBUFFERED=1 SNGAN_CACHE="$WORK/cache" MPLBACKEND=Agg
T0=$SECONDS

# 1. install: the missing dependencies from .whl/ (offline), then sngan as its wheel lays it out (sngan/conf inside)
if ! (cd "$WORK/cwd" && $PY -c "import hydra, omegaconf, yaml, torch_fidelity, pytest") 2>/dev/null; then
  if ! compgen -G "$REPO/.whl/*.whl" >/dev/null; then
    echo "gpu_check: hydra-core, omegaconf, PyYAML, torch-fidelity or pytest missing and no wheels in .whl/:" \
         "run 'bash scripts/gpu_check.sh --prepare' where pip works and copy .whl/ along" >&2
    exit 2
  fi
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$REPO"/.whl/*.whl || exit 2
fi
cp -r "$REPO/sngan" "$SITE/sngan" && rm -rf "$SITE/sngan/conf" && cp -r "$REPO/conf" "$SITE/sngan/conf"
find "$SITE/sngan" -name __pycache__ -prune -exec rm -rf {} +
export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
echo "gpu_check $MODE: installed in $((SECONDS - T0)) s into $SITE"

if [ "$MODE" = gpu ]; then
  (cd "$WORK/cwd" && $PY -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; \
print('torch', torch.__version__, torch.cuda.get_device_name(0))") || exit 2
fi

# 2. the steps, from a folder that holds no sngan/
cd "$WORK/cwd" && $PY "$REPO/scripts/gpu_check.py" --mode "$MODE" --out "$OUT" --tests "$REPO/tests" \
  --pyproject "$REPO/pyproject.toml"
RC=$?
echo "gpu_check $MODE: $((SECONDS - T0)) s in all, exit $RC; logs and gpu_check.json in $OUT"
rm -rf "$WORK"
exit $RC
