"""Name registries for methods, protocols and datasets.

Like lm-evaluation-harness, a duplicate name fails loudly instead of silently replacing the
first entry, and a lookup of an unknown name lists what would be accepted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


from bench.errors import RegistryError  # noqa: E402  (re-exported)


class Registry(Generic[T]):
    """A mapping from names to objects, with loud errors.

    Args:
        kind: what the registry holds ("method", "protocol", "dataset"), used in errors.
        plugins: modules imported lazily before the first lookup, so that their decorators run.
    """

    def __init__(self, kind: str, plugins: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._plugins = plugins
        self._loaded = False

    def register(self, name: str, obj: T | None = None) -> Any:
        """Register ``obj`` under ``name``; usable as a decorator when ``obj`` is omitted."""

        def _add(o: T) -> T:
            if name in self._items and self._items[name] is not o:
                raise RegistryError(
                    f"duplicate {self.kind} name {name!r}: already registered by {self._items[name]!r}, "
                    f"now again by {o!r}"
                )
            self._items[name] = o
            return o

        if obj is None:
            return _add
        return _add(obj)

    def _load(self) -> None:
        if not self._loaded:
            self._loaded = True
            for mod in self._plugins:
                importlib.import_module(mod)

    def get(self, name: str, where: str = "") -> T:
        """Return the entry ``name`` or raise an error that lists the valid names."""
        self._load()
        if name not in self._items:
            src = f" (from {where})" if where else ""
            raise RegistryError(f"unknown {self.kind} {name!r}{src}; known {self.kind}s: {', '.join(self.names())}")
        return self._items[name]

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def items(self) -> list[tuple[str, T]]:
        return [(n, self._items[n]) for n in self.names()]


Factory = Callable[..., Any]

METHODS: Registry[Any] = Registry("method", plugins=("methods",))
PROTOCOLS: Registry[Any] = Registry("protocol", plugins=("protocols",))
DATASETS: Registry[Any] = Registry("dataset", plugins=("bench.data.catalog",))
