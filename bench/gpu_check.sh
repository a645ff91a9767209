#!/bin/bash
# The GPU checks, as one run on a machine with a CUDA GPU (bench/GPU.md has what it measured):
# the CUDA tests, then the GPU columns of the flow, VoVNet and spotting benches. Needs the
# project's dependencies importable (an installed venv, or PYTHONPATH to unpacked wheels); with
# DEVSITE=archive.tar.xz it unpacks such wheels to /tmp/site first. Results go to $OUT (default
# bench/out/gpu).
cd "$(dirname "$0")/.." || exit 1
OUT=${OUT:-bench/out/gpu}; mkdir -p "$OUT"
t0=$(date +%s)
step() { echo; echo "=== $1 (t=$(( $(date +%s) - t0 )) s)"; }
if [ -n "$DEVSITE" ]; then
  mkdir -p /tmp/site && tar -xJf "$DEVSITE" -C /tmp/site || exit 1
  export PYTHONPATH=/tmp/site:$PWD/src
  # Without an install the top-level sample_data/ is not napari_mespot.sample_data (setup.py maps it).
  ln -sfn "$PWD/sample_data" src/napari_mespot/sample_data
fi
export PYTHONUNBUFFERED=1 MPLBACKEND=Agg
nvidia-smi -L
python3 -c "import sys, torch, cv2, av; print(sys.version.split()[0], 'torch', torch.__version__, torch.cuda.get_device_name(0), 'cv2', cv2.__version__, 'contrib', hasattr(cv2, 'optflow'), 'av', av.__version__)"
# TV-L1's reference is OpenCV's contrib build; a plain OpenCV leaves it out.
methods="farneback dis"; filter="cuda and not tvl1"
python3 -c "import cv2; cv2.optflow" 2>/dev/null && { methods="farneback tvl1 dis"; filter="cuda"; }
step "CUDA tests"
python3 -m pytest -p no:cacheprovider -q -o addopts="-ra" --timeout 300 -k "$filter" \
  tests/test_flow_torch.py tests/test_flow_torch_dis.py tests/test_flow_torch_variational.py \
  tests/test_vovnet_train.py 2>&1 | tee "$OUT/cuda_tests.log" | tail -15
step "bench flow_torch"
python3 bench/bench_flow_torch.py --methods $methods --json "$OUT/flow_torch.json" 2>&1 | tee "$OUT/bench_flow_torch.md"
step "bench vovnet"
python3 bench/bench_vovnet.py 2>&1 | tee "$OUT/bench_vovnet.md" | tail -25
step "bench spot speed"
for dev in cuda cpu; do
  python3 bench/bench_spot.py speed --duration 20 --presets paper --device $dev > "$OUT/spot_speed_$dev.json"
done
step done
