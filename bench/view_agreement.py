"""Per-view top-1 of a multi-view test, kept before the head averages the views (issue 23).

MMAction2's heads average a video's views inside the test step (``BaseHead.average_clip``, called by
``predict_by_feat`` or by a method's own head), so the metric only ever sees the averaged scores. While
``per_view_top1(model)`` is active:

- the head's ``average_clip`` first records, for every video of the batch, the top-1 class of each of its
  views (``argmax`` over classes of that view's scores; softmax, as ``average_clips='prob'`` applies it,
  does not change an argmax);
- the model's ``test_step`` attaches them to each returned data sample as ``view_top1`` (a ``(views,)``
  tensor), which ``BenchAccMetric`` dumps next to the scores.

A test step that averages more than once, or not once per batch of videos, gets no ``view_top1`` (the
per-view agreement is then absent, never guessed). Only instance attributes are set, and both are removed
on exit, so the model is unchanged afterwards.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

FIELD = "view_top1"


@contextlib.contextmanager
def per_view_top1(model) -> Iterator[bool]:
    """Attach each video's per-view top-1 to the data samples ``model.test_step`` returns; yields whether the
    model has a head to hook (``cls_head.average_clip``)."""
    inner = getattr(model, "module", model)  # a wrapped (distributed) model calls its module's test_step
    head = getattr(inner, "cls_head", None)
    if head is None or not callable(getattr(head, "average_clip", None)) or "average_clip" in vars(head) \
            or "test_step" in vars(inner):
        yield False
        return
    seen: list = []
    average, step = head.average_clip, inner.test_step

    def average_clip(cls_scores, num_segs: int = 1):
        if num_segs > 1 and cls_scores.ndim == 2 and cls_scores.shape[0] % num_segs == 0:
            per_view = cls_scores.detach().reshape(cls_scores.shape[0] // num_segs, num_segs, -1)
            seen.append(per_view.argmax(dim=-1).cpu())
        else:
            seen.append(None)
        return average(cls_scores, num_segs=num_segs)

    def test_step(data):
        seen.clear()
        out = step(data)
        if len(seen) == 1 and seen[0] is not None and len(seen[0]) == len(out):
            for sample, views in zip(out, seen[0]):
                sample.set_field(views, FIELD)
        return out

    head.average_clip, inner.test_step = average_clip, test_step
    try:
        yield True
    finally:
        del head.average_clip, inner.test_step


def agreement(view_top1, video_top1):
    """Per video: the fraction of its views whose top-1 is the video-level top-1 (``view_top1``: (N, views))."""
    import numpy as np

    v = np.asarray(view_top1)
    return (v == np.asarray(video_top1)[:, None]).mean(axis=1)
