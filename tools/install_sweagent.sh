#!/usr/bin/env bash
# Install SWE-agent 1.x (not on PyPI) into .venv, editable, from a git tag, a folder or a tarball.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
DEFAULT_SOURCE="https://github.com/SWE-agent/SWE-agent@v1.1.0"
CACHE="${SWEBOARD_CACHE:-$HOME/.cache/sweboard}/sweagent"
RECORD="$ROOT/.venv/.sweagent-source.json"

usage() {
  cat <<USAGE
Usage: tools/install_sweagent.sh [--source GIT_URL@TAG | DIR | TARBALL] [--commit SHA] [--dry-run] [--help]

Installs SWE-agent into .venv as an *editable* install (SWE-agent finds its config/, tools/ and
trajectories/ folders beside its package; a plain install fails at 'import sweagent').
  --source   default ${DEFAULT_SOURCE}: a shallow clone of that tag into ${CACHE}/.
             A folder (an unpacked source tree) or a .tar.gz of one also works, e.g. on machines
             without GitHub access.
  --commit   the commit the source is, when it carries no git metadata (a tarball); recorded only
  --dry-run  say what would be done, change nothing
Records what it installed (source, commit, version) in .venv/.sweagent-source.json; runs that use
SWE-agent copy that record into their manifest. Installing the same source again does nothing.
USAGE
}

SOURCE=""; COMMIT=""; DRY=0; SUM=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --source) [[ $# -ge 2 ]] || { echo "install_sweagent.sh: --source needs a value" >&2; exit 2; }; SOURCE="$2"; shift ;;
    --commit) [[ $# -ge 2 ]] || { echo "install_sweagent.sh: --commit needs a value" >&2; exit 2; }; COMMIT="$2"; shift ;;
    --dry-run) DRY=1 ;;
    --help|-h) usage; exit 0 ;;
    *) echo "install_sweagent.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done
if [[ -n "$COMMIT" && ! "$COMMIT" =~ ^[0-9a-f]{40}$ ]]; then
  echo "install_sweagent.sh: --commit '$COMMIT': expected a 40-digit hex commit id" >&2; exit 2
fi

if [[ -z "$SOURCE" ]]; then
  # No source asked for: an installed SWE-agent stays as it is (pass --source to change it).
  if [[ -f "$RECORD" && -x "$PY" ]] && "$PY" -c "import importlib.util as u, sys; sys.exit(u.find_spec('sweagent') is None)"; then
    echo "install_sweagent.sh: SWE-agent is installed: $(tr -d '\n' < "$RECORD") (pass --source to change it)"
    exit 0
  fi
  SOURCE="$DEFAULT_SOURCE"
fi

# Where the source tree will live, and how to get it there.
if [[ "$SOURCE" == http*://*@* || "$SOURCE" == git@*@* ]]; then
  KIND=git; URL="${SOURCE%@*}"; TAG="${SOURCE##*@}"; TREE="$CACHE/SWE-agent-$TAG"
elif [[ -d "$SOURCE" ]]; then
  KIND=dir; TREE="$(cd "$SOURCE" && pwd)"; SOURCE="$TREE"
elif [[ -f "$SOURCE" && "$SOURCE" == *.tar.gz ]]; then
  KIND=tarball; SOURCE="$(cd "$(dirname "$SOURCE")" && pwd)/$(basename "$SOURCE")"
  SUM="$(sha256sum "$SOURCE" | cut -d' ' -f1)"; TREE="$CACHE/tarball-${SUM:0:16}"
else
  echo "install_sweagent.sh: --source '$SOURCE': expected GIT_URL@TAG, a source folder, or a .tar.gz of one" >&2; exit 2
fi

if [[ "$DRY" == 1 ]]; then
  echo "would install SWE-agent (editable) from ${SOURCE} (${KIND}) via ${TREE} into ${ROOT}/.venv"
  [[ -f "$RECORD" ]] && echo "currently installed: $(cat "$RECORD")"
  exit 0
fi

"$ROOT/tools/setup_venv.sh"
mkdir -p "$CACHE"
case "$KIND" in
  git)
    if [[ ! -d "$TREE/.git" ]]; then
      git clone --quiet --depth 1 --branch "$TAG" "$URL" "$TREE.tmp"
      mv "$TREE.tmp" "$TREE"
    fi
    COMMIT="$(git -C "$TREE" rev-parse HEAD)" ;;
  tarball)
    if [[ ! -f "$TREE/pyproject.toml" ]]; then
      rm -rf "$TREE.tmp"; mkdir -p "$TREE.tmp"
      tar -xzf "$SOURCE" -C "$TREE.tmp"
      inner="$(find "$TREE.tmp" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
      [[ -f "$inner/pyproject.toml" ]] || { echo "install_sweagent.sh: ${SOURCE}: no pyproject.toml at its top folder" >&2; exit 2; }
      mv "$inner" "$TREE"; rm -rf "$TREE.tmp"
    fi ;;
  dir)
    [[ -f "$TREE/pyproject.toml" ]] || { echo "install_sweagent.sh: ${TREE}: no pyproject.toml" >&2; exit 2; }
    if [[ -z "$COMMIT" && -d "$TREE/.git" ]]; then COMMIT="$(git -C "$TREE" rev-parse HEAD)"; fi ;;
esac

WANT="{\"source\": \"${SOURCE}\", \"tree\": \"${TREE}\", \"commit\": \"${COMMIT}\"${SUM:+, \"sha256\": \"${SUM}\"}}"
if [[ -f "$RECORD" ]] && "$PY" - "$RECORD" "$WANT" <<'PY'
import json, sys
have, want = json.load(open(sys.argv[1])), json.loads(sys.argv[2])
import importlib.util
ok = importlib.util.find_spec("sweagent") is not None and all(have.get(k) == want[k] for k in ("tree", "commit"))
sys.exit(0 if ok else 1)
PY
then
  echo "install_sweagent.sh: SWE-agent from ${SOURCE} is already installed in .venv"
  exit 0
fi

echo "install_sweagent.sh: installing SWE-agent (editable) from ${TREE}"
"$PY" -I -m pip install --quiet -e "$TREE"
VERSION="$("$PY" -c 'from importlib.metadata import version; print(version("sweagent"))')"
LITELLM_LOCAL_MODEL_COST_MAP=True "$ROOT/.venv/bin/sweagent" run --help >/dev/null
"$PY" - "$RECORD" "$WANT" "$VERSION" <<'PY'
import json, sys
data = json.loads(sys.argv[2])
data["version"] = sys.argv[3]
data["commit"] = data["commit"] or None
json.dump(data, open(sys.argv[1], "w"), indent=2)
PY
echo "install_sweagent.sh: SWE-agent ${VERSION} installed (commit ${COMMIT:-unknown}); record in .venv/.sweagent-source.json"
