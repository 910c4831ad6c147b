#!/usr/bin/env bash
# Create one virtualenv per benchmark peer under <repo>/.bench-venvs/ (idempotent), and
# install the HTTP load generator wrk (Debian package) when it is missing.
#
#   bash benchmarks/setup_venvs.sh            # all peers, and wrk
#   bash benchmarks/setup_venvs.sh mlflow     # only the named ones
#   bash benchmarks/setup_venvs.sh wrk        # only wrk
#
# A venv is (re)built only when its marker file is missing or records different
# requirements, so re-running is a no-op once everything is installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENVS="${BENCH_VENVS:-$ROOT/.bench-venvs}"
PYTHON="${BENCH_PYTHON:-python3}"

requirements() {
    case "$1" in
        ours)   echo "-e $ROOT[sklearn,pandas,server,postgres,monitoring,s3]" ;;
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

# wrk drives the requests/s case; without it (no apt-get, not root) the harness falls back
# to its own Python load generator, so a failure here is a warning, not an error.
setup_wrk() {
    if command -v wrk > /dev/null; then
        echo "[setup] wrk: up to date ($(command -v wrk))"
        return 0
    fi
    local sudo=""
    if [[ "$(id -u)" != 0 ]]; then
        if sudo -n true 2> /dev/null; then sudo="sudo -n"; else sudo="none"; fi
    fi
    if [[ "$sudo" == "none" ]] || ! command -v apt-get > /dev/null; then
        echo "[setup] wrk: missing and cannot apt-get install it; using the Python load generator"
        return 0
    fi
    echo "[setup] wrk: installing the Debian package"
    # $sudo is empty or "sudo -n": word splitting intended.
    # shellcheck disable=SC2086
    if ! { $sudo apt-get update -qq \
        && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } > /dev/null; then
        echo "[setup] wrk: apt-get install failed; using the Python load generator"
    fi
}

mkdir -p "$VENVS"
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(opsml3 mlflow ours wrk)
for target in "${targets[@]}"; do
    if [[ "$target" == "wrk" ]]; then setup_wrk; else setup_one "$target"; fi
done
