"""An oracle text source: what an ideal (or a configurably weaker) LLM/VLM would say about the world.

It answers from the generator's ground truth (``class_info.json``, ``meta.jsonl``) the questions
the four methods ask (see ``bench/text/prompts``):

- vlc (decompose / expand): keywords per class and sentences that use them;
- alt (units / describe_*): an entity corpus whose units fall in the sub-collections body
  (the actor), object, scene and motion, each with a description;
- bike: an attribute lexicon (every factor value as a phrase);
- ftp (A-D) per video, each carrying different information as a VLM's answers would:
  A the class name, B the action components (actor, object, motion), C a detailed sentence
  (including nuisance the frames show: speed, brief appearance, the order of the motion's
  sub-actions), D the context (scene only).

The ftp answers look at the K keyframes the request shows (side by side in one image, so K is its
width over its height): a factor is said only when a keyframe shows it. The actor of a brief clip
shows in a few frames only; with no keyframe among them the answers name no actor. A motion needs
its phases: two keyframes with the actor in view for a one-way motion, three for a repeating one
(bounce, zigzag, orbit), else the answers name no motion and the category answer degrades to what
the frames show ("a red square on a ..."). Without an image (another prompt) the whole clip counts
as seen.

A weaker model is simulated by ``noise`` (a factor value replaced by a wrong one) and
``omission`` (a part left out) rates, drawn deterministically from ``seed`` and the item, so that
the same request always gets the same answer. ``register_oracles()`` plugs the oracle into
``bench.text``'s offline provider (``register_oracle``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np

from bench import settings
from bench.data.synthetic import world
from bench.errors import ConfigError, DataError

FACTOR_VALUES = {"shape": list(world.SHAPES), "colour": list(world.COLOURS), "motion": list(world.MOTIONS),
                 "object": [o for o in world.OBJECTS if o != "none"], "pattern": list(world.PATTERNS),
                 "scene_colour": list(world.SCENE_COLOURS)}


UNIT_GLOSS = {
    "shape": "a {v} is an actor's body outline, seen flat from above",
    "colour": "{v} is the colour of the moving actor's body",
    "motion": "{gerund} is a change of the actor's position, size or angle across frames, {detail}",
    "object": "a {v} is a small light-grey object standing still beside the actor's path",
    "pattern": "a {v} floor is a background texture that fills the frame",
    "scene_colour": "a {v} rug is a small patch of colour near a corner of the floor, partly out of view",
}
# Keyframes with the actor in view that a motion needs before the oracle can say it (its phases).
PHASES_NEEDED = {m: 3 if m in ("bounce", "zigzag", "orbit") else 2 for m in world.MOTIONS}


@dataclasses.dataclass(frozen=True)
class OracleConfig:
    """How good the simulated model is: 0/0 is a perfect oracle."""

    noise: float = 0.0
    omission: float = 0.0
    seed: int = 0

    @classmethod
    def from_settings(cls) -> OracleConfig:
        """Rates from ``$BENCH_ORACLE_NOISE`` / ``$BENCH_ORACLE_OMISSION`` / ``$BENCH_ORACLE_SEED``, else the user
        config's ``synthetic_oracle: {noise, omission, seed}``, else a perfect oracle."""
        conf = settings.user_config().get("synthetic_oracle") or {}
        values = {k: os.environ.get(f"BENCH_ORACLE_{k.upper()}", conf.get(k)) for k in ("noise", "omission", "seed")}
        try:
            out = cls(float(values["noise"] or 0), float(values["omission"] or 0), int(values["seed"] or 0))
        except (TypeError, ValueError) as e:
            raise ConfigError(f"synthetic oracle settings {values} are not numbers ({e})") from e
        if not (0 <= out.noise <= 1 and 0 <= out.omission <= 1):
            raise ConfigError(f"synthetic oracle rates must lie in [0, 1], got noise={out.noise}, "
                              f"omission={out.omission}")
        return out

    def label(self) -> str:
        """How the offline provider's model name carries these rates and the world's data format (part of every
        text cache key, so that an answer of an older world's oracle is never read back for this one)."""
        from bench.data.synthetic.storage import FORMAT

        return f"oracle(world={FORMAT},noise={self.noise:g},omission={self.omission:g},seed={self.seed})"


