"""Evaluation protocols. Importing this package registers every protocol module."""

from __future__ import annotations

import importlib

MODULES = ("supervised", "fewshot", "zeroshot", "ava", "linear_probe", "multilabel")

for _mod in MODULES:
    try:
        importlib.import_module(f"protocols.{_mod}")
    except ModuleNotFoundError as _e:  # a protocol module that is not written yet
        if _e.name != f"protocols.{_mod}":
            raise
