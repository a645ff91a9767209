#!/usr/bin/env bash
# One entry point for a fresh machine: installs what is missing, then runs the job asked for.
#   ./run.sh demo   spot expressions on the embedded sample video (the main job)
#   ./run.sh test   the whole test suite (lint, core, CLI, napari under Xvfb)
#   ./run.sh bench  the benchmarks (writes bench/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages: Xvfb + Mesa for napari under a virtual display, Qt's xcb libraries, and the
# GL/GLib libraries the non-headless OpenCV wheel (required by MediaPipe) links against.
APT_PACKAGES=(xvfb xauth libgl1 libgl1-mesa-dri libglx-mesa0 libegl1 libglib2.0-0
  libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1 libxcb-randr0
  libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libdbus-1-3 libfontconfig1)
VENV=.venv
SUPPORTED="3.11 3.12"

install_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return
  echo "run.sh: installing Debian packages: ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A Python the project supports: $PYTHON when set, else python3.11 (whose CPU torch wheel lies on
# the project's machines), else python3.12, else python3. Each is run, not just looked up: a pyenv
# shim exists for versions that are installed but not enabled, and fails when run.
supported() {
  "$1" -c 'import sys; sys.exit(f"{sys.version_info[0]}.{sys.version_info[1]}" not in sys.argv[1].split())' \
    "$SUPPORTED" 2>/dev/null
}

pick_python() {
  if [ -n "${PYTHON:-}" ]; then
    supported "$PYTHON" || { echo "run.sh: PYTHON=$PYTHON is not Python $SUPPORTED" >&2; exit 1; }
    return
  fi
  for candidate in python3.11 python3.12 python3; do
    if supported "$candidate"; then PYTHON=$candidate; return; fi
  done
  echo "run.sh: Python 3.11 or 3.12 is required (set PYTHON to one)" >&2
  exit 1
}

install_venv() {
  local stamp="$VENV/.mespot-install" want
  want=$(cat pyproject.toml setup.py | sha256sum | cut -d' ' -f1)
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && return
  echo "run.sh: installing napari-mespot and its dependencies into $VENV" >&2
  [ -x "$VENV/bin/python" ] || { pick_python; "$PYTHON" -m venv "$VENV"; }
  "$VENV/bin/python" -m pip install -q --upgrade pip
  # torch is named with its CPU build's version so pip takes the local CPU wheel (Python 3.11 on
  # the project's machines), not a CUDA one. PyPI has no CPU-only torch for Linux x86_64: with
  # another Python, pip downloads the CUDA build of the same version (several GB; it runs on CPUs).
  "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
    || echo "run.sh: note: torch for $("$VENV/bin/python" --version) comes from PyPI as a CUDA build (GBs)" >&2
  "$VENV/bin/python" -m pip install -q "torch==2.13.0" -e ".[pyqt6,test]"
  echo "$want" > "$stamp"
}

install_apt_packages
install_venv
export PATH="$PWD/$VENV/bin:$PATH"

case "${1:-}" in
  demo)
    shift
    exec mespot demo "$@"
    ;;
  test)
    shift
    ruff check src tests bench
    lint-imports --no-cache   # the layer contracts in pyproject.toml
    # The Qt-free part runs with no display at all; then the napari/Qt part under Xvfb.
    env -u DISPLAY -u WAYLAND_DISPLAY python -m pytest -p no:xvfb -m "not gui" "$@"
    exec python -m pytest -m gui "$@"
    ;;
  bench)
    shift
    exec python bench/run.py "$@"
    ;;
  *)
    echo "usage: ./run.sh demo|test|bench [args...]" >&2
    exit 2
    ;;
esac
