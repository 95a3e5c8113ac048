"""What a task image's `/testbed` can reach beyond its base commit, and an image that reaches nothing.

Why: an image built from a full clone checked out at `base_commit` keeps every later commit, branch
and tag (seen on a real sqlfluff image: 3,462 commits and 156 tags beyond the base), and an agent
that runs `git log --all` or `git show <tag>` reads the reference fix. The audit asks the image
itself, in a throw-away container without network:

- `commits`: commits reachable from any ref, stash or reflog that are not ancestors of the base;
- `tags`, `remotes`: tags and remote-tracking refs that point beyond the base;
- `gold_blobs`: blobs of the gold patch's post-image that sit in the object store without being
  reachable from the base's history (a fix can hide there with no ref at all).

A leaky image stops the preflight (`history: strict`, the default) with one line naming the image
and what leaks; with `history: sanitize` the run's attempts use a derived image (`sanitized`) whose
`/testbed` holds only the base's history, audited the same way before use. The evaluator always
grades on the original image: grading never changes.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from sweboard.dockerutil import docker, image_id
from sweboard.errors import SweboardError
from sweboard.paths import cache_dir

NAMESPACE = "sweboard-sanitized"
BASE_LABEL = "sweboard.sanitized.base-id"
FIELDS = ("commits", "tags", "remotes", "gold_blobs")
NAMES = {"commits": ("commit", "commits"), "tags": ("tag", "tags"), "remotes": ("remote-tracking ref", "remote-tracking refs"),
         "gold_blobs": ("blob of the gold patch", "blobs of the gold patch")}
MODES = ("strict", "sanitize")

# Run in the image with bash; $1 the base commit; the gold patch on stdin. Prints key=value lines.
AUDIT = r"""
set -u
cd /testbed 2>/dev/null || { echo "error=no /testbed"; exit 0; }
git config --global --add safe.directory /testbed 2>/dev/null
base="$1"
git cat-file -e "$base^{commit}" 2>/dev/null || { echo "error=base commit $base is not in /testbed"; exit 0; }
echo "head=$(git rev-parse HEAD 2>/dev/null)"
echo "commits=$(git rev-list --all --reflog --not "$base" 2>/dev/null | wc -l)"
beyond() { n=0; for o in $(git for-each-ref "$1" --format='%(objectname)'); do
  c=$(git rev-parse "$o^{commit}" 2>/dev/null) || continue
  git merge-base --is-ancestor "$c" "$base" 2>/dev/null || n=$((n + 1)); done; echo "$n"; }
echo "tags=$(beyond refs/tags)"
echo "remotes=$(beyond refs/remotes)"
cat > /tmp/sweboard-gold.patch
work=$(mktemp -d)
files=$(grep '^+++ b/' /tmp/sweboard-gold.patch | cut -c7- | sort -u)
for f in $files; do
  mkdir -p "$work/$(dirname "$f")"
  git show "$base:$f" > "$work/$f" 2>/dev/null || rm -f "$work/$f"
done
n=0
if (cd "$work" && git apply --unsafe-paths /tmp/sweboard-gold.patch) 2>/dev/null; then
  reachable=$(git rev-list --objects "$base" 2>/dev/null | cut -d' ' -f1 | sort -u)
  for f in $files; do
    [ -f "$work/$f" ] || continue
    blob=$(git hash-object "$work/$f")
    if git cat-file -e "$blob" 2>/dev/null && ! printf '%s\n' "$reachable" | grep -qx "$blob"; then n=$((n + 1)); fi
  done
  echo "gold_blobs=$n"
else
  echo "gold_blobs=unknown"
fi
"""


@dataclass(frozen=True)
class HistoryAudit:
    """What an image's /testbed reaches beyond the base (None: the audit could not tell)."""

    image: str
    image_id: str | None
    base_commit: str
    commits: int | None
    tags: int | None
    remotes: int | None
    gold_blobs: int | None
    error: str = ""

    @property
    def clean(self) -> bool:
        return not self.error and all(getattr(self, f) == 0 for f in FIELDS)

    def leaks(self) -> str:
        """`N commits, M tags, ... beyond base <sha>`, or the reason the audit could not tell."""
        if self.error:
            return f"could not be audited: {self.error}"
        parts = [f"{getattr(self, f)} {NAMES[f][getattr(self, f) != 1]}" for f in FIELDS if getattr(self, f) != 0]
        return f"{', '.join(parts) or 'nothing'} beyond base {self.base_commit[:12]}"

    def to_dict(self) -> dict:
        return {**asdict(self), "clean": self.clean, "summary": self.leaks()}


def _count(value: str | None) -> int | None:
    return int(value) if value is not None and value.strip().isdigit() and len(value) < 12 else None


