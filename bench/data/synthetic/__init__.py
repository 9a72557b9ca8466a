"""The synthetic benchmark: a compositional video world rendered to real mp4 files.

Importing this package is cheap: it only registers the ``syn_*`` datasets in
``bench.registry.DATASETS``; a dataset is generated on first use (``get_dataset``) under
``$BENCH_HOME/synthetic/<size>/<name>`` (see ``datasets.py``), or all at once by
``bench data prepare``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from bench.registry import DATASETS

SYNTHETIC_DATASETS = ("syn_k400", "syn_k600", "syn_ucf", "syn_hmdb", "syn_ava", "syn_pretrain")


def _resolver(name: str) -> Callable[..., Any]:
    def resolve(size: str | None = None) -> Any:
        from bench.data.synthetic.datasets import dataset_info

        return dataset_info(name, size)

    resolve.__name__ = f"resolve_{name}"
    resolve.__qualname__ = resolve.__name__
    return resolve


for _name in SYNTHETIC_DATASETS:
    if _name not in DATASETS._items:  # a re-import of this module must not register twice
        DATASETS.register(_name, _resolver(_name))

# The text package's offline provider asks dataset oracles; register ours when it is loaded
# (importing bench.text here would make this package expensive to import).
if "bench.text.offline" in sys.modules:
    importlib.import_module("bench.data.synthetic.oracle")