class Oracle:
    """Ground-truth answers for one generated dataset.

    Args:
        root: the dataset directory (holding ``class_info.json`` and ``meta.jsonl``).
        config: noise and omission rates and their seed.
    """

    def __init__(self, root: Path, config: OracleConfig = OracleConfig()) -> None:
        self.root, self.config = Path(root), config
        self.classes = {c["name"]: c for c in json.loads((self.root / "class_info.json").read_text())}
        meta = self.root / "meta.jsonl"
        self.videos = {r["video"]: r for r in map(json.loads, meta.read_text().splitlines())} if meta.exists() else {}

    # -- weakening ------------------------------------------------------------------------
    def _rng(self, item: str, what: str) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, zlib.crc32(f"{what}|{item}".encode())])

    def _factors(self, factors: dict[str, Any], item: str, what: str) -> dict[str, Any]:
        """Factors as a weaker model perceives them: some wrong (noise), some missing (omission)."""
        rng, out = self._rng(item, what), dict(factors)
        for key, values in FACTOR_VALUES.items():
            u = rng.random(2)
            if out.get(key) in (None, "none"):
                continue
            if u[0] < self.config.noise:
                out[key] = [v for v in values if v != out[key]][int(rng.integers(len(values) - 1))]
            if u[1] < self.config.omission and key != "shape":
                out[key] = None
        return out

    def _class(self, name: str) -> dict[str, Any]:
        if name not in self.classes:
            raise LookupError(f"{name!r} is not a class of {self.root.name}")
        return self.classes[name]

    # -- vlc ------------------------------------------------------------------------------
    def keywords(self, name: str) -> dict[str, list[str]]:
        """Identifying characteristics of a class, grouped like an LLM's answer (vlc decompose)."""
        f = self._factors(self._class(name)["factors"], name, "keywords")
        groups = {"Body": [_actor(f)], "Objects": [f"{f['object']}"] if f.get("object") not in (None, "none") else [],
                  "Scene": [_scene(f)], "Motion": [world.MOTIONS[f["motion"]][1]] if f.get("motion") else []}
        return {k: [v for v in vs if v] for k, vs in groups.items() if any(vs)}

    def decompose(self, name: str) -> str:
        return "\n".join(f"{k}: {', '.join(v)}" for k, v in self.keywords(name).items())

    def expand(self, name: str, keywords: list[str]) -> str:
        """Sentences describing a class with the given keywords (vlc expand)."""
        f = self._factors(self._class(name)["factors"], name, "expand")
        who, verb = _actor(f), world.MOTIONS[f["motion"]][0] if f.get("motion") else "moves"
        obj = world.object_phrase(f.get("object"))
        detail = f", {world.MOTION_DETAIL[f['motion']]}" if f.get("motion") else ""
        sents = [f"The {who} {verb}{obj}{detail}.", f"It is seen on a {_scene(f)}."]
        sents += [f"The clip shows {kw} clearly while the {who} {verb}." for kw in keywords if kw]
        return " ".join(_cap(s) for s in sents)

    # -- alt ------------------------------------------------------------------------------
    def units(self, name: str) -> str:
        """Entity units of a class in alt's sub-collections (body / object / scene / motion)."""
        kw = self.keywords(name)
        rows = {"Body parts": kw.get("Body", []), "Objects": kw.get("Objects", []), "Scenes": kw.get("Scene", []),
                "Motion": kw.get("Motion", [])}
        return "\n".join(f"{k}: {', '.join(v)}" for k, v in rows.items() if v)

    def describe_unit(self, unit: str, style: str) -> str:
        """A description of an entity unit (alt describe_looks / explanations / sentence)."""
        text = f" {' '.join(unit.lower().replace('-', ' ').split())} "
        found = [(k, v) for k, vals in FACTOR_VALUES.items() for v in vals
                 if f" {v} " in text or (k == "motion" and f" {world.MOTIONS[v][1]} " in text)]
        if not found:
            return f"{_cap(unit)} is not part of this synthetic world; no frame shows it."
        parts = [UNIT_GLOSS[k].format(v=v, gerund=world.MOTIONS[v][1] if k == "motion" else v,
                                      detail=world.MOTION_DETAIL[v] if k == "motion" else "") for k, v in found]
        if style == "explanations":
            return "\n".join(f"- {p}" for p in parts)
        return _cap("; ".join(parts)) + "."

    # -- bike -----------------------------------------------------------------------------
    def attribute_lexicon(self) -> list[str]:
        """Every factor value as an attribute phrase (the world's own lexicon)."""
        phrases = [f"{c} {s}" for c in world.COLOURS for s in world.SHAPES]
        phrases += [world.MOTIONS[m][1] for m in world.MOTIONS] + [f"a {o}" for o in FACTOR_VALUES["object"]]
        phrases += [world.scene(p, b) for p in world.PATTERNS for b in world.SCENE_COLOURS]
        return phrases

    # -- ftp ------------------------------------------------------------------------------
    def seen(self, video: str, keyframes: int | None) -> dict[str, bool]:
        """What ``keyframes`` keyframes of ``video`` show (None: the whole clip): the actor, its motion."""
        from bench.text.keyframes import keyframe_indices

        row = self.videos[video]
        if not row.get("num_frames"):  # guessing it from the visible frames would move every keyframe of a brief clip
            raise DataError(f"{self.root / 'meta.jsonl'}: video {video!r} has no 'num_frames' (written since data "
                            f"format 3); rebuild the dataset with 'bench data prepare'")
        n = int(row["num_frames"])
        shown = set(range(n)) if keyframes is None else set(keyframe_indices(n, keyframes))
        in_view = len(shown & set(row["visible_frames"]))
        return {"actor": in_view >= 1, "motion": in_view >= PHASES_NEEDED[row["motion"]]}

    def video_answer(self, video: str, question: str, keyframes: int | None = None) -> str:
        """ftp's four answers for one video, from what its ``keyframes`` keyframes show: A category, B components,
        C detail, D context."""
        if video not in self.videos:
            raise LookupError(f"{video!r} is not a video of {self.root.name}")
        row = self.videos[video]
        seen = self.seen(video, keyframes)
        f = self._factors({**row, "motion": row["motion"]}, video, f"ftp/{question}")
        if not seen["motion"]:
            f["motion"] = None
        if not seen["actor"]:
            f["colour"] = f["shape"] = None
        if question == "A":
            if not seen["motion"]:
                return f"a {_actor(f)} on a {_scene(f)}"
            return row["class"] if self._rng(video, "A").random() >= self.config.noise else _class_like(f)
        if question == "B":
            parts = [f"actor: {_actor(f)}"] if seen["actor"] else []
            if f.get("object") not in (None, "none"):
                parts.append(f"object: {f['object']}")
            if f.get("motion"):
                parts.append(f"movement: {world.MOTIONS[f['motion']][1]}")
            return "; ".join(parts) or "nothing moves in these frames"
        if question == "C":
            when = " It appears only for a moment." if row["brief"] else ""
            obj = world.object_phrase(f.get("object"))
            if not f.get("motion"):
                return f"A {_actor(f)} is seen{obj}.{when}"
            verb = world.MOTIONS[f["motion"]][0]
            return (f"A {_actor(f)} {verb} {world.speed_word(row['speed'])}{obj}, "
                    f"{world.MOTION_DETAIL[f['motion']]}.{when}")
        if question == "D":
            return f"The background is a {_scene(f)} with {row['stripes']} texture." if f.get("pattern") == "striped" \
                else f"The background is a {_scene(f)}."
        raise LookupError(f"unknown ftp question {question!r}; known: A, B, C, D")

    # -- provider hook --------------------------------------------------------------------
    def answer(self, prompt_id: str, item: str, prompt: str = "", keyframes: int | None = None) -> str:
        """The answer to a ``bench.text`` request, by prompt id; LookupError when it cannot answer.

        ``keyframes``: how many keyframes the request's image shows (ftp), None for the whole clip."""
        if prompt_id == "vlc/decompose":
            if " | " not in item:
                return self.decompose(item)
            return "\n".join(f"{n}: " + ", ".join(v for vs in self.keywords(n).values() for v in vs)
                             for n in item.split(" | "))
        if prompt_id == "vlc/expand":
            kws = prompt.split("]:", 1)[1].split(". Please")[0] if "]:" in prompt else ""
            return self.expand(item, [k.strip() for k in kws.split(",")])
        if prompt_id == "alt/units":
            return self.units(item)
        if prompt_id.startswith("alt/describe_"):
            return self.describe_unit(item, prompt_id.removeprefix("alt/describe_"))
        if prompt_id.startswith("ftp/"):
            return self.video_answer(item, prompt_id.removeprefix("ftp/"), keyframes)
        raise LookupError(f"the synthetic oracle does not answer prompt {prompt_id!r}")


