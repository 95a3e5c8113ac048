# shellcheck shell=bash
# Source me: exports KEY=value lines of secrets/credentials.txt into this shell.
#   source tools/env.sh            # or: SWEBOARD_CREDENTIALS=path source tools/env.sh
# Blank lines and '#' comments are allowed. A malformed line is reported by its number,
# never its text (it may be a secret). Values are never printed.
_sweboard_env() {
  local root file n=0 line key value loaded=0
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  file="${SWEBOARD_CREDENTIALS:-${root}/secrets/credentials.txt}"
  if [[ ! -f "$file" ]]; then
    echo "env.sh: no ${file}; copy secrets/credentials.example.txt there and fill in your keys" >&2
    return 1
  fi
  while IFS= read -r line || [[ -n "$line" ]]; do
    n=$((n + 1))
    [[ "$n" == 1 ]] && line="${line#$'\xef\xbb\xbf'}"  # an editor's byte-order mark
    line="${line#"${line%%[![:space:]]*}"}"
    [[ -z "$line" || "$line" == \#* ]] && continue
    line="${line#export }"
    key="${line%%=*}"
    key="${key%"${key##*[![:space:]]}"}"
    if [[ "$line" != *=* || ! "$key" =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]]; then
      echo "env.sh: ${file}: line ${n} is not KEY=value" >&2
      return 1
    fi
    value="${line#*=}"
    value="${value#"${value%%[![:space:]]*}"}"
    value="${value%"${value##*[![:space:]]}"}"
    # as sweboard.credentials reads it: quotes removed, a trailing " # comment" dropped
    if [[ "$value" =~ ^\"([^\"]*)\"[[:space:]]*(#.*)?$ || "$value" =~ ^\'([^\']*)\'[[:space:]]*(#.*)?$ ]]; then
      value="${BASH_REMATCH[1]}"
    elif [[ "$value" == \"* || "$value" == \'* ]]; then
      echo "env.sh: ${file}: line ${n}: a quoted value is not closed, or text follows it" >&2
      return 1
    elif [[ "$value" =~ ^(.*[^[:space:]])?[[:space:]]+#.*$ ]]; then
      value="${BASH_REMATCH[1]}"
    fi
    export "${key}=${value}"
    loaded=$((loaded + 1))
  done < "$file"
  echo "env.sh: exported ${loaded} variable(s) from ${file}" >&2
}
_sweboard_env
