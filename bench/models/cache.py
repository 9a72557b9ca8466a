"""On-disk caches of frozen models: text embeddings and teacher features.

Frozen teachers (CLIP image/text encoders) give the same output for the same input, so the
cells of a grid that share a teacher compute it once (DESIGN.md, "Methods"). An entry is a
safetensors file keyed by what determines it:

- text embeddings: encoder name + weights hash + the string;
- teacher features: model name + weights hash + the video (path, size and mtime, or a content
  hash) + frame sampling + preprocessing.

Entries are written to a temporary file in the same directory, fsynced and renamed, so several
processes may fill one cache at once (a shared file system included): a reader sees a whole
entry or none. Each entry carries its key and a sha256 of its tensors in the safetensors
metadata; a reader verifies both, and a corrupt entry is reported (naming the file), removed
and recomputed, never used. A hit returns bit-identical tensors (CPU, contiguous); a miss
returns exactly what it stored. Reads touch the file's mtime, so ``prune --older-than``
removes entries not used recently. Layout: ``<cache_dir>/<kind>/<key[:2]>/<key>.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from bench import settings
from bench.errors import DataError
from bench.fsutil import fsync_dir
from bench.spec import canonical_json

log = logging.getLogger(__name__)
FORMAT = "vlbench-cache-1"
KINDS = {"text": "LLM/VLM answers", "text_embeddings": "frozen text-encoder embeddings",
         "teacher": "frozen teacher features per video"}
Tensors = dict[str, torch.Tensor]


class CorruptCacheEntry(DataError):
    """A cache file that is not a whole, verified entry."""


def _key(payload: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(payload)).encode()).hexdigest()


def tensors_digest(tensors: Mapping[str, torch.Tensor]) -> str:
    """sha256 over names, dtypes, shapes and raw bytes of ``tensors`` (in name order)."""
    h = hashlib.sha256()
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write_entry(path: Path, key: str, tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> Tensors:
    """Write one entry atomically; returns the stored (CPU, contiguous) tensors."""
    from safetensors.torch import save

    stored = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}
    meta = {"format": FORMAT, "key": key, "checksum": tensors_digest(stored), "info": canonical_json(dict(info))}
    data = save(stored, metadata=meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return stored


def read_entry(path: Path, key: str) -> Tensors:
    """Read and verify one entry.

    Raises:
        CorruptCacheEntry: naming ``path`` when it is truncated, unparsable, for another key, or fails its checksum.
    """
    from safetensors.torch import load

    data = path.read_bytes()
    try:
        (n,) = struct.unpack("<Q", data[:8])
        header = json.loads(data[8:8 + n])
        meta = header.get("__metadata__") or {}
        tensors = load(data)
    except Exception as e:  # noqa: BLE001 (any parse failure means a corrupt file)
        raise CorruptCacheEntry(f"cache entry {path} is unreadable ({type(e).__name__}: {e})") from e
    if meta.get("format") != FORMAT or meta.get("key") != key:
        raise CorruptCacheEntry(f"cache entry {path} has format {meta.get('format')!r} and key "
                                f"{meta.get('key')!r}; expected {FORMAT!r} and {key}")
    if tensors_digest(tensors) != meta.get("checksum"):
        raise CorruptCacheEntry(f"cache entry {path} fails its checksum (partially written or modified)")
    return tensors


class _EntryStore:
    """Keyed safetensors entries under one directory, with hit / miss / corrupt counts."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.hits = self.misses = self.corrupt = 0

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.safetensors"

    def load(self, key: str) -> Tensors | None:
        path = self.path(key)
        if not path.exists():
            return None
        try:
            tensors = read_entry(path, key)
        except CorruptCacheEntry as e:
            self.corrupt += 1
            log.warning("%s; removing it and recomputing", e)
            path.unlink(missing_ok=True)
            return None
        except FileNotFoundError:  # pruned between exists() and read
            return None
        try:
            os.utime(path)
        except OSError:
            pass
        self.hits += 1
        return tensors

    def save(self, key: str, tensors: Mapping[str, torch.Tensor], info: Mapping[str, Any]) -> Tensors:
        self.misses += 1
        return write_entry(self.path(key), key, tensors, info)


