# Shared by scripts/run and scripts/test: a project-local virtual environment.
# Sourced, not run. Sets PY to the environment's python.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${TRAINWATCH_VENV:-$ROOT/.venv}"
REQUIREMENTS="${1:-requirements.txt}"
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating virtual environment in $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
# Reinstall only when the requirements changed since the last install.
STAMP="$VENV/.installed-$(basename "$REQUIREMENTS")"
if [ ! -f "$STAMP" ] || ! cmp -s <(cat requirements*.txt) "$STAMP"; then
  echo "==> installing $REQUIREMENTS"
  "$PY" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  cat requirements*.txt > "$STAMP"
fi
