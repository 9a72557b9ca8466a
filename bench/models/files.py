"""Files of the models layer: where weights come from and what their content is.

- ``file_sha256(path)``: the content identity of one file (weights, annotation lists, class lists),
  cached in this process and on disk (``<cache>/file_sha256.jsonl``) by resolved path, size,
  modification time, inode and change time, so that a 1 GB weights file is hashed once, not once
  per cell or per command; a file rewritten in place is hashed again. ``bench.identity`` and
  ``bench.models.clip`` re-export it.
- ``synthetic_weights(tag)``: the weights the synthetic world trains for itself (``synthetic:<name>``),
  found by module name and built on first use.
- ``_register_configs()``: our open_clip architecture configs (``model_configs/``).

It imports nothing of ``bench.models.clip`` or ``bench.models.weights``, which both use it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import threading
from pathlib import Path

from bench.errors import ConfigError

log = logging.getLogger(__name__)
MODEL_CONFIGS = Path(__file__).resolve().parent / "model_configs"


@functools.cache
def _register_configs() -> None:
    import open_clip

    open_clip.add_model_config(MODEL_CONFIGS)


SYNTHETIC_WEIGHTS = {
    "tiny-clip": ("bench.data.synthetic.tiny_clip", "tiny_clip_weights"),
    "tiny-video": ("bench.data.synthetic.video_pretrain", "pretrained_weights"),
}


def synthetic_weights(tag: str) -> Path:
    """Weights the synthetic world trains for itself (``synthetic:tiny-clip``), built on first use."""
    import importlib

    name = tag.split(":", 1)[1]
    if name not in SYNTHETIC_WEIGHTS:
        raise ConfigError(f"weights tag {tag!r}: the synthetic world provides "
                          f"{', '.join('synthetic:' + k for k in sorted(SYNTHETIC_WEIGHTS))}")
    module, func = SYNTHETIC_WEIGHTS[name]
    return Path(getattr(importlib.import_module(module), func)(None))


_LOCK = threading.Lock()
_MEMO: dict[tuple[str, int, int, int, int], str] = {}
_DISK_LOADED: set[str] = set()
_CHUNK = 1 << 20


def _cache_file() -> Path | None:
    try:
        from bench import settings

        return settings.cache_dir() / "file_sha256.jsonl"
    except Exception:  # noqa: BLE001 - no cache is not an error
        return None


def _load_disk_cache(path: Path) -> None:
    if str(path) in _DISK_LOADED:
        return
    _DISK_LOADED.add(str(path))
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return
    for line in lines:
        try:
            e = json.loads(line)
            _MEMO[(e["path"], int(e["size"]), int(e["mtime_ns"]), int(e["ino"]), int(e["ctime_ns"]))] = str(e["sha256"])
        except (ValueError, KeyError, TypeError):
            continue  # a torn line of a killed writer: ignored


def file_sha256(path: str | Path) -> str:
    """The sha256 of a file's content, hashed once per (resolved path, size, mtime)."""
    p = Path(path).expanduser().resolve()
    st = p.stat()
    key = (str(p), st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)  # any rewrite changes one of them
    cache = _cache_file()
    with _LOCK:
        if cache is not None:
            _load_disk_cache(cache)
        if key in _MEMO:
            return _MEMO[key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    digest = h.hexdigest()
    with _LOCK:
        _MEMO[key] = digest
        if cache is not None:
            try:
                cache.parent.mkdir(parents=True, exist_ok=True)
                with open(cache, "a") as f:
                    f.write(json.dumps({"path": key[0], "size": key[1], "mtime_ns": key[2], "ino": key[3],
                                        "ctime_ns": key[4], "sha256": digest}) + "\n")
            except OSError as e:
                log.debug("cannot append to the sha256 cache %s: %s", cache, e)
    return digest
