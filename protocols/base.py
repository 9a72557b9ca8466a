"""What a protocol is: a named, versioned plan of episodes, run through MMEngine and aggregated.

A protocol validates its parameters at construction (so a grid is refused before anything is
submitted), plans its episodes deterministically from the spec (classes, videos, repeats),
runs each episode (train if it trains, then test) and aggregates the episodes the way the
papers report them. Every episode records the exact class list and video lists it used.

Parameters are declared, not checked by hand: a protocol lists them in ``defaults`` (name ->
default) and types them in ``params`` (name -> :class:`Param`: kind, range, choices, whether
null is accepted). Construction fills in the defaults and checks every value against its
declaration before anything is submitted, with a message naming the parameter, the value, where
it came from and what is accepted; ``validate_args`` is left for checks across parameters.
A parameter in ``defaults`` without a ``Param`` gets one inferred from its default (an int
default accepts ints, a float default numbers, a str default strings, a None default anything),
so a new parameter is typed from the start; declare a ``Param`` to give it a range or choices::

    defaults = {**Supervised.defaults, "splits": [1]}
    params = {**Supervised.params, "splits": Param("list", item="int", min=1, max=3, nonempty=True)}

The filled-in parameters (``protocol.args``) are part of the run id, so a parameter spelt out
at its default names the same run as one left out.
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
            from bench.data.official_files import read_header

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


_KINDS = ("int", "float", "str", "bool", "views", "list", "any")


@dataclasses.dataclass(frozen=True)
class Param:
    """The declared type of a protocol parameter.

    Attributes:
        kind: ``int`` (not bool), ``float`` (any number, stored as float), ``str``, ``bool``,
            ``views`` (``"<clips>x<crops>"``, both >= 1), ``list`` (of ``item``) or ``any``.
        min, max: inclusive bounds of a number (or of each item of a list of numbers).
        choices: the accepted values.
        nullable: whether null (None) is accepted.
        item: the kind of a list's items; nonempty: a list must not be empty.
    """

    kind: str
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None
    nullable: bool = False
    item: str = "any"
    nonempty: bool = False

    def accepted(self) -> str:
        if self.choices is not None:
            text = "one of " + ", ".join(map(repr, self.choices))
        elif self.kind == "views":
            text = "'<clips>x<crops>' with both >= 1, e.g. '1x1' or '4x3'"
        elif self.kind == "list":
            text = f"a {'non-empty ' if self.nonempty else ''}list of {self.item}"
        else:
            text = {"int": "an integer", "float": "a number", "str": "a string", "bool": "true or false",
                    "any": "any value"}[self.kind]
        if self.min is not None and self.max is not None:
            text += f" in [{self.min}, {self.max}]"
        elif self.min is not None:
            text += f" >= {self.min}"
        elif self.max is not None:
            text += f" <= {self.max}"
        return text + (" or null" if self.nullable else "")

    def _scalar(self, kind: str, value: Any) -> tuple[bool, Any]:
        if kind == "int":
            return isinstance(value, int) and not isinstance(value, bool), value
        if kind == "float":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return ok, float(value) if ok else value
        if kind == "str":
            return isinstance(value, str), value
        if kind == "bool":
            return isinstance(value, bool), value
        if kind == "views":
            if not isinstance(value, str):
                return False, value
            parts = value.lower().split("x")
            ok = len(parts) == 2 and all(p.isdigit() and int(p) >= 1 for p in parts)
            return ok, value
        return True, value

    def _in_range(self, value: Any) -> bool:
        if isinstance(value, int | float) and not isinstance(value, bool):
            if self.min is not None and value < self.min:
                return False
            if self.max is not None and value > self.max:
                return False
        return True

    def check(self, name: str, value: Any, where: str = "") -> Any:
        """The value, normalised (ints given for a float become floats); ConfigError when it is not accepted."""
        def refuse() -> ConfigError:
            src = f" (from {where})" if where else ""
            return ConfigError(f"{name}={value!r}{src} has type {type(value).__name__}; accepted: {self.accepted()}")

        if value is None:
            if self.nullable or self.kind == "any":
                return None
            raise refuse()
        if self.kind == "list":
            if not isinstance(value, list | tuple) or (self.nonempty and not value):
                raise refuse()
            out = []
            for v in value:
                ok, v = self._scalar(self.item, v)
                if not ok or not self._in_range(v):
                    raise refuse()
                out.append(v)
            value = out
        else:
            ok, value = self._scalar(self.kind, value)
            if not ok or not self._in_range(value):
                raise refuse()
        if self.choices is not None and value not in self.choices:
            raise refuse()
        return value

    @classmethod
    def infer(cls, default: Any) -> Param:
        """The declaration of a parameter typed only by its default."""
        if default is None:
            return cls("any")
        if isinstance(default, bool):
            return cls("bool")
        if isinstance(default, int):
            return cls("int")
        if isinstance(default, float):
            return cls("float")
        if isinstance(default, str):
            return cls("str")
        if isinstance(default, list | tuple):
            return cls("list")
        return cls("any")


# shared declarations
EPOCHS = Param("int", min=1, nullable=True)
SPLIT = Param("str")
INIT_FROM = Param("str", nullable=True)
VIEWS = Param("views")
AVERAGE_CLIPS = Param("str", choices=("prob", "score"), nullable=True)


class Protocol:
    """Base class. Subclasses set ``name``, ``version``, ``defaults``, ``params``; implement ``plan``, ``aggregate``."""

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    defaults: ClassVar[dict[str, Any]] = {}
    params: ClassVar[dict[str, Param]] = {}
    requires_class_text: ClassVar[bool] = False

    @classmethod
    def declared(cls) -> dict[str, Param]:
        """Every parameter's declaration (inferred from its default where ``params`` has none)."""
        return {k: cls.params.get(k) or Param.infer(v) for k, v in cls.defaults.items()}

    def __init__(self, _where: str = "", **args: Any) -> None:
        unknown = set(args) - set(self.defaults)
        if unknown:
            raise ConfigError(
                f"protocol {self.name!r} got unknown parameters {sorted(unknown)}"
                f"{f' (from {_where})' if _where else ''}; accepted: {sorted(self.defaults)}"
            )
        declared = self.declared()
        self.args = {}
        for k, default in self.defaults.items():
            value = args[k] if k in args else default
            self.args[k] = declared[k].check(f"{self.name}.{k}", value, _where) if k in args else value
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
    if args is not None and not isinstance(args, dict):
        raise ConfigError(f"protocol_args={args!r} (from {where}) has type {type(args).__name__}; accepted: a mapping "
                          f"of parameter names to values")
    return PROTOCOLS.get(name, where)(_where=where, **(args or {}))
