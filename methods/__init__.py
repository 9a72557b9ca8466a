"""Method packages. Importing this package registers every method and its MMAction2 modules."""

from __future__ import annotations

import importlib

PACKAGES = ("baselines", "vlc", "alt", "bike", "ftp")

for _pkg in PACKAGES:
    try:
        importlib.import_module(f"methods.{_pkg}")
    except ModuleNotFoundError as _e:  # a method package that is not written yet
        if _e.name != f"methods.{_pkg}":
            raise
