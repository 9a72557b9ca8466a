"""Class-name lists given in configs: a list, a label CSV, or a dataset reference."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.errors import ConfigError

LABELS_DIR = Path(__file__).resolve().parents[2] / "protocols" / "labels"


def resolve_class_names(value: Any, where: str = "class_names") -> list[str]:
    """Class names from ``value``.

    Accepted: a list of names; a path to an ``id,name`` CSV (a bare file name is looked up in
    ``protocols/labels``); or ``{"dataset": <registered dataset>}``, which reads that dataset's
    class list through the dataset registry.
    """
    if isinstance(value, list | tuple):
        names = [str(v) for v in value]
    elif isinstance(value, str):
        from bench.data.catalog import read_label_csv

        path = Path(value).expanduser()
        if not path.is_absolute() and not path.exists():
            path = LABELS_DIR / value
        if not path.is_file():
            raise ConfigError(f"{where}={value!r}: no such label file (nor in {LABELS_DIR.name}/)")
        names = read_label_csv(path)
    elif isinstance(value, dict) and set(value) == {"dataset"}:
        from bench.data.catalog import get_dataset

        names = list(get_dataset(value["dataset"], where=where).classes)
    else:
        raise ConfigError(
            f"{where}={value!r}: expected a list of names, a label CSV path, or {{'dataset': <name>}}"
        )
    if not names:
        raise ConfigError(f"{where}={value!r} resolves to an empty class list")
    return names
