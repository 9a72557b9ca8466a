"""Errors that the CLI reports as one clear message (no traceback).

Every message names the bad value, where it came from, and what would be accepted.
"""

from __future__ import annotations


class BenchError(Exception):
    """Base of the harness's user-facing errors."""


class ConfigError(BenchError, ValueError):
    """A configuration value (user config, grid YAML, method config) that cannot be used."""


class RegistryError(BenchError, KeyError):
    """An unknown or duplicate name in a registry."""

    def __str__(self) -> str:  # KeyError quotes its message; show it plainly
        return str(self.args[0])


class DataError(BenchError, ValueError):
    """Missing or inconsistent data: roots, annotation files, videos, splits."""


class ValidationError(BenchError):
    """Several problems found at once (a grid is refused with all of them listed)."""

    def __init__(self, problems: list[str], what: str = "input") -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s) in {what}:\n" + "\n".join(f"  - {p}" for p in self.problems))
