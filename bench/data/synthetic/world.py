"""The factors of the synthetic world and the composition of classes from them.

A class is a combination of generative factors: an actor (shape x colour) performing a motion,
optionally with an object, on a scene (a floor pattern filling the frame, and a small rug of the
scene colour on it, partly out of the frame). Appearance (actor, object, scene) is
visible in one frame; the motion only across frames. Class names, descriptions and keywords are
written from the factors, so an oracle text source can describe every class exactly.

Class sets are planned for all synthetic datasets at once from one seed, so that the K600-like
classes are new combinations of factors seen in the K400-like classes, and the pretraining part
of the world is disjoint from every benchmark class.
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Any

import numpy as np

from bench.errors import DataError

SHAPES = ("square", "circle", "triangle", "diamond", "cross", "ring")
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 40),
    "cyan": (40, 220, 230),
    "magenta": (220, 50, 220),
    "orange": (245, 140, 30),
    "pink": (255, 150, 200),
}
# Motions: verb phrase (3rd person) and gerund. Reverse pairs show the same frames in opposite order.
MOTIONS = {
    "slide left": ("slides left", "sliding left"),
    "slide right": ("slides right", "sliding right"),
    "rise": ("rises", "rising"),
    "fall": ("falls", "falling"),
    "rotate": ("rotates", "rotating"),
    "grow": ("grows", "growing"),
    "shrink": ("shrinks", "shrinking"),
    "bounce": ("bounces", "bouncing"),
    "zigzag": ("zigzags", "zigzagging"),
    "orbit": ("orbits", "orbiting"),
}
# How each motion unfolds, in the order of its sub-actions: what a clip-level caption and the oracle's detailed
# answers say about it. Reverse pairs get the same words in the opposite order, so text that encodes word order
# (and the verbs, which differ) can tell them apart.
MOTION_DETAIL = {
    "slide left": "first on the right, then in the middle, then on the left",
    "slide right": "first on the left, then in the middle, then on the right",
    "rise": "first at the bottom, then in the middle, then at the top",
    "fall": "first at the top, then in the middle, then at the bottom",
    "rotate": "turning round and round on the spot",
    "grow": "first small, then medium, then large",
    "shrink": "first large, then medium, then small",
    "bounce": "down to the ground, then back up, again and again",
    "zigzag": "up, then down, then up again while it goes right",
    "orbit": "round the middle of the frame in a circle",
}
SPEED_WORDS = ("slowly", "steadily", "quickly")
REVERSE = {"slide left": "slide right", "slide right": "slide left", "rise": "fall", "fall": "rise",
           "grow": "shrink", "shrink": "grow"}
OBJECTS = ("none", "ball", "block", "pole")
OBJECT_PREP = {"ball": "past a ball", "block": "by a block", "pole": "near a pole"}
PATTERNS = ("plain", "striped", "checkered", "dotted")
SCENE_COLOURS = {"grey": (105, 105, 105), "brown": (110, 70, 35), "navy": (25, 30, 90), "olive": (85, 95, 30)}
SYMMETRIC_SHAPES = ("circle", "ring")  # rotation is invisible on them

FACTOR_NAMES = ("shape", "colour", "motion", "object", "pattern", "scene_colour")


@dataclasses.dataclass(frozen=True)
class ClassSpec:
    """One class: fixed factors; ``scene_colour`` None means it varies within the class."""

    shape: str
    colour: str
    motion: str
    object: str
    pattern: str
    scene_colour: str | None

    @property
    def key5(self) -> tuple[str, ...]:
        return (self.shape, self.colour, self.motion, self.object, self.pattern)

    @property
    def static(self) -> tuple[str | None, ...]:
        """The factors one frame shows (everything but the motion)."""
        return (self.shape, self.colour, self.object, self.pattern, self.scene_colour)

    def scene_phrase(self) -> str:
        """The scene: the floor's pattern fills the frame, its colour is a small rug (``scene()``)."""
        return scene(self.pattern, self.scene_colour)

    @property
    def name(self) -> str:
        """Short class name, e.g. ``red square sliding left past a ball on a striped floor with a grey rug``."""
        obj = object_phrase(self.object)
        return f"{self.colour} {self.shape} {MOTIONS[self.motion][1]}{obj} on a {self.scene_phrase()}"

    def static_caption(self) -> str:
        """What one frame shows: actor, object and scene, never the motion."""
        obj = f" and a {self.object}" if self.object != "none" else ""
        return f"a {self.colour} {self.shape}{obj} on a {self.scene_phrase()}"

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def object_phrase(obj: str | None) -> str:
    """`` past a ball`` (with its leading space) for an object, ``""`` for none."""
    return f" {OBJECT_PREP[obj]}" if obj not in (None, "none") else ""


def scene(pattern: str | None, rug: str | None) -> str:
    """``striped floor with a grey rug``: the pattern fills the frame, the scene colour is a small rug on it."""
    floor = " ".join(x for x in (pattern, "floor") if x)
    return f"{floor} with a {rug} rug" if rug else floor


def speed_word(speed: float) -> str:
    """How a clip's speed (0.7-1.3 of the usual) is said: slowly, steadily or quickly."""
    return SPEED_WORDS[0] if speed < 0.85 else SPEED_WORDS[2] if speed > 1.1 else SPEED_WORDS[1]


def valid(shape: str, motion: str) -> bool:
    return not (motion == "rotate" and shape in SYMMETRIC_SHAPES)


