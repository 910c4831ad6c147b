#!/usr/bin/env bash
# Install the CPU build of torch into the venv of interpreter $1, before the extras that need
# torch (the dev and compat venvs; `make run` needs no torch).
#
# Why: PyPI's Linux wheels of torch pull in CUDA libraries, gigabytes that a CPU-only test
# run never uses; PyTorch publishes CPU-only builds on its own index. A torch wheel pip can
# already see without the network (a `find-links` folder in its configuration) is taken
# first; otherwise the CPU index is used. TORCH_VERSION (default: the release the suite is
# tested with) chooses the release; TORCH_INDEX_URL another index (e.g. a CUDA one).
set -euo pipefail
python="$1"
version="${TORCH_VERSION:-2.13.0}"
index="${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}"

if "$python" -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" \
    2>/dev/null; then
    exit 0
fi
# A local wheel, without its dependencies (the project's own install resolves those next).
if "$python" -m pip install --quiet --no-index --no-deps "torch==$version" 2>/dev/null; then
    exit 0
fi
"$python" -m pip install --quiet --index-url "$index" --extra-index-url https://pypi.org/simple \
    "torch==$version"
