"""What a protocol is: a named, versioned plan of episodes, run through MMEngine and aggregated.

A protocol validates its parameters at construction (so a grid is refused before anything is
submitted), plans its episodes deterministically from the spec (classes, videos, repeats),
runs each episode (train if it trains, then test) and aggregates the episodes the way the
papers report them. Every episode records the exact class list and video lists it used.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path
from typing import Any, ClassVar

from bench.errors import ConfigError
from bench.registry import PROTOCOLS


def file_sha256(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclasses.dataclass
class Split:
    """A list of videos to train or test on: annotation list + the root its paths are relative to.

    Attributes:
        ann_file: the MMAction2 video list (``<relative path> <label>`` per line) the episode uses.
        video_root: the directory those paths are relative to.
        dataset: the dataset the videos belong to.
        source: where ``ann_file`` came from when the protocol wrote it (a converted published
            split file, a class subset ...): the source file and its sha256, and how it was derived.
        files: other files the split is defined by (AVA's CSVs, proposals, exclusions), recorded with sha256.
        multilabel: lines hold several labels (``<path> <l1> <l2> ...``; MMAction2 ``multi_class=True``).
    """

    ann_file: Path
    video_root: Path
    dataset: str
    source: dict[str, Any] | None = None
    files: dict[str, Path] = dataclasses.field(default_factory=dict)
    multilabel: bool = False

    def describe(self) -> dict[str, Any]:
        data = Path(self.ann_file).read_bytes()
        d: dict[str, Any] = {
            "dataset": self.dataset,
            "ann_file": str(self.ann_file),
            "sha256": hashlib.sha256(data).hexdigest(),
            "num_videos": sum(1 for line in data.decode().splitlines() if line.strip() and not line.startswith("# ")),
        }
        if data.startswith(b"# "):  # the provenance header of an imported list (videos dropped as missing ...)
            from bench.data.importers import read_header

            d["import"] = read_header(Path(self.ann_file))
        if self.source:
            d["source"] = self.source
        if self.files:
            d["files"] = {k: {"path": str(v), "sha256": file_sha256(v)} for k, v in self.files.items()}
        return d


@dataclasses.dataclass
class Episode:
    """One train/test unit of a protocol (a repeat, a split, a shot count ...)."""

    name: str
    classes: list[str]
    test: Split
    train: Split | None = None
    train_classes: list[str] | None = None
    params: dict[str, Any] = dataclasses.field(default_factory=dict)

    def describe(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "name": self.name,
            "num_classes": len(self.classes),
            "classes_sha256": hashlib.sha256("\n".join(self.classes).encode()).hexdigest(),
            "test": self.test.describe(),
            "params": self.params,
        }
        if len(self.classes) <= 1000:
            d["classes"] = self.classes
        if self.train is not None:
            d["train"] = self.train.describe()
        if self.train_classes is not None and self.train_classes != self.classes:
            d["num_train_classes"] = len(self.train_classes)
            d["train_classes_sha256"] = hashlib.sha256("\n".join(self.train_classes).encode()).hexdigest()
            if len(self.train_classes) <= 1000:
                d["train_classes"] = self.train_classes
        return d


class Protocol:
    """Base class. Subclasses set ``name``, ``version``, ``defaults`` and implement ``plan``/``aggregate``."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    defaults: ClassVar[dict[str, Any]] = {}
    requires_class_text: ClassVar[bool] = False

    def __init__(self, **args: Any) -> None:
        unknown = set(args) - set(self.defaults)
        if unknown:
            raise ConfigError(
                f"protocol {self.name!r} got unknown parameters {sorted(unknown)}; accepted: {sorted(self.defaults)}"
            )
        self.args = {**self.defaults, **args}
        self.validate_args()

    def validate_args(self) -> None:
        """Check parameter values; raise ConfigError naming the bad one."""

    def plan(self, spec, method, dataset) -> list[Episode]:
        raise NotImplementedError

    def run_episode(self, ctx, episode: Episode) -> dict[str, Any]:
        raise NotImplementedError

    def aggregate(self, results: list[dict[str, Any]]) -> dict[str, Any]:
        """Default: a single episode's metrics."""
        if len(results) != 1:
            raise NotImplementedError(f"{self.name} must define how {len(results)} episodes aggregate")
        return dict(results[0])


def register_protocol(cls: type[Protocol]) -> type[Protocol]:
    return PROTOCOLS.register(cls.name, cls)


def build_protocol(name: str, args: dict[str, Any] | None = None, where: str = "") -> Protocol:
    return PROTOCOLS.get(name, where)(**(args or {}))
