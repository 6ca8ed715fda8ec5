#!/usr/bin/env bash
# Installs the autograder: a Python virtual environment outside the source
# tree (the worker must be able to run its interpreter while the source
# tree is private), the packages of requirements.txt, and, as root, the
# unprivileged user that runs student code.
#
#   ./setup.sh          what grading needs (Gradescope runs this as root)
#   ./setup.sh --dev    also the test suite and staff tooling
#
# Environment: DLAG_VENV (where the venv goes), DLAG_BASE_PYTHON (the
# interpreter to build it from), TORCH_INDEX_URL (a pip index for torch;
# on Gradescope the PyTorch CPU-only index is used by default).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -d "$here/autograder" ]; then source_dir=$here; else source_dir=/autograder/source; fi

dev=0
[ "${1:-}" = "--dev" ] && dev=1

if [ "$(id -u)" = 0 ]; then
    venv=${DLAG_VENV:-/opt/dl-autograder/venv}
else
    venv=${DLAG_VENV:-$HOME/.local/share/dl-autograder/venv}
fi
base_python=${DLAG_BASE_PYTHON:-/usr/bin/python3}
[ -x "$base_python" ] || base_python=$(command -v python3)

if [ -z "${TORCH_INDEX_URL:-}" ] && [ "$source_dir" = /autograder/source ]; then
    TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
fi

if ! "$base_python" -m venv --help >/dev/null 2>&1 || ! "$base_python" -c 'import ensurepip' 2>/dev/null; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update -qq
        apt-get install -y -qq python3-venv >/dev/null
    else
        echo "setup.sh: $base_python cannot create virtual environments (install python3-venv)" >&2
        exit 1
    fi
fi

if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    "$base_python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
if [ -n "${TORCH_INDEX_URL:-}" ]; then
    "$venv/bin/python" -m pip install --quiet --index-url "$TORCH_INDEX_URL" \
        "$(grep '^torch==' "$source_dir/requirements.txt")"
fi
requirements=$source_dir/requirements.txt
[ "$dev" = 1 ] && requirements=$source_dir/requirements-dev.txt
"$venv/bin/python" -m pip install --quiet -r "$requirements"
chmod -R a+rX "$venv"

# A link the commands of the README use; it is ignored by git.
ln -sfn "$venv" "$source_dir/.venv"

# The users of the first grading slot: the second runs the next part's
# worker while a part is graded (autograder/accounts.py creates more on
# demand for runs that overlap).
if [ "$(id -u)" = 0 ]; then
    for user in dlag-worker dlag-worker-2; do
        id "$user" >/dev/null 2>&1 || useradd --system --no-create-home \
            --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
    done
fi
echo "setup.sh: ready ($("$venv/bin/python" --version), venv $venv)"
