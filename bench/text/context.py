"""What a text need works with: the dataset view, the provider, and ``ask_many`` with counts.

``ask_many`` asks a stage's requests one by one with a tqdm bar (counts of cached / asked /
failed), retries retryable failures and answers that do not parse (dropping the cached
answer first) with backoff, and reports failures at the end of the stage: the answers that
did arrive are cached, so a rerun resumes where this one stopped. Text is never silently empty.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bench.errors import BenchError, DataError
from bench.text.answer_cache import CachingProvider, entry_path
from bench.text.keyframes import KeyframeFn, keyframe_reader
from bench.text.parsing import AnswerParseError
from bench.text.providers import Provider, TransientProviderError, backoff_delays
from bench.text.request import TextProvenance, TextRequest

log = logging.getLogger(__name__)


class TextBuildError(BenchError):
    """Some items of a build stage got no usable answer."""


@dataclasses.dataclass
class DatasetView:
    """The part of a dataset that text needs use: class names, video lists, keyframes.

    Attributes:
        name: dataset name (goes into every request, so oracles and caches know it).
        classes: class names in label order.
        videos: ``split -> [(video id, label)]``; the video id is the path relative to the video root.
        keyframes: ``video id -> K keyframes`` (None when the dataset has no videos on disk).
    """

    name: str
    classes: list[str]
    videos: Callable[[str], list[tuple[str, int]]] = lambda split: []
    keyframes: Callable[[str, int], Any] | None = None


def _read_list(path: Path) -> list[tuple[str, int]]:
    out = []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), 1):
        parts = line.split()
        if parts:
            try:
                out.append((parts[0], int(parts[-1])))
            except ValueError as e:
                raise DataError(f"{path}:{lineno}: expected '<video> <label>', got {line.strip()!r}") from e
    return out


def dataset_view(name: str) -> DatasetView:
    """The view of registered dataset ``name`` (``bench.registry.DATASETS``; an entry may be a resolver)."""
    from bench.registry import DATASETS

    info = DATASETS.get(name, "bench text build --dataset")
    if callable(info) and not hasattr(info, "classes"):
        info = info()
    root = getattr(info, "video_root", None)

    def keyframes(video_id: str, k: int) -> Any:
        if root is None:
            raise DataError(f"dataset {name!r} has no video_root, so keyframes of {video_id!r} cannot be read")
        return keyframe_reader(root, k)(video_id)

    return DatasetView(name, list(info.classes), lambda split: _read_list(info.split_file(split)), keyframes)


@dataclasses.dataclass
class StageStats:
    total: int = 0
    from_cache: int = 0
    asked: int = 0
    failed: int = 0


class NeedContext:
    """Everything a need's ``run`` gets.

    Args:
        dataset: the dataset view.
        provider: the provider (usually a ``CachingProvider``, so that counts and resume work).
        options: the need's options (defaults filled by the need).
        attempts, base_delay, max_delay: item-level retry policy.
        progress: show tqdm bars.
        max_consecutive_failures: stop a stage after this many failures in a row (a provider
            that answers nothing is reported after a few items, not after a whole dataset).
        sleep: how to wait between retries (tests record it).
    """

    def __init__(self, dataset: DatasetView, provider: Provider, options: dict[str, Any] | None = None, *,
                 attempts: int = 3, base_delay: float = 2.0, max_delay: float = 60.0, progress: bool = True,
                 sleep: Callable[[float], None] = time.sleep, keyframe_fn: KeyframeFn | None = None,
                 max_consecutive_failures: int = 25) -> None:
        self.dataset = dataset
        self.provider = provider
        self.options = dict(options or {})
        self.attempts, self.base_delay, self.max_delay = attempts, base_delay, max_delay
        self.progress = progress
        self.sleep = sleep
        self.keyframe_fn = keyframe_fn
        self.max_consecutive_failures = max_consecutive_failures
        self.stats: dict[str, StageStats] = {}
        self.provenance = getattr(provider, "provenance", None) or TextProvenance()

    def keyframes(self, video_id: str, k: int) -> Any:
        if self.keyframe_fn is not None:
            return self.keyframe_fn(video_id)
        if self.dataset.keyframes is None:
            raise DataError(f"dataset {self.dataset.name!r} cannot give keyframes of {video_id!r}")
        return self.dataset.keyframes(video_id, k)

    def _forget(self, request: TextRequest) -> None:
        if isinstance(self.provider, CachingProvider):
            entry_path(self.provider.root, self.provider.key(request)).unlink(missing_ok=True)

    def _ask_one(self, request: TextRequest, parse: Callable[[str, TextRequest], Any] | None) -> tuple[Any, bool]:
        """(parsed answer, came from cache); retries transient failures and unparsable answers."""
        delays = backoff_delays(self.attempts, self.base_delay, self.max_delay)
        for i in range(self.attempts):
            cached = isinstance(self.provider, CachingProvider) and self.provider.lookup(request) is not None
            try:
                answer = self.provider.ask(request)
                if not isinstance(self.provider, CachingProvider):  # the cache notes its own answers
                    self.provenance.note(self.provider.name, self.provider.model,
                                         request.key(self.provider.name, self.provider.model), cached=False)
                return (parse(answer, request) if parse else answer), cached
            except (TransientProviderError, AnswerParseError) as e:
                if isinstance(e, AnswerParseError):
                    self._forget(request)
                if i == self.attempts - 1:
                    raise
                log.debug("%s: %s; retrying in %.1fs", request.describe(), e, delays[i])
                self.sleep(delays[i])
        raise AssertionError("unreachable")

    def ask_many(self, stage: str, requests: Iterable[TextRequest], total: int | None = None,
                 parse: Callable[[str, TextRequest], Any] | None = None) -> Iterator[tuple[int, TextRequest, Any]]:
        """Yield ``(index, request, parsed answer)`` for each request that got an answer.

        ``parse(answer, request)`` turns an answer into what the need uses; an ``AnswerParseError``
        drops the cached answer and asks again (a model may do better the next time).

        Raises:
            TextBuildError: after the last request, when some failed (with the count and the first errors).
        """
        from tqdm import tqdm

        st = self.stats.setdefault(stage, StageStats())
        failures: list[str] = []
        streak = 0
        stopped = ""
        bar = tqdm(total=total, desc=stage, unit="ask", disable=not self.progress, leave=True)
        try:
            for i, req in enumerate(requests):
                st.total += 1
                try:
                    value, cached = self._ask_one(req, parse)
                except Exception as e:  # noqa: BLE001 (a provider's error on one item is reported, not fatal)
                    st.failed += 1
                    streak += 1
                    failures.append(f"{req.describe()}: {type(e).__name__}: {e}")
                    log.debug("no answer for %s: %s", req.describe(), e)
                    if streak >= self.max_consecutive_failures:
                        stopped = f"stopped after {streak} failures in a row; "
                        break
                else:
                    streak = 0
                    st.from_cache += cached
                    st.asked += not cached
                    yield i, req, value
                bar.update(1)
                bar.set_postfix(cached=st.from_cache, asked=st.asked, failed=st.failed, refresh=False)
        finally:
            bar.close()
        if failures:
            shown = "\n  ".join(failures[:5])
            raise TextBuildError(
                f"stage {stage!r}: {stopped}{len(failures)} of {st.total} requests got no usable answer "
                f"({st.from_cache} from cache, {st.asked} asked); answers that arrived are cached, rerun to resume. "
                f"First failures:\n  {shown}"
            )