def audit(image: str, base_commit: str, gold_patch: str) -> HistoryAudit:
    """Ask the image what /testbed reaches beyond `base_commit`; cached by image id, base and gold patch."""
    ident = image_id(image)
    if ident is None:
        return HistoryAudit(image, None, base_commit, None, None, None, None, "the image is not on this machine")
    key = hashlib.sha256(f"{ident}\0{base_commit}\0{gold_patch}".encode()).hexdigest()[:24]
    cache = cache_dir() / "history-audits" / f"{key}.json"
    if cache.is_file():
        try:
            return HistoryAudit(**json.loads(cache.read_text()))
        except (OSError, ValueError, TypeError):
            pass
    if not all(c in "0123456789abcdef" for c in base_commit) or len(base_commit) != 40:
        return HistoryAudit(image, ident, base_commit, None, None, None, None, "base_commit is not a commit id")
    proc = docker("run", "--rm", "-i", "--network", "none", "--entrypoint", "/bin/bash", ident, "-c", AUDIT, "audit",
                  base_commit, check=False, timeout=600, input_text=gold_patch)
    facts = dict(line.split("=", 1) for line in proc.stdout.splitlines()[:20] if "=" in line)
    error = facts.get("error", "")[:200] or ("" if proc.returncode == 0 else
                                              f"exit {proc.returncode}: {(proc.stderr.strip().splitlines() or [''])[-1][:200]}")
    result = HistoryAudit(image, ident, base_commit, *(_count(facts.get(f)) for f in FIELDS), error=error)
    if not error and any(getattr(result, f) is None for f in FIELDS):
        result = HistoryAudit(image, ident, base_commit, result.commits, result.tags, result.remotes, result.gold_blobs,
                              "the image gave no usable count")
    if not result.error:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(f".{cache.name}.tmp")
        tmp.write_text(json.dumps(asdict(result)))
        tmp.replace(cache)
    return result


def audit_rows(rows: list[dict], agent_images: dict[str, str] | None = None) -> dict[str, HistoryAudit]:
    """instance id -> the audit of the image its attempts start from (the sanitized one, when given)."""
    return {r["instance_id"]: audit((agent_images or {}).get(r["instance_id"], r["image"]), r["base_commit"], r["patch"])
            for r in rows}


# --- an image whose /testbed holds only the base's history ----------------------------------------
def _dockerfile(base_id: str, base_commit: str) -> str:
    """Every ref, reflog, remote and stash gone; main at the base; unreachable objects pruned. The working
    tree and index are not touched (HEAD only moves from a detached base to a branch at the same commit)."""
    script = " && ".join([
        "cd /testbed",
        "git config --global --add safe.directory /testbed",
        f"test \"$(git rev-parse HEAD)\" = {base_commit}",
        f"git update-ref --no-deref HEAD {base_commit}",
        "for r in $(git for-each-ref --format='%(refname)'); do git update-ref -d \"$r\"; done",
        "for r in $(git remote); do git remote remove \"$r\"; done",
        f"git update-ref refs/heads/main {base_commit}",
        "git symbolic-ref HEAD refs/heads/main",
        "rm -rf .git/logs .git/ORIG_HEAD .git/FETCH_HEAD .git/MERGE_HEAD .git/refs/original",
        "git repack -a -d -q",
        "rm -f .git/objects/info/alternates",
        "git reflog expire --expire=now --all",
        "git gc --prune=now -q",
    ])
    return f"FROM {base_id}\nRUN {script}\nLABEL {BASE_LABEL}={base_id}\n"


def sanitized_tag(image: str, base_id: str, recipe: str) -> str:
    name = "".join(c if c.isalnum() or c in "._-" else "_" for c in image.split(":")[0].lower())[-100:]
    return f"{NAMESPACE}/{name}:{base_id.split(':')[-1][:12]}-{recipe[:8]}"


def ensure_sanitized(row: dict, log=lambda s: None) -> str:
    """The derived image of `row`'s image with only its base's history (built once, cached by base id),
    audited clean; one line naming the image when it cannot be made so."""
    from sweboard.testbench.images import _docker_build

    base_id = image_id(row["image"])
    if base_id is None:
        raise SweboardError(f"image {row['image']}: not on this machine (pull or build it first)")
    text = _dockerfile(base_id, row["base_commit"])
    recipe = hashlib.sha256(text.encode()).hexdigest()
    tag = sanitized_tag(row["image"], base_id, recipe)
    if image_id(tag) is None:
        log(f"deriving {tag}: /testbed with only the history of {row['base_commit'][:12]}")
        with tempfile.TemporaryDirectory(prefix="sweboard-sanitize-") as tmp:
            (Path(tmp) / "Dockerfile").write_text(text)
            _docker_build(tag, Path(tmp), recipe)
    check = audit(tag, row["base_commit"], row["patch"])
    if not check.clean:
        raise SweboardError(f"image {tag} (sanitized from {row['image']}) still reaches {check.leaks()}")
    return tag


def describe(audits: dict[str, HistoryAudit]) -> str:
    leaky = {iid: a for iid, a in audits.items() if not a.clean}
    if not leaky:
        return f"{len(audits)} task images reach nothing beyond their base commit"
    first_iid, first = next(iter(sorted(leaky.items())))
    return (f"{len(leaky)} of {len(audits)} task images reach beyond their base: image {first.image} ({first_iid}) "
            f"{first.leaks()}")



def plan_images(rows: list[dict], mode: str, log=lambda s: None) -> tuple[dict[str, str], dict[str, str], dict]:
    """For a batch: (instance -> the image its attempts start from, when not its own; instance -> why its
    attempts cannot run; instance -> the audit record). `strict`: a leaky image's attempts do not run
    (infrastructure's failure, never the model's); `sanitize`: they run on the derived image."""
    images, blocked, record = {}, {}, {}
    for row in rows:
        found = audit(row["image"], row["base_commit"], row["patch"])
        record[row["instance_id"]] = found.to_dict()
        if found.clean or found.image_id is None:  # a missing image is the image check's to name (ImageMissing)
            continue
        if mode != "sanitize":
            blocked[row["instance_id"]] = (f"image {row['image']} {found.leaks()} (history: strict; "
                                           "--set history=sanitize runs it on a derived image)")
            continue
        try:
            images[row["instance_id"]] = ensure_sanitized(row, log)
            record[row["instance_id"]]["sanitized"] = images[row["instance_id"]]
        except SweboardError as exc:
            blocked[row["instance_id"]] = str(exc)
    return images, blocked, record
