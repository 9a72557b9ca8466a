"""Where generated parts live, built once under a lock, with a sha256 manifest per part.

A part (a dataset, the tiny CLIP, the tiny video backbone) is built into a temporary directory
and renamed into place, with ``manifest.json`` (sha256 of every file) written last; a part whose
manifest exists is complete. An exclusive file lock keeps two processes from building the same
part at once: the second waits and then finds it built.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench import settings
from bench.errors import DataError

MANIFEST = "manifest.json"
# Bumped whenever the same seed would give different bytes (renderer or encoder changes), so that
# parts built by an older version are rebuilt rather than mixed with new ones.
# 2: x264 without mbtree (deterministic bytes; see video_io.X264_OPTIONS).
# 3: the second edition: a small rug carries the scene colour, clip-level motion captions train the tiny
#    CLIP's text (context 77), the oracle looks at the keyframes it is shown.
FORMAT = 3


def size_root(size: str) -> Path:
    return settings.home() / "synthetic" / size


def part_dir(size: str, name: str) -> Path:
    return size_root(size) / name


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` (created if missing), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_manifest(root: Path, meta: dict[str, Any]) -> None:
    """sha256 of every file under ``root`` (sorted relative paths) plus build metadata."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and p.name != MANIFEST)
    entries = {p.relative_to(root).as_posix(): sha256_file(p) for p in files}
    (root / MANIFEST).write_text(json.dumps({"format": FORMAT, "meta": meta, "files": entries}, indent=1,
                                            sort_keys=True))


def verify_manifest(root: Path) -> list[str]:
    """Problems found by re-hashing the files of a built part ([] when it is intact)."""
    man = root / MANIFEST
    if not man.exists():
        return [f"{root}: no {MANIFEST} (not built, or the build was interrupted)"]
    files = json.loads(man.read_text())["files"]
    problems = []
    for rel, digest in files.items():
        p = root / rel
        if not p.exists():
            problems.append(f"{p}: missing")
        elif sha256_file(p) != digest:
            problems.append(f"{p}: sha256 differs from the manifest")
    return problems


def is_built(root: Path) -> bool:
    """A complete part of the current ``FORMAT`` (an older one counts as not built and is replaced)."""
    man = root / MANIFEST
    if not man.exists():
        return False
    try:
        return json.loads(man.read_text()).get("format") == FORMAT
    except (OSError, ValueError):
        return False


def build_once(root: Path, build: Callable[[Path], dict[str, Any]]) -> bool:
    """Build the part at ``root`` with ``build(tmp_dir) -> manifest meta`` unless it is built.

    Returns True when this call built it. Safe against concurrent callers (lock + atomic rename).
    """
    if is_built(root):
        return False
    with file_lock(root.parent / f".{root.name}.lock"):
        if is_built(root):
            return False
        tmp = root.with_name(f".{root.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            meta = build(tmp)
            write_manifest(tmp, meta)
            if root.exists():  # an incomplete or older-format earlier build: replace it
                shutil.rmtree(root)
            os.replace(tmp, root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return True


def rebuild(root: Path) -> None:
    """Drop a damaged part so that the next ``build_once`` builds it again."""
    with file_lock(root.parent / f".{root.name}.lock"):
        shutil.rmtree(root, ignore_errors=True)


def load_json(path: Path) -> Any:
    if not path.exists():
        raise DataError(f"{path} is missing; rebuild with 'bench data prepare'")
    return json.loads(path.read_text())


def synthetic_world() -> dict[str, Any]:
    """What a synthetic dataset name stands for here: the world's size (``$BENCH_SYNTH_SIZE`` or the user
    config), its seed and its data format. Part of the run id of runs on ``syn_*`` datasets, so that a run on
    the tiny world never answers for the small one, nor data of an older format for the current one."""
    from bench.data.synthetic.sizes import get_size

    cfg = get_size()
    return {"size": cfg.name, "seed": cfg.seed, "format": FORMAT}
