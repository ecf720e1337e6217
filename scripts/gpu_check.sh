#!/usr/bin/env bash
# The one command that checks sngan's CUDA paths, on a bare GPU machine without network, in one call.
#
#   bash scripts/gpu_check.sh --prepare     # where pip works: the wheels the GPU machine lacks, for its Python
#                                           # (3.12; --python-version X.Y for another) -> .whl/, and the same
#                                           # packages for this machine's Python -> .whl-local/ (both git-ignored)
#   bash scripts/gpu_check.sh               # on the GPU machine (copy the checkout with .whl/ there first)
#   bash scripts/gpu_check.sh --cpu-smoke   # the same install and steps at tiny sizes on the CPU (<= 5 min)
#
# The GPU machine's python is expected to have torch, torchvision, numpy, pillow, scipy, tensorboard and tqdm;
# hydra-core, omegaconf, antlr4-python3-runtime, PyYAML, torch-fidelity and pytest come from .whl/, whose
# python-version file names the Python they were made for: another Python is refused before anything installs
# (--cpu-smoke installs from .whl-local/, made for the Python that ran --prepare). Everything
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
read -r -a PIP <<< "${GPU_CHECK_PIP:-$PY -m pip}"  # GPU_CHECK_PIP: another pip command (the tests record its calls)
GPU_WHL="$REPO/.whl"          # the GPU machine's wheels, for its Python (.whl/python-version); carried along
LOCAL_WHL="$REPO/.whl-local"  # this machine's wheels, for the Python that runs --prepare; used by --cpu-smoke
MODE=gpu
GPU_PYTHON=3.12               # the GPU machine's Python (README, "GPU check")
SET_PYTHON=
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare) MODE=prepare ;;
    --cpu-smoke) MODE=cpu-smoke ;;
    --python-version) GPU_PYTHON=${2:-}; SET_PYTHON=1; shift ;;
    --python-version=*) GPU_PYTHON=${1#*=}; SET_PYTHON=1 ;;
    *) echo "gpu_check: unknown argument '$1': use --prepare, --cpu-smoke or nothing (the GPU check);" \
            "--prepare takes --python-version X.Y (the GPU machine's Python, default 3.12)" >&2; exit 2 ;;
  esac
  shift
done
if [ -n "$SET_PYTHON" ] && [ "$MODE" != prepare ]; then
  echo "gpu_check: --python-version X.Y goes with --prepare only (the Python the GPU machine's wheels are for)" >&2
  exit 2
elif ! [[ "$GPU_PYTHON" =~ ^3\.[0-9]+$ ]]; then
  echo "gpu_check: --python-version X.Y wants the GPU machine's Python as major.minor, such as 3.12; got '$GPU_PYTHON'" >&2
  exit 2
fi

python_version() { (cd / && $PY -c 'import sys; print("%d.%d" % sys.version_info[:2])'); }
wheel_names() {  # name-version of each wheel in a folder, one a line, sorted: the package set, whatever the Python
  local f
  for f in "$1"/*.whl; do f=${f##*/}; echo "${f%%-*}-$(cut -d- -f2 <<< "$f")"; done | sort
}