_FILE_HASHES: dict[tuple[str, int, int, int, int], str] = {}


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (memoised within the process per path, inode, size, mtime and ctime,
    so that a rewrite that keeps size and mtime is still seen: ctime cannot be set back)."""
    p = Path(path).resolve()
    st = p.stat()
    memo = (str(p), st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    if memo not in _FILE_HASHES:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _FILE_HASHES[memo] = h.hexdigest()
    return _FILE_HASHES[memo]


def state_dict_hash(module_or_state: torch.nn.Module | Mapping[str, torch.Tensor]) -> str:
    """The weights hash of an in-memory model: sha256 of its state dict's tensors."""
    state = module_or_state.state_dict() if isinstance(module_or_state, torch.nn.Module) else module_or_state
    return tensors_digest(dict(state))


class TextEmbeddingCache:
    """Embeddings of a frozen text encoder, one entry per string.

    Args:
        encoder: the encoder's name (``open_clip:ViT-B-16``).
        weights_hash: a hash of its weights (``file_sha256`` of the checkpoint, or ``state_dict_hash``).
        root: cache directory (default ``settings.cache_dir()/text_embeddings``).
    """

    def __init__(self, encoder: str, weights_hash: str, root: Path | str | None = None) -> None:
        if not encoder or not weights_hash:
            raise DataError(f"text embedding cache needs an encoder name and weights hash, got {encoder!r}, "
                            f"{weights_hash!r}")
        self.encoder, self.weights_hash = encoder, weights_hash
        self.store = _EntryStore(Path(root) if root is not None else settings.cache_dir() / "text_embeddings")

    def key(self, text: str) -> str:
        return _key({"kind": "text_embedding", "encoder": self.encoder, "weights": self.weights_hash, "text": text})

    def encode(self, texts: Sequence[str], encode_fn: Callable[[list[str]], torch.Tensor]) -> torch.Tensor:
        """Embeddings of ``texts`` stacked as ``[N, ...]``; ``encode_fn`` is called once, on the misses only."""
        rows: dict[str, torch.Tensor] = {}
        for t in dict.fromkeys(texts):
            hit = self.store.load(self.key(t))
            if hit is not None:
                rows[t] = hit["embedding"]
        misses = [t for t in dict.fromkeys(texts) if t not in rows]
        if misses:
            out = encode_fn(misses)
            if out.shape[0] != len(misses):
                raise DataError(f"text encoder {self.encoder} returned {out.shape[0]} rows for {len(misses)} strings")
            for t, row in zip(misses, out):
                rows[t] = self.store.save(self.key(t), {"embedding": row}, {"encoder": self.encoder})["embedding"]
        return torch.stack([rows[t] for t in texts]) if texts else torch.empty(0)

    def group_key(self, what: Mapping[str, Any]) -> str:
        return _key({"kind": "text_embedding_group", "encoder": self.encoder, "weights": self.weights_hash,
                     "what": dict(what)})

    def encode_group(self, what: Mapping[str, Any], compute: Callable[[], Mapping[str, torch.Tensor]]) -> Tensors:
        """One entry for a whole set of texts (a class list under its templates, say), keyed by ``what``.

        ``what`` is JSON data naming everything the tensors depend on besides the encoder and its
        weights (templates, class names, the reduction); ``compute()`` runs on a miss only.
        """
        key = self.group_key(what)
        hit = self.store.load(key)
        if hit is not None:
            return hit
        return self.store.save(key, compute(), {"encoder": self.encoder, "variant": str(what.get("variant", ""))})


