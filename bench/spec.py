"""RunSpec: the unit of work, resolved and hashed into a run id.

A spec names a method and its size, a protocol with its parameters, a dataset, a seed and
dotted overrides of the method's config. Its run id is a short hash of the canonical JSON of
what determines the result: the names, the seed, and what they resolve to
(``bench.identity.resolve``, which registers itself here): the method config after the overrides,
the protocol parameters with defaults filled in, the content of every annotation and class list the episodes read and
of every weights file. So an override equal to its default gives the same run id, and a changed
split file, class list or weights file gives a new one. Labels (grid name, case name) are carried
for tables but are not hashed, so two grids that contain the same cell share its record.

A spec that cannot be resolved (an unknown method, a dataset without a root here) still has a
run id, computed from its raw fields and marked ``unresolved``; it never runs (``bench.job.prepare``
refuses it), so no record is ever written under such an id.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from typing import Any

from bench.errors import BenchError

SPEC_VERSION = 2  # 2: the run id hashes the resolved config, data and weights (issue 15)
_LABEL_FIELDS = ("grid", "case", "cell")

# What a spec's names resolve to (``resolve``) and what a synthetic dataset name stands for here (``world``)
# are computed above this module: ``bench.identity`` registers both when it is imported, and every entry
# point (``bench.cli``, ``bench.job``) imports it. A spec asked for its id before that refuses: an id hashed
# from less than the whole identity would look right and be wrong.
_RESOLVERS: dict[str, Callable[..., dict[str, Any]]] = {}


def register_resolvers(resolve: Callable[[RunSpec], dict[str, Any]], world: Callable[[], dict[str, Any]]) -> None:
    """Set how specs resolve (``bench.identity.resolve``) and the synthetic world's identity."""
    _RESOLVERS.update(resolve=resolve, world=world)


def _resolver(name: str) -> Callable[..., dict[str, Any]]:
    try:
        return _RESOLVERS[name]
    except KeyError:
        raise BenchError(f"a RunSpec's identity needs its {name!r} resolver, which bench.identity registers when "
                         f"imported; import bench.identity before asking for run ids") from None


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the same content always gives the same text."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def short_hash(obj: Any, n: int = 12) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:n]


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """One run of one method under one protocol on one dataset.

    Attributes:
        method: registered method name (``bench ls methods``).
        size: the method's config variant, e.g. ``tiny`` or ``b16_8f``.
        protocol: registered protocol name.
        dataset: registered dataset name (for zero-shot: the target dataset).
        seed: the seed of training and of every random choice the protocol makes.
        protocol_args: protocol parameters (shots, mode, views, ...).
        overrides: dotted keys into the method's MMEngine config and their values.
        grid, case, cell: labels for tables; not part of the run id.
    """

    method: str
    protocol: str
    dataset: str
    size: str = "tiny"
    seed: int = 0
    protocol_args: dict[str, Any] = dataclasses.field(default_factory=dict)
    overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
    grid: str | None = None
    case: str | None = None
    cell: int | None = None

    def fields(self) -> dict[str, Any]:
        """The spec as written, without its labels (what an older record is matched on)."""
        d = dataclasses.asdict(self)
        for k in _LABEL_FIELDS:
            d.pop(k)
        return d

    def resolved(self) -> dict[str, Any] | None:
        """What the names resolve to (``bench.identity.resolve``), computed once per spec; None if it cannot."""
        cache = self.__dict__.get("_resolved")
        if cache is None:
            resolve = _resolver("resolve")
            try:
                cache = (resolve(self), None)
            except Exception as e:  # noqa: BLE001 - the spec is refused by validation with this error
                cache = (None, f"{type(e).__name__}: {e}")
            object.__setattr__(self, "_resolved", cache)
        return cache[0]

    def resolve_error(self) -> str | None:
        self.resolved()
        return self.__dict__["_resolved"][1]

    def identity(self) -> dict[str, Any]:
        """What determines the result (what the run id hashes)."""
        d: dict[str, Any] = {k: getattr(self, k) for k in ("method", "size", "protocol", "dataset", "seed")}
        d["spec_version"] = SPEC_VERSION
        if self.dataset.startswith("syn_"):  # the same name is a different dataset in each synthetic world
            d["world"] = _resolver("world")()
        resolved = self.resolved()
        if resolved is None:
            d.update(protocol_args=self.protocol_args, overrides=self.overrides, unresolved=True)
        else:
            d["resolved"] = resolved
        return d

    @property
    def run_id(self) -> str:
        cached = self.__dict__.get("_run_id")
        if cached is None:
            cached = short_hash(self.identity())
            object.__setattr__(self, "_run_id", cached)
        return cached

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown RunSpec fields {sorted(unknown)}; accepted: {sorted(names)}")
        return cls(**d)

    def describe(self) -> str:
        ov = " ".join(f"{k}={v}" for k, v in sorted(self.overrides.items()))
        pa = " ".join(f"{k}={v}" for k, v in sorted(self.protocol_args.items()))
        return f"{self.method}[{self.size}] {self.protocol}({pa}) on {self.dataset} seed={self.seed} {ov}".strip()
