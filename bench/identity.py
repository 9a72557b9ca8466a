"""What a run id hashes: the resolved inputs of a run.

``file_sha256(path)`` (``bench.models.files``) is the content identity of one
file (weights, annotation lists, class lists), cached by resolved path, size and times.

``resolve(spec)`` computes the parts of a run's identity that the spec's names stand for:

- ``config``: the sha256 of the method's MMEngine config after the overrides (and the frame
  sync), so that an override equal to the default, or a default spelt out, changes nothing;
- ``protocol_args``: the protocol's parameters with its defaults filled in, and its version;
- ``data``: per episode, the sha256 of every annotation list the episode reads (the list as
  the episode uses it, and the published/configured file it was derived from), of its class
  list and label order, and the episode's parameters;
- ``weights``: the sha256 of every weights file the model config names, and of an ``init_from``
  checkpoint file (a finished run given as ``init_from`` counts by its run id).

Paths are not part of it (the same files under another mount point are the same run); file
contents are. Planning an identity writes derived lists into a temporary directory, never into
``work_dirs`` (see ``protocols.lists.planning_dir``).
"""

from __future__ import annotations

import copy
import hashlib
import logging
from pathlib import Path
from typing import Any

from bench.models.files import file_sha256

log = logging.getLogger(__name__)
def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def classes_sha256(classes: list[str]) -> str:
    """The label map of an episode: class names in label order (label i is line i)."""
    return text_sha256("\n".join(classes))


# ----------------------------------------------------------------------------------------------
# the method config (parsed once per file version: bench.method.method_config)


def resolved_config(spec):
    """The method config of ``spec``: its size's file, the overrides applied (type-checked), frames synced.

    One implementation, ``protocols.engine.resolved_config`` (the protocols' plans ask for it too).
    """
    from protocols.engine import resolved_config as engine_config

    return engine_config(spec)


def config_sha256(cfg) -> str:
    from bench.spec import canonical_json

    d = cfg.to_dict() if hasattr(cfg, "to_dict") else dict(cfg)
    return text_sha256(canonical_json(d))


def weights_fields(cfg) -> dict[str, str | None]:
    """Every weights field of the model config (dotted key -> value as written)."""
    found: dict[str, Any] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                key = f"{path}.{k}" if path else str(k)
                if (v is None or isinstance(v, str)) and (str(k).endswith("weights") or k in ("pretrained",
                                                                                               "checkpoint")):
                    found[key] = v
                else:
                    walk(v, key)
        elif isinstance(node, list | tuple):
            for i, v in enumerate(node):
                walk(v, f"{path}.{i}")

    model = cfg.model.to_dict() if hasattr(cfg.model, "to_dict") else cfg.model
    walk(model, "model")
    return found


def weights_identity(cfg) -> dict[str, Any]:
    """Dotted weights key -> ``{"path", "sha256"}`` of the file it resolves to (None: random init)."""
    from bench.models.clip import resolve_weights

    out: dict[str, Any] = {}
    for key, value in weights_fields(cfg).items():
        path = resolve_weights(value) if value is not None else None
        out[key] = {"path": None, "sha256": None, "note": "random initialisation"} if path is None else {
            "path": str(path), "sha256": file_sha256(path)}
    return out


# ----------------------------------------------------------------------------------------------
# data


_PATH_KEYS = {"file", "path", "ann_file", "converted_to"}


def _strip_paths(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _strip_paths(v) for k, v in node.items() if k not in _PATH_KEYS}
    if isinstance(node, list | tuple):
        return [_strip_paths(v) for v in node]
    if isinstance(node, Path):
        return None
    return node


def split_identity(split) -> dict[str, Any] | None:
    if split is None:
        return None
    d: dict[str, Any] = {"dataset": split.dataset, "sha256": file_sha256(split.ann_file)}
    if split.source:
        d["source"] = _strip_paths(split.source)
    if split.files:
        d["files"] = {k: file_sha256(v) for k, v in sorted(split.files.items())}
    return d


def episode_identity(ep) -> dict[str, Any]:
    d = {
        "name": ep.name,
        "classes_sha256": classes_sha256(ep.classes),
        "num_classes": len(ep.classes),
        "train": split_identity(ep.train),
        "test": split_identity(ep.test),
        "params": _strip_paths(ep.params),
    }
    if ep.train_classes is not None:
        d["train_classes_sha256"] = classes_sha256(ep.train_classes)
    return d


def _init_identity(protocol) -> dict[str, Any] | None:
    """The weights a protocol starts from: a checkpoint file by its sha256; a finished run by its run id (which
    names every input that produced those weights), so that a cell can be named before its producer has run."""
    value = protocol.args.get("init_from")
    if value is None:
        return None
    path = Path(str(value)).expanduser()
    if path.is_file():
        return {"init_from": "file", "sha256": file_sha256(path)}
    return {"init_from": "run", "run_id": str(value)}


def resolve(spec) -> dict[str, Any]:
    """The resolved identity of ``spec`` (see the module docstring); raises a BenchError when it cannot run."""
    from bench.data.catalog import get_dataset
    from bench.method import get_method
    from bench.validation import spec_origin
    from protocols.base import build_protocol
    from protocols.lists import planning_dir

    where = spec_origin(spec)
    method = get_method(spec.method, where)
    protocol = build_protocol(spec.protocol, spec.protocol_args, where)
    dataset = get_dataset(spec.dataset, where)
    cfg = resolved_config(spec)
    spec.__dict__["_cfg"] = copy.deepcopy(cfg)  # handed to the first prepare() of this spec (one resolution)
    with planning_dir():
        episodes = protocol.plan(spec, method, dataset)
        data = [episode_identity(ep) for ep in episodes]
    weights = {k: v["sha256"] for k, v in weights_identity(cfg).items()}
    init = _init_identity(protocol)
    if init is not None:
        weights["init_from"] = init.get("sha256") or f"run:{init['run_id']}"
    return {
        "config_sha256": config_sha256(cfg),
        "protocol_args": dict(protocol.args),
        "protocol_version": protocol.version,
        "data": data,
        "weights": weights,
    }


def diff(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys where two identities differ (to explain why a record is stale)."""
    out = []
    for k in sorted(set(a) | set(b), key=str):
        key = f"{prefix}{k}"
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff(va, vb, key + ".")
        elif isinstance(va, list) and isinstance(vb, list) and len(va) == len(vb):
            for i, (x, y) in enumerate(zip(va, vb, strict=True)):
                if isinstance(x, dict) and isinstance(y, dict):
                    out += diff(x, y, f"{key}.{i}.")
                elif x != y:
                    out.append(f"{key}.{i}")
        elif va != vb:
            out.append(key)
    return out


def _register() -> None:
    from bench import spec
    from bench.data.synthetic.storage import synthetic_world

    # looked up at each call, so that a patched ``resolve`` (tests) is the one used
    spec.register_resolvers(lambda s: resolve(s), synthetic_world)


_register()  # RunSpec.run_id resolves through this module (bench.spec.register_resolvers)