class TeacherFeatureCache:
    """Outputs of a frozen teacher per video (and sampling, preprocessing).

    Args:
        model: the teacher's name (``open_clip:ViT-B-16/visual``).
        weights_hash: a hash of its weights.
        root: cache directory (default ``settings.cache_dir()/teacher``).
        video_identity: ``stat`` (resolved path + size + mtime) or ``content`` (sha256 of the file).
    """

    def __init__(self, model: str, weights_hash: str, root: Path | str | None = None,
                 video_identity: str = "stat") -> None:
        if video_identity not in ("stat", "content"):
            raise DataError(f"video_identity {video_identity!r} is not supported; accepted: stat, content")
        if not model or not weights_hash:
            raise DataError(f"teacher cache needs a model name and weights hash, got {model!r}, {weights_hash!r}")
        self.model, self.weights_hash, self.video_identity = model, weights_hash, video_identity
        self.store = _EntryStore(Path(root) if root is not None else settings.cache_dir() / "teacher")

    def video_id(self, video: str | Path | Mapping[str, Any]) -> dict[str, Any]:
        """What identifies a video: a given mapping as is, else its file's stat or content hash."""
        if isinstance(video, Mapping):
            return dict(video)
        p = Path(video)
        if not p.exists():
            raise DataError(f"teacher cache: video {p} does not exist (give a mapping to identify in-memory videos)")
        if self.video_identity == "content":
            return {"sha256": file_sha256(p)}
        st = p.stat()
        return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def key(self, video: str | Path | Mapping[str, Any], sampling: Mapping[str, Any],
            preprocessing: Mapping[str, Any]) -> str:
        return _key({"kind": "teacher", "model": self.model, "weights": self.weights_hash,
                     "video": self.video_id(video), "sampling": dict(sampling), "preprocessing": dict(preprocessing)})

    def get_or_compute(self, video: str | Path | Mapping[str, Any], compute: Callable[[], Any],
                       sampling: Mapping[str, Any], preprocessing: Mapping[str, Any]) -> Any:
        """The cached output for this input, else ``compute()`` stored and returned.

        ``compute`` returns a tensor or a dict of tensors; the same type comes back.
        """
        key = self.key(video, sampling, preprocessing)
        hit = self.store.load(key)
        if hit is not None:
            return hit["__tensor__"] if set(hit) == {"__tensor__"} else hit
        out = compute()
        single = isinstance(out, torch.Tensor)
        stored = self.store.save(key, {"__tensor__": out} if single else out,
                                 {"model": self.model, "video": str(video)})
        return stored["__tensor__"] if single else stored

    def get_many(self, videos: Sequence[Any], samplings: Sequence[Mapping[str, Any]],
                 preprocessing: Mapping[str, Any], compute: Callable[[list[int]], torch.Tensor]) -> list[torch.Tensor]:
        """Per-clip outputs for a batch; ``compute(indices)`` runs once on the clips that missed (rows in order)."""
        keys = [self.key(v, s, preprocessing) for v, s in zip(videos, samplings)]
        out: list[torch.Tensor | None] = []
        for k in keys:
            hit = self.store.load(k)
            out.append(None if hit is None else hit["__tensor__"])
        missing = [i for i, o in enumerate(out) if o is None]
        if missing:
            rows = compute(missing)
            for i, row in zip(missing, rows):
                out[i] = self.store.save(keys[i], {"__tensor__": row}, {"model": self.model})["__tensor__"]
        return out  # type: ignore[return-value]


def teacher_cache_from_config(value: bool | Mapping[str, Any] | None, model: str,
                              weights_hash: str) -> TeacherFeatureCache | None:
    """The cache a method opted into with ``teacher_cache=True`` (or ``{root:, video_identity:}``), else None."""
    if not value:
        return None
    opts = dict(value) if isinstance(value, Mapping) else {}
    return TeacherFeatureCache(model, weights_hash, root=opts.get("root"),
                               video_identity=opts.get("video_identity", "stat"))


def cache_info(root: Path | None = None) -> list[dict[str, Any]]:
    """Disk use per kind (every directory under the cache root): files, bytes, oldest and newest mtime."""
    root = Path(root) if root is not None else settings.cache_dir()
    rows = []
    for d in sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []:
        files = [f for f in d.rglob("*") if f.is_file()]
        mt = [f.stat().st_mtime for f in files]
        rows.append({"kind": d.name, "what": KINDS.get(d.name, ""), "files": len(files),
                     "bytes": sum(f.stat().st_size for f in files), "oldest": min(mt, default=None),
                     "newest": max(mt, default=None), "path": str(d)})
    return rows


def prune(root: Path | None = None, older_than_days: float | None = None, everything: bool = False,
          kinds: Sequence[str] | None = None, dry_run: bool = False) -> tuple[int, int]:
    """Remove entries not used for ``older_than_days`` (or all with ``everything``); returns (files, bytes).

    Leftover temporary files of crashed writers older than an hour are removed too.
    """
    if not everything and older_than_days is None:
        raise DataError("prune needs --older-than DAYS or --all")
    root = Path(root) if root is not None else settings.cache_dir()
    now = time.time()
    cutoff = now - older_than_days * 86400 if older_than_days is not None else now + 1
    n = size = 0
    for row in cache_info(root):
        if kinds and row["kind"] not in kinds:
            continue
        for f in Path(row["path"]).rglob("*"):
            if not f.is_file():
                continue
            st = f.stat()
            stale_tmp = f.name.endswith(".tmp") and st.st_mtime < now - 3600
            if everything or st.st_mtime < cutoff or stale_tmp:
                n, size = n + 1, size + st.st_size
                if not dry_run:
                    f.unlink(missing_ok=True)
        if everything and not dry_run and not kinds:
            shutil.rmtree(row["path"], ignore_errors=True)
    return n, size