def _actor(f: dict[str, Any]) -> str:
    return " ".join(x for x in (f.get("colour"), f.get("shape")) if x) or "shape"


def _scene(f: dict[str, Any]) -> str:
    return world.scene(f.get("pattern"), f.get("scene_colour"))


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def _class_like(f: dict[str, Any]) -> str:
    verb = world.MOTIONS[f["motion"]][1] if f.get("motion") else "moving"
    return f"{_actor(f)} {verb}"


@functools.lru_cache(maxsize=32)
def oracle_for(dataset: str, size: str | None = None, config: OracleConfig = OracleConfig()) -> Oracle:
    """The oracle of a generated synthetic dataset (generating it if needed)."""
    from bench.data.synthetic.datasets import ensure

    return Oracle(ensure(dataset, size), config)


def register_oracles(config: OracleConfig | None = None) -> None:
    """Register the oracle of every synthetic dataset with ``bench.text``'s offline provider."""
    from bench.data.synthetic import SYNTHETIC_DATASETS
    from bench.text.offline import ORACLES, register_oracle, register_oracle_label

    register_oracle_label(__name__, lambda: OracleConfig.from_settings().label())
    config = config or OracleConfig.from_settings()
    for name in SYNTHETIC_DATASETS:
        if name not in ORACLES._items:
            register_oracle(name, functools.partial(_ask, name, config))


def _ask(dataset: str, config: OracleConfig, request: Any) -> str:
    """``bench.text`` oracle hook: answer a TextRequest from the ground truth of ``dataset``."""
    if not request.prompt_id or request.item is None:
        raise LookupError("the synthetic oracle needs a prompt_id and an item")
    return oracle_for(dataset, None, config).answer(request.prompt_id, str(request.item), request.prompt,
                                                    keyframes_shown(request.images))


def keyframes_shown(images: Any) -> int | None:
    """K of a request's image of K square keyframes side by side (its width over its height); None without one."""
    if not images:
        return None
    shape = np.asarray(images[0]).shape
    return max(1, round(shape[1] / shape[0]))


if "bench.text.offline" in sys.modules:  # imported as an oracle plugin of the text package
    register_oracles()
