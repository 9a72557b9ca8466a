"""The offline provider: answers without any network, from user files and dataset oracles.

Answer files (format documented in ``bench/text/README.md``):

- ``*.jsonl``: one ``{"item": ..., "prompt_id": ..., "answer": ...}`` object per line
  (optional ``"dataset"``; ``"answer"`` may be a list of strings, joined by newlines).
- ``*.json``: ``{"<prompt_id>": {"<item>": "<answer>" | ["<line>", ...]}}``, e.g. a class ->
  descriptions bank under ``"vlc/expand"``.

An oracle is a callable ``(request) -> str`` registered for a dataset with
``register_oracle(dataset, fn)``; the synthetic benchmark registers one that answers from the
generator's ground truth. An oracle that cannot answer raises ``LookupError``. Files are
consulted first, then the request's dataset oracle; otherwise a clear error says what was tried.
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from bench.errors import ConfigError
from bench.registry import Registry
from bench.text.providers import ProviderError
from bench.text.request import TextRequest

log = logging.getLogger(__name__)

Oracle = Callable[[TextRequest], str]
ORACLES: Registry[Oracle] = Registry("text oracle")
# Modules that register oracles when imported (the synthetic benchmark registers its own here).
ORACLE_PLUGINS = ("bench.data.catalog", "bench.data.synthetic.oracle")
_plugins_loaded = False


# Labels of the oracles' quality settings, by the plugin that registered them: called each time a
# provider is built (settings may change between providers) and written into its model name.
ORACLE_LABELS: dict[str, Callable[[], str]] = {}


def register_oracle(dataset: str, fn: Oracle | None = None) -> Any:
    """Register ``fn(request) -> str`` as the oracle of ``dataset``; usable as a decorator."""
    return ORACLES.register(dataset, fn)


def register_oracle_label(plugin: str, label: Callable[[], str]) -> None:
    """Let ``plugin``'s oracles name their settings (``label()``) in the offline provider's model name."""
    ORACLE_LABELS[plugin] = label


def _load_oracle_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for mod in ORACLE_PLUGINS:
        try:
            plugin = importlib.import_module(mod)
        except ImportError as e:  # the dataset side may not be installed in a minimal checkout
            log.debug("oracle plugin %s not importable: %s", mod, e)
            continue
        # called, not left to the import's side effects: a plugin imported before this module (the
        # synthetic world is imported by the data catalog long before any text is asked for) ran its
        # module code when there was nothing to register into, and importing it again runs nothing
        hook = getattr(plugin, "register_oracles", None)
        if callable(hook):
            hook()


def _as_text(value: Any, where: str) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "\n".join(value)
    raise ConfigError(f"answer in {where} must be a string or a list of strings, got {type(value).__name__}")


def load_answer_file(path: Path) -> dict[tuple[str | None, str, str], str]:
    """Answers of one file as ``{(dataset, prompt_id, item): answer}`` (dataset None = any)."""
    out: dict[tuple[str | None, str, str], str] = {}
    if not path.exists():
        raise ConfigError(f"offline answer file {path} does not exist")
    if path.suffix == ".jsonl":
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{where} is not valid JSON ({e}); expected one object per line") from e
            missing = [k for k in ("item", "prompt_id", "answer") if k not in row]
            if missing:
                raise ConfigError(f"{where} lacks {missing}; each line needs item, prompt_id, answer")
            out[(row.get("dataset"), row["prompt_id"], str(row["item"]))] = _as_text(row["answer"], where)
    elif path.suffix == ".json":
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise ConfigError(f"offline answer file {path} is not valid JSON ({e})") from e
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise ConfigError(f"offline answer file {path} must map prompt_id -> {{item: answer}}")
        for pid, answers in data.items():
            for item, ans in answers.items():
                out[(None, pid, str(item))] = _as_text(ans, f"{path} [{pid!r}][{item!r}]")
    else:
        raise ConfigError(f"offline answer file {path} has suffix {path.suffix!r}; accepted: .jsonl, .json")
    return out


def _oracle_label() -> str:
    """The registered oracles' settings, e.g. the synthetic world's ``oracle(world=3,noise=0,omission=0,seed=0)``."""
    _load_oracle_plugins()
    return "+".join(sorted({label() for label in ORACLE_LABELS.values()}))


class OfflineProvider:
    """Answers from answer files, then from the dataset's registered oracle; never touches the network.

    Args:
        files: answer files (``.jsonl`` / ``.json``) or directories of them.
        model: a label for provenance (default ``files+oracle``).
        use_oracles: whether to consult registered dataset oracles.
    """

    name = "offline"

    def __init__(self, files: Iterable[str | Path] | str | None = None, model: str | None = None,
                 use_oracles: bool = True, **unknown: Any) -> None:
        if unknown:
            raise ConfigError(f"offline provider got unknown options {sorted(unknown)}; accepted: files, model, "
                              "use_oracles")
        if isinstance(files, str | Path):
            files = [files]
        self.files: list[Path] = []
        for f in files or []:
            p = Path(f).expanduser()
            self.files.extend(sorted([*p.glob("*.json"), *p.glob("*.jsonl")]) if p.is_dir() else [p])
        self.answers: dict[tuple[str | None, str, str], str] = {}
        for p in self.files:
            self.answers.update(load_answer_file(p))
        self.use_oracles = use_oracles
        # The oracle's noise settings are part of the model name, hence of every cache key: a
        # "weaker VLM" never reads answers cached for a stronger one.
        label = _oracle_label() if use_oracles else ""
        self.model = model or "+".join(x for x in ("files" if self.files else "", label) if x)

    def ask(self, request: TextRequest) -> str:
        item = str(request.item)
        pid = request.prompt_id or ""
        for ds in (request.dataset, None):
            ans = self.answers.get((ds, pid, item))
            if ans is not None:
                return ans
        tried = [f"answer files {[str(p) for p in self.files]}" if self.files else "no answer files"]
        if self.use_oracles and request.dataset:
            _load_oracle_plugins()
            if request.dataset in ORACLES:
                try:
                    return ORACLES.get(request.dataset)(request)
                except LookupError as e:
                    tried.append(f"oracle of {request.dataset!r} could not answer ({e})")
            else:
                tried.append(f"no oracle for dataset {request.dataset!r} (oracles: {ORACLES.names() or 'none'})")
        raise ProviderError(
            f"offline provider has no answer for {request.describe()}; tried {'; '.join(tried)}. "
            "Add a line {\"item\": ..., \"prompt_id\": ..., \"answer\": ...} to an answer file (bench/text/README.md)"
        )