def all_combinations() -> list[ClassSpec]:
    """Every valid fully specified class of the world (scene colour fixed)."""
    return [
        ClassSpec(s, c, m, o, p, b)
        for s, c, m, o, p, b in itertools.product(SHAPES, COLOURS, MOTIONS, OBJECTS, PATTERNS, SCENE_COLOURS)
        if valid(s, m)
    ]


class _Planner:
    """Draws classes without replacement from the world, with sibling structure.

    Siblings make the benchmark test what the methods need: classes that differ only in motion
    (preferably a reverse pair, which a frame-order-blind model cannot tell apart) and classes that
    differ only in scene (context).
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.taken5: set[tuple[str, ...]] = set()
        self.pool = all_combinations()
        self.order = rng.permutation(len(self.pool))
        self.cursor = 0

    def _free(self, c: ClassSpec) -> bool:
        return c.key5 not in self.taken5

    def _take(self, c: ClassSpec, out: list[ClassSpec]) -> None:
        self.taken5.add(c.key5)
        out.append(c)

    def draw(self, n: int, p_motion: float = 0.4, p_scene: float = 0.2, p_free_bg: float = 0.3,
             where: str = "") -> list[ClassSpec]:
        """``n`` new classes, none sharing (shape, colour, motion, object, pattern) with earlier ones."""
        out: list[ClassSpec] = []
        while len(out) < n:
            if self.cursor >= len(self.order):
                raise DataError(
                    f"cannot compose {n} classes for {where or 'a synthetic dataset'}: the world has only "
                    f"{len({c.key5 for c in self.pool})} distinct (shape, colour, motion, object, pattern) "
                    f"combinations and {len(self.taken5)} are used by other datasets; ask for fewer classes"
                )
            base = self.pool[self.order[self.cursor]]
            self.cursor += 1
            if not self._free(base):
                continue
            u = self.rng.random(3)
            room = n - len(out)
            if room >= 2 and u[0] < p_scene:  # scene siblings: same actor, motion and object
                other = [b for b in SCENE_COLOURS if b != base.scene_colour]
                self._take(base, out)
                out.append(dataclasses.replace(base, scene_colour=other[int(self.rng.integers(len(other)))]))
                continue
            fixed_bg = base if u[1] >= p_free_bg else dataclasses.replace(base, scene_colour=None)
            self._take(fixed_bg, out)
            if room >= 2 and u[2] < p_motion:  # motion sibling: same static appearance
                m = REVERSE.get(base.motion) or [x for x in MOTIONS if x != base.motion][int(self.rng.integers(9))]
                sib = dataclasses.replace(fixed_bg, motion=m)
                if valid(sib.shape, m) and self._free(sib):
                    self._take(sib, out)
        return out[:n]


def plan_classes(counts: dict[str, int], seed: int, fixed_scene: tuple[str, ...] = ()) -> dict[str, list[ClassSpec]]:
    """Classes of every synthetic dataset, disjoint across datasets, deterministic from ``seed``.

    Args:
        counts: dataset name -> number of classes, in planning order.
        seed: world seed.
        fixed_scene: datasets whose classes all fix the scene colour (zero-shot targets, whose
            static captions then name every visible factor).
    """
    total = sum(counts.values())
    n5 = len({c.key5 for c in all_combinations()})
    if total > n5:
        raise DataError(
            f"the synthetic datasets ask for {total} classes in all ({counts}), but the world has only {n5} "
            f"distinct (shape, colour, motion, object, pattern) combinations; lower the class counts"
        )
    planner = _Planner(np.random.default_rng([seed, 7]))
    return {
        name: planner.draw(n, p_free_bg=0.0 if name in fixed_scene else 0.3, where=name) for name, n in counts.items()
    }


def describe(c: ClassSpec) -> str:
    """A detailed description of a class, written from its factors: what it is and how its motion unfolds."""
    return (f"A {c.colour} {c.shape} {MOTIONS[c.motion][0]}{object_phrase(c.object)} on a {c.scene_phrase()}, "
            f"{MOTION_DETAIL[c.motion]}.")


def motion_captions(c: ClassSpec, speed: float) -> list[str]:
    """Clip-level captions of one clip of ``c`` (speed ``speed``): each names the motion, in the world's forms.

    The forms are the ones the world's texts use: the class name, a sentence with the verb and the speed, the
    order of the motion's sub-actions, and the movement alone (as in the oracle's component answers).
    """
    who, (verb, gerund), obj = f"{c.colour} {c.shape}", MOTIONS[c.motion], object_phrase(c.object)
    return [
        c.name,
        f"a {who} {verb} {speed_word(speed)}{obj} on a {c.scene_phrase()}",
        f"a {who} {gerund}, {MOTION_DETAIL[c.motion]}",
        f"actor: {who}; movement: {gerund}",
        f"something {gerund} {speed_word(speed)}, {MOTION_DETAIL[c.motion]}",
    ]


def keywords(c: ClassSpec) -> list[str]:
    words = [c.colour, c.shape, c.motion, c.pattern]
    if c.object != "none":
        words.append(c.object)
    if c.scene_colour:
        words.append(c.scene_colour)
    return words


def class_info(c: ClassSpec) -> dict[str, Any]:
    return {"name": c.name, "factors": c.as_dict(), "description": describe(c), "keywords": keywords(c),
            "static_caption": c.static_caption()}
