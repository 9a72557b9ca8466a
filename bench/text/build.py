"""``bench text build``: produce and cache the text a method needs for a dataset.

For each need of the method, the need's requests go through the chosen provider behind the
answer cache; the assembled artefact is written (atomically) to
``$BENCH_HOME/text/<dataset>/<need>/<provider>-<model>.json`` with its provenance: provider,
model, cache keys, counts, options. Per-video needs also write ``<...>.jsonl`` next to it.
Methods read artefacts with ``load_artefact``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import settings
from bench.errors import DataError
from bench.store import atomic_write_json
from bench.text.answer_cache import CachingProvider
from bench.text.context import DatasetView, NeedContext, StageStats, dataset_view
from bench.text.keyframes import KeyframeFn
from bench.text.needs import TEXT_NEEDS, method_needs
from bench.text.providers import Provider, make_provider
from bench.text.request import TextProvenance

log = logging.getLogger(__name__)
ARTEFACT_FORMAT = 1


def artefact_root() -> Path:
    return settings.home() / "text"


def provider_tag(provider: str, model: str) -> str:
    """A file-name-safe tag for a provider and model (``openai-gpt-4o``)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", f"{provider}-{model}").strip("_")


def artefact_path(dataset: str, need: str, tag: str, root: Path | None = None) -> Path:
    return (root or artefact_root()) / dataset / need / f"{tag}.json"


# Artefacts loaded in this process (by methods building their models), for the run's record.
LOADED: list[dict[str, Any]] = []


def loaded_provenance() -> list[dict[str, Any]]:
    """Which text artefacts this process read, with the provider, model and cache keys that wrote them."""
    return list(LOADED)


def load_artefact(dataset: str, need: str, tag: str | None = None, root: Path | None = None) -> dict[str, Any]:
    """The artefact of ``need`` for ``dataset`` (with ``rows`` read from its JSONL when it has one).

    Without ``tag``, the only artefact present is used; several present is an error listing them.
    """
    folder = (root or artefact_root()) / dataset / need
    tags = sorted(p.stem for p in folder.glob("*.json"))
    if tag is None:
        if len(tags) != 1:
            what = f"several ({', '.join(tags)}); pick one with tag=" if tags else "none"
            raise DataError(f"text artefact {need!r} of dataset {dataset!r} under {folder}: {what}. Build it with "
                            f"'bench text build --dataset {dataset} --need {need}'")
        tag = tags[0]
    path = folder / f"{tag}.json"
    if not path.exists():
        raise DataError(f"no text artefact {path}; built tags: {', '.join(tags) or 'none'}")
    art = json.loads(path.read_text())
    if art.get("rows_file"):
        rows_path = path.with_name(art["rows_file"])
        art["rows"] = [json.loads(line) for line in rows_path.read_text().splitlines() if line.strip()]
    entry = {"dataset": dataset, "need": need, "tag": tag, "path": str(path), "provenance": art.get("provenance")}
    if art.get("resources") is not None:  # linguistic resources a need used (alt's corpus: stop words, WordNet)
        entry["resources"] = art["resources"]
    if entry not in LOADED:
        LOADED.append(entry)
    return art


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            for row in rows:
                f.write(json.dumps(row, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclasses.dataclass
class NeedResult:
    need: str
    path: Path
    stats: dict[str, StageStats]
    provenance: dict[str, Any]

    def summary(self) -> str:
        t = sum(s.total for s in self.stats.values())
        c = sum(s.from_cache for s in self.stats.values())
        a = sum(s.asked for s in self.stats.values())
        return f"{self.need}: {t} answers ({c} from cache, {a} asked) -> {self.path}"


def run_need(need: str, view: DatasetView, provider: Provider, options: dict[str, Any] | None = None, *,
             method: str | None = None, root: Path | None = None, progress: bool = True,
             keyframe_fn: KeyframeFn | None = None, **retry: Any) -> NeedResult:
    """Run one need on a dataset view with a provider and write its artefact."""
    spec = TEXT_NEEDS.get(need, "bench text build --need")
    opts = spec.options(options)
    ctx = NeedContext(view, provider, opts, progress=progress, keyframe_fn=keyframe_fn, **retry)
    art = spec.run(ctx)
    path = artefact_path(view.name, need, provider_tag(provider.name, provider.model), root)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = art.pop("jsonl", None)
    if rows is not None:
        _write_jsonl(path.with_suffix(".jsonl"), rows)
        art["rows_file"] = path.with_suffix(".jsonl").name
    prov = ctx.provenance.to_dict()
    record = {
        "format": ARTEFACT_FORMAT, "need": need, "method": method, "dataset": view.name,
        "provider": provider.name, "model": provider.model, "options": opts,
        "stats": {k: dataclasses.asdict(v) for k, v in ctx.stats.items()},
        "provenance": prov, "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **art,
    }
    atomic_write_json(path, record)
    return NeedResult(need, path, ctx.stats, prov)


def build(method: str | None, dataset: str, provider: str = "offline", *, need: str | None = None,
          need_options: dict[str, Any] | None = None, provider_options: dict[str, Any] | None = None,
          cache: bool = True, cache_root: Path | None = None, root: Path | None = None, progress: bool = True,
          view: DatasetView | None = None, keyframe_fn: KeyframeFn | None = None,
          retry: dict[str, Any] | None = None) -> list[NeedResult]:
    """Build every text need of ``method`` (or just ``need``) for ``dataset`` with ``provider``.

    Answers go through the on-disk cache unless ``cache=False``, so a rerun resumes and a
    finished build costs no model call. ``retry`` sets the item-level retry policy (``attempts``,
    ``base_delay``, ``max_delay``, ``sleep``). Raises ``TextBuildError`` when items got no answer.
    """
    needs = [(need, need_options or {})] if need else [(n, {**o, **(need_options or {})}) for n, o in
                                                        method_needs(str(method))]
    view = view or dataset_view(dataset)
    inner = make_provider(provider, where="bench text build --provider", **(provider_options or {}))
    prov: Provider = CachingProvider(inner, root=cache_root) if cache else inner
    results = []
    for name, opts in needs:
        if isinstance(prov, CachingProvider):
            prov.provenance = TextProvenance()
        res = run_need(name, view, prov, opts, method=method, root=root, progress=progress, keyframe_fn=keyframe_fn,
                       **(retry or {}))
        log.debug("%s", res.summary())
        results.append(res)
    return results