if [ "$MODE" = prepare ]; then
  # One version of each, the versions this project is tested with. For the GPU machine: cp$GPU_PYTHON manylinux
  # x86_64 or pure Python, into .whl/. For this machine's Python (--cpu-smoke): the same packages and versions into
  # .whl-local/, the pure-Python wheels copied from .whl/ (pip skips a file already there), only the compiled one
  # (PyYAML) fetched for this interpreter.
  PINS=(hydra-core==1.3.8 omegaconf==2.3.1 PyYAML==6.0.4 torch-fidelity==0.4.0
        pytest==9.2.0 iniconfig==2.3.1 pluggy==1.7.0 packaging==26.4 Pygments==2.21.0)
  PLATFORMS=(--platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
  HERE=$(python_version) || { echo "gpu_check: '$PY' does not run" >&2; exit 1; }
  rm -rf "$GPU_WHL" "$LOCAL_WHL" && mkdir -p "$GPU_WHL" "$LOCAL_WHL"
  "${PIP[@]}" download -q --no-deps --only-binary=:all: --python-version "$GPU_PYTHON" --implementation cp \
    "${PLATFORMS[@]}" -d "$GPU_WHL" "${PINS[@]}" || exit 1
  # antlr4-python3-runtime 4.9.3 (the version hydra 1.3 pins) is published as a source archive only: build it here
  # (pure Python, py3-none-any: one wheel for every Python)
  "${PIP[@]}" wheel -q --no-deps -w "$GPU_WHL" antlr4-python3-runtime==4.9.3 || exit 1
  echo "$GPU_PYTHON" > "$GPU_WHL/python-version"
  cp "$GPU_WHL"/*-none-any.whl "$LOCAL_WHL"/ || exit 1
  "${PIP[@]}" download -q --no-deps --only-binary=:all: -d "$LOCAL_WHL" "${PINS[@]}" || exit 1
  echo "$HERE" > "$LOCAL_WHL/python-version"
  if [ "$(wheel_names "$GPU_WHL")" != "$(wheel_names "$LOCAL_WHL")" ]; then
    echo "gpu_check: .whl/ and .whl-local/ do not hold the same packages and versions: $(ls "$GPU_WHL" "$LOCAL_WHL" | tr '\n' ' ')" >&2
    exit 1
  fi
  SIZE=$(du -sm "$GPU_WHL" | cut -f1)
  ls -1 "$GPU_WHL"
  echo "gpu_check --prepare: $(ls "$GPU_WHL"/*.whl | wc -l) wheels for Python $GPU_PYTHON (the GPU machine's;" \
       "another: --prepare --python-version X.Y), ${SIZE} MiB in $GPU_WHL"
  echo "gpu_check --prepare: $(ls "$LOCAL_WHL"/*.whl | wc -l) wheels for this Python, $HERE (--cpu-smoke)," \
       "$(du -sm "$LOCAL_WHL" | cut -f1) MiB in $LOCAL_WHL"
  [ "$SIZE" -lt 64 ] || { echo "gpu_check: .whl/ is ${SIZE} MiB, over the 64 MiB a device call carries" >&2; exit 1; }
  exit 0
fi

OUT=${OUT:-$REPO/gpu_check_out}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sngan-gpu-check.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
SITE="$WORK/site"
mkdir -p "$SITE" "$WORK/cwd"
export PYTHONUNBUFFERED=1 SNGAN_CACHE="$WORK/cache" MPLBACKEND=Agg
T0=$SECONDS

# 1. install: the missing dependencies from the wheels made for this Python (offline): on the GPU machine .whl/,
#    in the CPU smoke .whl-local/ (or .whl/ when it was made for this Python); then sngan as its wheel lays it out
if ! (cd "$WORK/cwd" && $PY -c "import hydra, omegaconf, yaml, torch_fidelity, pytest") 2>/dev/null; then
  HERE=$(python_version) || { echo "gpu_check: '$PY' does not run" >&2; exit 2; }
  if [ "$MODE" = gpu ]; then FOLDERS=("$GPU_WHL"); else FOLDERS=("$LOCAL_WHL" "$GPU_WHL"); fi
  FROM= MADE=
  for dir in "${FOLDERS[@]}"; do
    compgen -G "$dir/*.whl" >/dev/null || continue
    made=$(cat "$dir/python-version" 2>/dev/null) && made="Python $made" || made="an unrecorded Python"
    [ "$made" = "Python $HERE" ] && { FROM=$dir; break; }
    MADE+="${MADE:+, }${dir#"$REPO"/}/ holds wheels for $made"
  done
  if [ -z "$FROM" ]; then
    if [ -z "$MADE" ]; then
      echo "gpu_check: hydra-core, omegaconf, PyYAML, torch-fidelity or pytest missing and no wheels in" \
           "$([ "$MODE" = gpu ] && echo .whl/ || echo .whl-local/ or .whl/): run 'bash scripts/gpu_check.sh --prepare'" \
           "where pip works$([ "$MODE" = gpu ] && echo " and copy .whl/ along")" >&2
    elif [ "$MODE" = gpu ]; then
      echo "gpu_check: $MADE but $PY here is Python $HERE; nothing installed: run" \
           "'bash scripts/gpu_check.sh --prepare --python-version $HERE' where pip works and copy .whl/ along" >&2
    else
      echo "gpu_check: $MADE but $PY here is Python $HERE; nothing installed: run" \
           "'bash scripts/gpu_check.sh --prepare' with this Python" >&2
    fi
    exit 2
  fi
  if [ "$FROM" = "$LOCAL_WHL" ] && compgen -G "$GPU_WHL/*.whl" >/dev/null \
     && [ "$(wheel_names "$GPU_WHL")" != "$(wheel_names "$LOCAL_WHL")" ]; then
    echo "gpu_check: .whl/ and .whl-local/ hold different packages or versions, so this smoke run would not" \
         "rehearse the GPU machine's install; nothing installed: run 'bash scripts/gpu_check.sh --prepare' again" >&2
    exit 2
  fi
  echo "gpu_check $MODE: Python $HERE, wheels from ${FROM#"$REPO"/}/"
  "${PIP[@]}" install -q --no-index --no-deps --no-compile --no-cache-dir --target "$SITE" "$FROM"/*.whl || exit 2
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
exit $RC
