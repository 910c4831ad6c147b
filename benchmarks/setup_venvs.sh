#!/usr/bin/env bash
# Create one virtualenv per benchmark peer under <repo>/.bench-venvs/ (idempotent).
#
#   bash benchmarks/setup_venvs.sh            # all peers
#   bash benchmarks/setup_venvs.sh mlflow     # only the named ones
#
# A venv is (re)built only when its marker file is missing or records different
# requirements, so re-running is a no-op once everything is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="${BENCH_VENVS:-$ROOT/.bench-venvs}"
PYTHON="${BENCH_PYTHON:-python3}"

requirements() {
    case "$1" in
        ours)   echo "-e $ROOT[sklearn,pandas]" ;;
        opsml3) echo "--pre opsml==3.0.0rc16 scikit-learn pandas" ;;
        mlflow) echo "mlflow==3.17.2 scikit-learn" ;;
        *) echo "unknown peer: $1" >&2; return 1 ;;
    esac
}

setup_one() {
    local name="$1" reqs venv marker
    reqs="$(requirements "$name")"
    venv="$VENVS/$name"
    marker="$venv/.bench-requirements"
    # The editable install of ours picks up code changes by itself, but new
    # dependencies in pyproject.toml need a reinstall: key the marker on it.
    local key="$reqs"
    if [[ "$name" == "ours" ]]; then
        key="$reqs $(sha256sum "$ROOT/pyproject.toml" | cut -c1-16)"
    fi
    if [[ -x "$venv/bin/python" && -f "$marker" && "$(cat "$marker")" == "$key" ]]; then
        echo "[setup] $name: up to date ($venv)"
        return 0
    fi
    echo "[setup] $name: installing $reqs"
    [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
    # Word splitting of the requirement list is intended; pip's notes about local
    # package indexes it cannot use are noise (a pip failure still fails the pipeline).
    # shellcheck disable=SC2086
    "$venv/bin/python" -m pip install --quiet $reqs 2>&1 \
        | { grep -v "is ignored: it is neither a file nor a directory" || true; }
    echo "$key" > "$marker"
}

mkdir -p "$VENVS"
peers=("$@")
[[ ${#peers[@]} -gt 0 ]] || peers=(opsml3 mlflow ours)
for peer in "${peers[@]}"; do
    setup_one "$peer"
done
