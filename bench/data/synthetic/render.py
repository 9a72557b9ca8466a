"""Rendering of one clip of the world to frames (uint8 arrays), deterministic from its parameters.

A clip is a class (``world.ClassSpec``) plus per-video nuisance drawn from a seeded generator:
speed, start position, actor size, stripe orientation, noise level, camera shake and, for a
fraction of clips, a brief appearance (the actor is visible in only a few frames), and where the
scene colour's rug lies: near a random corner, a third to a half of it outside the frame, under
the object and the actor (which hide part of it as they pass). Reverse motion
pairs (slide left/right, rise/fall, grow/shrink) sample their paths symmetrically, so that the
set of frames of a clip is equally likely under both classes: only frame order tells them apart.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from bench.data.synthetic.world import COLOURS, SCENE_COLOURS, ClassSpec

OBJECT_COLOUR = (200, 200, 200)
# The floor behind every benchmark clip; the scene colour is only a small rug on it (``sample_clip``).
FLOOR_COLOUR = (150, 140, 165)
RUG_SIZE = (0.26, 0.2)  # width, height as fractions of the frame; its centre sits near a corner, partly outside


@dataclasses.dataclass
class ActorTrack:
    """One actor's per-frame state: centre (x, y in [0, 1]), scale (fraction of width), angle (rad)."""

    shape: str
    colour: str
    x: np.ndarray
    y: np.ndarray
    scale: np.ndarray
    angle: np.ndarray
    visible: np.ndarray


def motion_path(motion: str, t: np.ndarray, rng: np.random.Generator, speed: float) -> dict[str, np.ndarray]:
    """Centre, scale and angle over normalised time ``t`` in [0, 1] for one motion."""
    n = len(t)
    amp = 0.3 * speed
    lo, hi = 0.22, 0.78
    cx, cy = rng.uniform(0.35, 0.65, size=2)
    x, y = np.full(n, cx), np.full(n, cy)
    scale = np.full(n, rng.uniform(0.16, 0.22))
    angle = np.full(n, rng.uniform(0, math.pi / 4))
    a = rng.uniform(lo, hi - amp)  # symmetric start: the path [a, a + amp] is the same for a reverse pair
    if motion == "slide right":
        x = a + amp * t
    elif motion == "slide left":
        x = a + amp * (1 - t)
    elif motion == "fall":
        y = a + amp * t
    elif motion == "rise":
        y = a + amp * (1 - t)
    elif motion in ("grow", "shrink"):
        s0 = scale[0] * 0.55
        s = s0 + (scale[0] * 1.45 - s0) * (t if motion == "grow" else 1 - t)
        scale = s
    elif motion == "rotate":
        angle = angle + (1.2 + speed) * math.pi * t
    elif motion == "bounce":
        y = 0.7 - amp * 1.3 * np.abs(np.sin(2 * math.pi * t * (0.9 + 0.3 * speed)))
    elif motion == "zigzag":
        x = 0.3 + 0.4 * t
        phase = (t * 3 * (0.8 + 0.3 * speed)) % 1.0
        y = cy + 0.18 * (np.abs(phase - 0.5) * 2 - 0.5)
    elif motion == "orbit":
        th = rng.uniform(0, 2 * math.pi) + 2 * math.pi * t * (0.7 + 0.3 * speed)
        x, y = 0.5 + 0.22 * np.cos(th), 0.5 + 0.22 * np.sin(th)
    return {"x": x, "y": y, "scale": scale, "angle": angle}


