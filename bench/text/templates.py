"""The papers' prompts as template files, and class-name prompt ensembles.

A prompt file (``bench/text/prompts/<name>.yaml``) holds ``templates: {id: {placeholders:
[...], text: "..."}}`` plus free metadata (``source``, ``keyframes``...). Placeholders are
``{name}``; a single anonymous ``{}`` is filled by one positional argument (the papers'
own ``"This is a video about {}"``). A placeholder the file does not declare, or a render
argument the template does not accept, is an error naming the file and the accepted names.

An ensemble file (``prompts/ensembles/<name>.yaml``) holds ``templates: ["a photo of {}.", ...]``.
"""

from __future__ import annotations

import dataclasses
import functools
import string
from pathlib import Path
from typing import Any

import yaml

from bench.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent / "prompts"
ENSEMBLES_DIR = PROMPTS_DIR / "ensembles"
ANON = "{}"


def _fields(text: str, where: str) -> list[str]:
    """Placeholder names used in ``text`` (``{}`` for an anonymous one)."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as e:
        raise ConfigError(f"template {where} is not a valid format string ({e}): {text!r}") from e
    out = []
    for _, name, _, _ in parsed:
        if name is None:
            continue
        if name.isdigit():
            raise ConfigError(f"template {where} uses numbered placeholder {{{name}}}; use {{}} or a {{name}}")
        out.append(ANON if name == "" else name)
    return out


@dataclasses.dataclass(frozen=True)
class Template:
    """One prompt template.

    Attributes:
        file: the file it was read from (named in errors).
        id: its id in the file; ``qualified_id`` is ``<file stem>/<id>`` (e.g. ``ftp/A``).
        text: the template text, verbatim.
        placeholders: the declared placeholder names.
    """

    file: Path
    id: str
    text: str
    placeholders: tuple[str, ...]

    @property
    def qualified_id(self) -> str:
        return f"{self.file.stem}/{self.id}"

    def _accepted(self) -> str:
        names = [p for p in self.placeholders if p != ANON]
        extra = " and one positional value for {}" if ANON in _fields(self.text, self.qualified_id) else ""
        return (", ".join(names) or "none") + extra

    def render(self, *args: Any, **values: Any) -> str:
        """The prompt with its placeholders filled.

        Raises:
            ConfigError: for an unknown or missing placeholder, naming the file and the accepted names.
        """
        used = _fields(self.text, self.qualified_id)
        unknown = sorted(set(values) - set(self.placeholders))
        if unknown:
            raise ConfigError(f"unknown placeholder(s) {unknown} for template {self.qualified_id!r} of {self.file}; "
                              f"accepted placeholders: {self._accepted()}")
        missing = sorted({u for u in used if u != ANON} - set(values))
        if missing:
            raise ConfigError(f"template {self.qualified_id!r} of {self.file} needs placeholder(s) {missing}; "
                              f"accepted placeholders: {self._accepted()}")
        n_pos = used.count(ANON)
        if len(args) != n_pos:
            raise ConfigError(f"template {self.qualified_id!r} of {self.file} takes {n_pos} positional value(s) "
                              f"for {{}}, got {len(args)}; accepted placeholders: {self._accepted()}")
        return self.text.format(*args, **values)


@dataclasses.dataclass(frozen=True)
class PromptFile:
    """A prompt file: its templates and its metadata."""

    path: Path
    templates: dict[str, Template]
    meta: dict[str, Any]

    def __getitem__(self, tid: str) -> Template:
        if tid not in self.templates:
            known = ", ".join(self.templates)
            raise ConfigError(f"prompt file {self.path} has no template {tid!r}; templates: {known}")
        return self.templates[tid]


def load_prompt_file(path: Path | str) -> PromptFile:
    """Read and check a prompt file: every placeholder used in a text must be declared."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ConfigError(f"cannot read prompt file {path}: {e}") from e
    if not isinstance(data, dict) or not isinstance(data.get("templates"), dict):
        raise ConfigError(f"prompt file {path} must have 'templates: {{id: {{placeholders: [...], text: ...}}}}'")
    templates = {}
    for tid, spec in data["templates"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("text"), str):
            raise ConfigError(f"template {tid!r} of {path} needs a 'text' string")
        declared = tuple(spec.get("placeholders") or ())
        for name in _fields(spec["text"], f"{path.stem}/{tid}"):
            if name != ANON and name not in declared:
                raise ConfigError(f"template {tid!r} of {path} uses unknown placeholder {{{name}}}; accepted "
                                  f"placeholders (declared in the file): {', '.join(declared) or 'none'}")
        templates[str(tid)] = Template(path, str(tid), spec["text"], declared)
    meta = {k: v for k, v in data.items() if k != "templates"}
    return PromptFile(path, templates, meta)


@functools.cache
def prompts(name: str) -> PromptFile:
    """A built-in prompt file by name (``vlc``, ``alt``, ``ftp``, ``bike``)."""
    path = PROMPTS_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"no prompt file {name!r}; available: {', '.join(prompt_names())}")
    return load_prompt_file(path)


def prompt_names() -> list[str]:
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml"))


def get_template(qualified_id: str) -> Template:
    """A template by ``<file>/<id>``, e.g. ``ftp/A`` or ``vlc/expand``."""
    file, _, tid = qualified_id.partition("/")
    if not tid:
        raise ConfigError(f"template id {qualified_id!r} must look like '<file>/<id>', e.g. 'ftp/A'")
    return prompts(file)[tid]


def ensemble_names() -> list[str]:
    return sorted(p.stem for p in ENSEMBLES_DIR.glob("*.yaml"))


@functools.cache
def ensemble(name: str) -> tuple[str, ...]:
    """The templates of a class-name prompt ensemble, each with one ``{}``."""
    path = ENSEMBLES_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"no prompt ensemble {name!r}; available: {', '.join(ensemble_names())}")
    data = yaml.safe_load(path.read_text()) or {}
    items = data.get("templates")
    if not isinstance(items, list) or not items:
        raise ConfigError(f"ensemble file {path} must have a non-empty 'templates' list")
    for i, t in enumerate(items):
        if _fields(t, f"{path.stem}[{i}]") != [ANON]:
            raise ConfigError(f"ensemble template {i} of {path} must contain exactly one {{}} and no named "
                              f"placeholder; got {t!r}")
    return tuple(items)


def render_ensemble(name: str, class_name: str) -> list[str]:
    """Every template of ensemble ``name`` filled with ``class_name``."""
    return [t.format(class_name) for t in ensemble(name)]
