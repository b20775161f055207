"""The activity of each person a pose model found: the downstream half of the double CNN on any
photo, as a joints-only classifier attached to pose results.

``ActivityModel.load("mpii-activity")`` (a shipped name, or a work dir written by
``scripts/train_activity.py``; the class is ``tasks.activity``'s, re-exported here where
users meet it) reads the classifier, its class names and how it frames joints; calling it on
a pose result's keypoints and scores gives, per person, the class name, its probability and
the top k:

    from tfpose.serving.activity import ActivityModel
    activity = ActivityModel.load("mpii-activity")
    activity(keypoints, scores)   # keypoints P x 16 x 2 photo px, scores P x 16
    # -> [{"class": "sports", "probability": 0.41, "top": [{"class": ..., "probability": ...},
    #      ... k entries]}, ...]  (None for a person with fewer than two scored joints)

On a pose result with an instance axis (``keypoints`` P x 16 x 2, ``scores`` P x 16,
``joint_names``), one call attaches it: ``activity(res.keypoints, res.scores,
joint_names=res.joint_names)``; ``attach`` does the same for ``tfpose predict``'s JSON lines.
"""

from __future__ import annotations

import numpy as np

from tfpose.tasks.activity import TOP_K, ActivityModel

__all__ = ["TOP_K", "ActivityModel", "attach"]


def attach(record: dict, model: ActivityModel, top_k: int = TOP_K) -> dict:
    """Adds ``"activity"`` to a ``tfpose predict`` JSON line (its ``keypoints`` 16 x [x, y] and
    ``scores`` 16; None where the line has no joints) and to each entry of its ``persons`` list
    when there is one (each with its own ``keypoints`` and ``scores``). Returns ``record``."""
    holders = [record] + [p for p in record.get("persons") or [] if isinstance(p, dict)]
    for holder in holders:
        if holder.get("keypoints") is None or holder.get("scores") is None:
            holder["activity"] = None
            continue
        (holder["activity"],) = model(np.asarray(holder["keypoints"], np.float32)[None],
                                      np.asarray(holder["scores"], np.float32)[None], top_k)
    return record