def shape_mask(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-mask of a unit shape in local coordinates (u right, v down, radius about 1)."""
    au, av = np.abs(u), np.abs(v)
    if shape == "square":
        return np.maximum(au, av) <= 0.8
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "ring":
        r2 = u * u + v * v
        return (r2 <= 1.0) & (r2 >= 0.36)
    if shape == "diamond":
        return au + av <= 1.0
    if shape == "cross":
        return ((au <= 0.3) & (av <= 0.95)) | ((av <= 0.3) & (au <= 0.95))
    if shape == "triangle":
        return (v <= 0.7) & (v >= -0.9) & (au <= (v + 0.9) * 0.6)
    raise ValueError(f"unknown shape {shape!r}")


def background(pattern: str, colour: tuple[int, int, int], xs: np.ndarray, ys: np.ndarray, size: int,
               vertical: bool) -> np.ndarray:
    """The scene at pixel coordinates ``xs, ys`` (pixels, shifted by camera shake)."""
    base = np.array(colour, dtype=np.float32)
    period = max(4, size // 8)
    if pattern == "plain":
        k = np.zeros_like(xs)
    elif pattern == "striped":
        k = ((xs if vertical else ys) // period) % 2
    elif pattern == "checkered":
        k = ((xs // period) + (ys // period)) % 2
    elif pattern == "dotted":
        fx, fy = (xs % period) - period / 2, (ys % period) - period / 2
        k = (fx * fx + fy * fy <= (period / 4) ** 2).astype(np.float32)
    else:
        raise ValueError(f"unknown pattern {pattern!r}")
    shade = 1.0 + 0.45 * k[..., None]
    return np.broadcast_to(base, xs.shape + (3,)) * shade


def object_position(path: dict[str, np.ndarray]) -> tuple[float, float]:
    """Beside the actor's path (not under it), so that the object stays visible in every frame."""
    mx, my = float(np.mean(path["x"])), float(np.mean(path["y"]))
    if np.ptp(path["y"]) > np.ptp(path["x"]):  # vertical path: object to the side
        return (mx + 0.24 if mx < 0.5 else mx - 0.24, my)
    return (mx, my + 0.24 if my < 0.5 else my - 0.24)


def sample_clip(spec: ClassSpec, rng: np.random.Generator, num_frames: int, brief_prob: float) -> dict[str, Any]:
    """Per-video nuisance and the resolved factors of one clip of class ``spec``."""
    t = np.linspace(0.0, 1.0, num_frames)
    speed = float(rng.uniform(0.7, 1.3))
    path = motion_path(spec.motion, t, rng, speed)
    visible = np.ones(num_frames, dtype=bool)
    brief = bool(rng.random() < brief_prob)
    if brief:  # the actor shows in only a few consecutive frames: the class is visible there only
        w = max(2, num_frames // 5)
        s = int(rng.integers(0, num_frames - w + 1))
        visible[:] = False
        visible[s:s + w] = True
    scene_colour = spec.scene_colour or list(SCENE_COLOURS)[int(rng.integers(len(SCENE_COLOURS)))]
    shake = float(rng.choice([0.0, 0.0, 1.0, 2.0]))
    corner = rng.integers(0, 2, size=2)
    inset = rng.uniform(0.02, 0.07, size=2)  # the rug's centre, this far inside the frame's edge
    rug = [float(inset[0] if corner[0] == 0 else 1 - inset[0]), float(inset[1] if corner[1] == 0 else 1 - inset[1])]
    return {
        "actors": [ActorTrack(spec.shape, spec.colour, path["x"], path["y"], path["scale"], path["angle"], visible)],
        "object": spec.object,
        "object_pos": object_position(path),
        "pattern": spec.pattern,
        "scene_colour": scene_colour,
        "rug": rug,
        "vertical": bool(rng.random() < 0.5),
        "noise": float(rng.uniform(0.0, 6.0)),
        "shake": rng.integers(-1, 2, size=(num_frames, 2)) * shake,
        "speed": speed,
        "brief": brief,
        "visible_frames": [int(i) for i in np.flatnonzero(visible)],
        "seed_noise": int(rng.integers(2**31)),
    }


def draw_object(img: np.ndarray, kind: str, pos: tuple[float, float], xs: np.ndarray, ys: np.ndarray,
                size: int) -> None:
    if kind == "none":
        return
    px, py = pos[0] * size, pos[1] * size
    r = 0.08 * size
    du, dv = (xs - px) / r, (ys - py) / r
    if kind == "ball":
        m = du * du + dv * dv <= 1.0
    elif kind == "block":
        m = (np.abs(du) <= 1.0) & (np.abs(dv) <= 0.8)
    else:  # pole: a thin vertical bar
        m = (np.abs(du) <= 0.3) & (np.abs(dv) <= 2.6)
    img[m] = OBJECT_COLOUR


def draw_actor(img: np.ndarray, a: ActorTrack, i: int, xs: np.ndarray, ys: np.ndarray, size: int) -> None:
    if not a.visible[i]:
        return
    r = a.scale[i] * size
    dx, dy = (xs - a.x[i] * size) / r, (ys - a.y[i] * size) / r
    c, s = math.cos(a.angle[i]), math.sin(a.angle[i])
    u, v = c * dx + s * dy, -s * dx + c * dy
    img[shape_mask(a.shape, u, v)] = COLOURS[a.colour]


@functools.lru_cache(maxsize=4096)
def _floor(pattern: str, colour: tuple[int, int, int], dx: float, dy: float, size: int,
           vertical: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel coordinates shifted by the camera shake ``(dx, dy)`` and the floor there, read-only.

    A pure function of its arguments, and the shake is a whole number of pixels (``sample_clip``), so the few
    combinations a world has are computed once: training the tiny CLIP renders about a million frames.
    """
    grid = np.arange(size, dtype=np.float32) + 0.5
    ys, xs = np.meshgrid(grid + dy, grid + dx, indexing="ij")
    img = background(pattern, colour, xs, ys, size, vertical)
    for a in (xs, ys, img):
        a.flags.writeable = False
    return xs, ys, img


def render_frame(clip: dict[str, Any], size: int, i: int, noise_rng: np.random.Generator) -> np.ndarray:
    """Frame ``i`` (H, W, 3) uint8 of a sampled clip; ``noise_rng`` supplies the pixel noise."""
    full = clip.get("rug") is None  # a full-frame scene colour (the AVA-like clips)
    colour = SCENE_COLOURS[clip["scene_colour"]] if full else FLOOR_COLOUR
    # the shake as float64 scalars, as before the cache: float32 pixel grid + float64 shake is float64 (NEP 50)
    dx, dy = np.float64(clip["shake"][i, 0]), np.float64(clip["shake"][i, 1])
    xs, ys, floor = _floor(clip["pattern"], colour, dx, dy, size, clip["vertical"])
    img = floor.copy()
    if not full:
        on = ((np.abs(xs / size - clip["rug"][0]) <= RUG_SIZE[0] / 2)
              & (np.abs(ys / size - clip["rug"][1]) <= RUG_SIZE[1] / 2))
        img[on] = background("plain", SCENE_COLOURS[clip["scene_colour"]], xs[on], ys[on], size, False)
    draw_object(img, clip["object"], clip["object_pos"], xs, ys, size)
    for a in clip["actors"]:
        draw_actor(img, a, i, xs, ys, size)
    if clip["noise"] > 0:
        img += noise_rng.normal(0.0, clip["noise"], size=img.shape).astype(np.float32)
    return np.clip(img, 0, 255).astype(np.uint8)


def render_clip(clip: dict[str, Any], size: int) -> np.ndarray:
    """Frames ``(T, H, W, 3)`` uint8 of a sampled clip."""
    noise_rng = np.random.default_rng(clip["seed_noise"])
    return np.stack([render_frame(clip, size, i, noise_rng) for i in range(len(clip["shake"]))])


def class_clips(class_info: list[dict[str, Any]], per_class: int, seed: int, brief: bool,
                size: int = 64) -> tuple[np.ndarray, list[int], np.ndarray]:
    """Every class of a dataset's ``class_info.json`` rendered ``per_class`` times, outside its splits.

    Clip ``j`` of class ``label`` is drawn from ``default_rng([seed, label, j])``, 16 frames long, the actor
    visible in a few consecutive frames only when ``brief``; frames 1, 3, ..., 15 are kept (8 of 16, where the
    test pipeline's UniformSample reads them). Returns the frames ``(N, 8, H, W, 3)`` uint8, the labels and, per
    clip and kept frame, whether the actor shows ``(N, 8)``."""
    from bench.data.synthetic.world import FACTOR_NAMES

    frames, labels, shown = [], [], []
    for label, c in enumerate(class_info):
        spec = ClassSpec(**{k: c["factors"][k] for k in FACTOR_NAMES})
        for j in range(per_class):
            clip = sample_clip(spec, np.random.default_rng([seed, label, j]), 16, 1.0 if brief else 0.0)
            frames.append(render_clip(clip, size)[1::2])
            visible = np.zeros(16, dtype=bool)
            visible[clip["visible_frames"]] = True
            shown.append(visible[1::2])
            labels.append(label)
    return np.stack(frames), labels, np.stack(shown)


def clip_meta(clip: dict[str, Any]) -> dict[str, Any]:
    """The JSON-serialisable ground truth of a clip (factors and nuisance) for ``meta.jsonl``."""
    a = clip["actors"][0]
    return {
        "shape": a.shape, "colour": a.colour, "object": clip["object"], "pattern": clip["pattern"],
        "scene_colour": clip["scene_colour"], "speed": round(clip["speed"], 4), "brief": clip["brief"],
        "visible_frames": clip["visible_frames"], "noise": round(clip["noise"], 3),
        "shake": float(np.abs(clip["shake"]).max()), "stripes": "vertical" if clip["vertical"] else "horizontal",
        "start": [round(float(a.x[0]), 4), round(float(a.y[0]), 4)],
        "rug": [round(v, 4) for v in clip["rug"]], "num_frames": len(clip["shake"]),
    }
