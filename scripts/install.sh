#!/usr/bin/env bash
# Installs sole into ./.venv: system libraries for offscreen MuJoCo rendering (apt, when missing), a CPU build of
# PyTorch, and the package with the extras named as arguments (e.g. `scripts/install.sh dev serve`).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! ldconfig -p 2>/dev/null | grep -q libEGL_mesa; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1 libosmesa6 ffmpeg >/dev/null
  else
    echo "install.sh: offscreen rendering needs Mesa EGL: apt-get install libegl1 libegl-mesa0 libgl1 libosmesa6" >&2
  fi
fi
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extras=$(IFS=,; echo "$*")
# PyTorch pinned first: where a CPU wheel of this release is provided locally pip takes it, so the package's
# `torch>=2.4` does not pull several GB of CUDA wheels; elsewhere it is the stock (GPU-capable) build.
# The hf extra needs torchvision (the Qwen-VL processors), whose x86_64 wheels on PyPI link against the CUDA
# build of torch and fail to import beside a CPU build: with hf, torch is the stock build of the release that
# torchvision was built for (several GB). On aarch64 SOLE_TORCH=2.9.1 SOLE_TORCHVISION=0.24.1 is a CPU pair.
torch=("torch==${SOLE_TORCH:-2.13.0}")
case ",$extras," in
  *,hf,*) torch=("torch==${SOLE_TORCH:-2.14.1}" "torchvision==${SOLE_TORCHVISION:-0.29.1}") ;;
esac
.venv/bin/pip install -q --disable-pip-version-check "${torch[@]}"
.venv/bin/pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
