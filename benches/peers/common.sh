# Shared by the peer scripts: a Python venv of their own under benches/peers/.venv.
PEERS="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$PEERS/../.." && pwd)"
VENV="$PEERS/.venv"
OUT="$PEERS/out"
mkdir -p "$OUT"

# peer_venv PKG...: create the venv if needed and install what is missing. pip runs as
# `python -m pip`: a venv copied from elsewhere keeps its old path in bin/pip's first line.
peer_venv() {
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    local missing=()
    for pkg in "$@"; do
        "$VENV/bin/python" -m pip show "${pkg%%[=<>]*}" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ "${#missing[@]}" -gt 0 ]; then
        "$VENV/bin/python" -m pip install --quiet "${missing[@]}"
    fi
}
