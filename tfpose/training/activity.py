"""The joints-only activity model a photo can use: trained on annotated joints framed as on a
photo (``core.joint_frame``) and jittered as the shipped pose model errs
(``input.pose_noise``), then scored on clean and on noisy joints.

The data are an ``--annotations-only`` conversion (its group-aware train/val/test split): the
records' stored joints are mapped back to original pixels with their ``crop_box`` and
re-framed by their own square box, because MPII's ``objpos`` and ``scale`` do not exist on a
user's photo. The network is the project's joints classifier (``models.classifier``, the
embedding its config names; the pairwise one was the best on these annotations); every epoch
draws new noise and a random mirror; ``best.keras`` is the epoch with the best top-1 on noisy
val joints (the use it ships for); predictions average the joints and their mirror (flip test).

Shapes: ``N`` persons, ``K = 16`` joints, ``C`` classes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import numpy as np

from tfpose.core import joint_frame, skeleton
from tfpose.core.errors import DataError
from tfpose.core.workdir import ACTIVITY_FILE
from tfpose.evaluation.activity import load_split
from tfpose.input import pose_noise

__all__ = ["ACTIVITY_FILE", "NOISE_DRAWS", "EVAL_SEED", "load_split", "framed_inputs",
           "predict_probabilities", "score", "train", "ensemble"]

# Noisy joints are scored over this many independent draws (mean, and the spread across them).
NOISE_DRAWS = 5
# Fixed seeds of the draws that score val and test: every model is scored on the same joints.
EVAL_SEED = 1234


def framed_inputs(keypoints, annotated, noise: Optional[dict], rng, mirror: bool = False,
                  scale: str = "box"):
    """The classifier's ``joints`` N x K x 3 from true joints: noised with ``noise`` (None:
    clean), framed by their own square (``joint_frame.frame_joints``'s ``scale``), and
    mirrored at random when ``mirror``."""
    if noise is not None:
        keypoints, annotated = pose_noise.perturb(keypoints, annotated, noise, rng)
    joints = joint_frame.frame_joints(keypoints, annotated, scale=scale)
    if mirror:
        flip = rng.random(len(joints)) < 0.5
        joints = np.where(flip[:, None, None], joint_frame.mirror_framed(joints), joints)
    return joints


def predict_probabilities(model, joints, batch_size: int = 1024) -> np.ndarray:
    """N x C: the mean of the model's softmax on ``joints`` N x K x 3 and on their mirror."""
    both = np.concatenate([joints, joint_frame.mirror_framed(joints)])
    probs = model.predict({"joints": both}, batch_size=batch_size, verbose=0)
    probs = probs["action"] if isinstance(probs, dict) else probs
    return (probs[: len(joints)] + probs[len(joints):]) / 2.0


def score(model, data: dict, noises: dict, draws: int = NOISE_DRAWS, scale: str = "box") -> dict:
    """Classification reports on the labelled persons of ``data``: ``clean`` joints, and under
    ``noisy[name]`` joints jittered by each noise model of ``noises`` (name -> model): the
    ``report`` pooled over ``draws`` draws (confusions summed, per-class recall averaged) and
    the mean and spread of top-1 and balanced accuracy across them (``draws``). ``scale``:
    the model's framing (its activity.json ``framing.scale``)."""
    from tfpose.metrics.classification import classification_report

    labelled = data["labels"] >= 0
    kp, ann = data["keypoints"][labelled], data["annotated"][labelled]
    labels = data["labels"][labelled]

    def report(joints):
        return classification_report(labels, predict_probabilities(model, joints),
                                     data["classes"])

    out = {"clean": report(framed_inputs(kp, ann, None, None, scale=scale)), "noisy": {}}
    for name, noise in noises.items():
        reports = [report(framed_inputs(kp, ann, noise, np.random.default_rng(EVAL_SEED + d),
                                        scale=scale))
                   for d in range(draws)]
        pooled = reports[0]
        pooled["confusion_matrix"] = np.sum([r["confusion_matrix"] for r in reports], 0).tolist()
        for c, row in enumerate(pooled["per_class"]):
            values = [r["per_class"][c]["accuracy"] for r in reports]
            row["accuracy"] = None if values[0] is None else float(np.mean(values))
        for key in ("accuracy", "balanced_accuracy"):
            pooled[key] = float(np.mean([r[key] for r in reports]))
        out["noisy"][name] = {"report": pooled, "draws": {
            key: {"mean": float(np.mean([r[key] for r in reports])),
                  "std": float(np.std([r[key] for r in reports]))}
            for key in ("accuracy", "balanced_accuracy")}}
    return out


def train(cfg, dataset_dir, workdir, noises: dict, *, noise_fraction: float = 1.0,
          seed: int = 0, scale: str = "box", splits=("train",), log=print) -> dict:
    """Trains ``cfg``'s joints classifier and writes ``workdir`` (config.yaml, best.keras,
    classes.json, activity.json). ``noises``: name -> noise model ({}: clean joints only);
    ``noise_fraction``: the share of each epoch's persons whose joints are noised, each by one
    of the models drawn uniformly (the rest clean); ``scale``: the framing
    (``joint_frame.SCALES``). Trained on ``splits``: ``best.keras`` is the epoch with the best
    mean val top-1 over the noise models (clean val without any), or the last epoch when
    ``splits`` holds val (the model to ship once a recipe is chosen: every labelled person,
    a fixed schedule). Returns activity.json."""
    import keras

    from tfpose import config as config_lib
    from tfpose.models.classifier import build_classifier

    if cfg.data.input_size != joint_frame.FRAME_SIZE:
        raise DataError(f"data.input_size must be the joint frame's {joint_frame.FRAME_SIZE}. "
                        f"Received: {cfg.data.input_size}")
    # Photos are read with the bar the noise was measured at (a joint under it is missing).
    bars = {noise["min_score"] for noise in noises.values()} or {pose_noise.MIN_SCORE}
    if len(bars) > 1:
        raise DataError(f"noise models measured at different min_score: {sorted(bars)}")
    (min_score,) = bars
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    parts = [load_split(dataset_dir, split) for split in splits]
    val_data = load_split(dataset_dir, "val")
    keep_last = "val" in splits
    labelled = [part["labels"] >= 0 for part in parts]
    keypoints = np.concatenate([p["keypoints"][m] for p, m in zip(parts, labelled)])
    annotated = np.concatenate([p["annotated"][m] for p, m in zip(parts, labelled)])
    labels = np.concatenate([p["labels"][m] for p, m in zip(parts, labelled)])
    classes = parts[0]["classes"]

    keras.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = build_classifier(cfg, len(classes))
    epochs, t = cfg.train.epochs, cfg.train
    boundaries = [e * int(np.ceil(len(labels) / cfg.data.batch_size)) for e in t.lr_decay_epochs]
    values = [t.learning_rate * t.lr_decay_factor ** i for i in range(len(boundaries) + 1)]
    schedule = (keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)
                if boundaries else t.learning_rate)
    model.compile(keras.optimizers.Adam(schedule), "sparse_categorical_crossentropy")
    val_labelled = val_data["labels"] >= 0
    val_sets = [framed_inputs(val_data["keypoints"][val_labelled],
                              val_data["annotated"][val_labelled],
                              noise, np.random.default_rng(EVAL_SEED), scale=scale)
                for noise in (list(noises.values()) or [None])]
    val_labels = val_data["labels"][val_labelled]
    best, history = -1.0, []
    for epoch in range(epochs):
        joints = framed_inputs(keypoints, annotated, None, rng, mirror=True, scale=scale)
        # Each person: clean, or noised by one of the models (index 1..M), drawn per epoch.
        pick = (np.where(rng.random(len(labels)) < noise_fraction,
                         rng.integers(1, len(noises) + 1, len(labels)), 0)
                if noises else np.zeros(len(labels), int))
        for m, noise in enumerate(noises.values(), start=1):
            jittered = framed_inputs(keypoints, annotated, noise, rng, mirror=True, scale=scale)
            joints = np.where((pick == m)[:, None, None], jittered, joints)
        order = rng.permutation(len(labels))
        fit = model.fit({"joints": joints[order]}, labels[order], batch_size=cfg.data.batch_size,
                        epochs=1, verbose=0)
        accuracy = float(np.mean([(predict_probabilities(model, v).argmax(1) == val_labels).mean()
                                  for v in val_sets]))
        history.append({"epoch": epoch + 1, "loss": round(float(fit.history["loss"][-1]), 4),
                        "val_accuracy": round(accuracy, 4)})
        log(f"epoch {epoch + 1}/{epochs} loss {history[-1]['loss']:.4f} "
            f"val top-1 ({', '.join(noises) or 'clean'}, flip test) {100 * accuracy:.2f} %"
            + (" (val is trained on)" if keep_last else ""))
        if (epoch + 1 == epochs) if keep_last else (accuracy > best):
            best = accuracy
            model.save(workdir / "best.keras")
    (workdir / "config.yaml").write_text(config_lib.dump(cfg))
    (workdir / "classes.json").write_text(json.dumps(classes) + "\n")
    summary = {
        "framing": {"function": "tfpose.core.joint_frame.frame_joints",
                    "size": joint_frame.FRAME_SIZE, "margin": joint_frame.MARGIN,
                    "scale": scale,
                    "min_score": min_score,
                    "joint_names": list(skeleton.JOINT_NAMES)},
        "flip_test": True,
        "noise": noises,
        "noise_fraction": noise_fraction if noises else 0.0,
        "dataset": str(dataset_dir),
        "splits": list(splits),
        "persons": int(len(labels)),
        "seed": seed,
        "history": history,
        "best_epoch": (epochs if keep_last
                       else int(np.argmax([h["val_accuracy"] for h in history])) + 1),
        "train_seconds": round(time.time() - started, 1),
    }
    (workdir / ACTIVITY_FILE).write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def ensemble(models) -> "keras.Model":
    """One model whose ``action`` B x C is the mean of ``models``' (each with a ``joints``
    B x K x 3 input and a B x C softmax output): seeds of one recipe averaged, shipped as one
    file that ``serving.activity`` calls like any member."""
    import keras

    shape = models[0].output.shape[-1]
    if any(m.output.shape[-1] != shape for m in models):
        raise DataError(f"ensemble members disagree on the classes: "
                        f"{[m.output.shape[-1] for m in models]}")
    joints = keras.Input(models[0].input["joints"].shape[1:], name="joints")
    outputs = [keras.Model(m.inputs, m.outputs[0], name=f"member{i}")({"joints": joints})
               for i, m in enumerate(models)]
    mean = keras.layers.Average(name="action", dtype="float32")(outputs)
    return keras.Model({"joints": joints}, mean, name="activity_ensemble")
