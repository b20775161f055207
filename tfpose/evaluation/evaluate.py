"""Evaluation of trained work dirs on any converted dataset and split.

Pose models are scored with the official PCKh in ORIGINAL-image pixels: predictions in input
pixels go back through each record's crop box, and each record's own head size is the
normaliser. Classifiers get the report's Table 2 figures (loss, accuracy) plus balanced
accuracy, macro-F1, per-class accuracy and a confusion matrix.

A classifier can be scored with either joint source (``joint_source``): the records' ground
truth (``gt``) or the joints a pose model predicts from the image (``predicted``), whichever it
was trained on, so the cost of predicted joints and the benefit of training on them can be read
off one table. ``flip_test`` averages every model with its view of the mirrored input.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np

from tfpose import config as config_lib
from tfpose.core import geometry, zoo
from tfpose.core.errors import ConfigError, DataError
from tfpose.datasets import labels as labels_lib
from tfpose.datasets.integrity import named_shard_errors
from tfpose.datasets.shards import read_manifest
from tfpose.input.pipeline import build_inference_dataset
from tfpose.metrics import classification, pck, pckh
from tfpose.tasks import TwoStage, get_task, load_workdir, pose_task
from tfpose.tasks.workdir import load_pose_workdir
from tfpose.core.workdir import ACTIVITY_FILE


def _batches(cfg, split, max_batches):
    """Inference batches of ``split``; a damaged shard is an error naming shard and record."""
    ds = build_inference_dataset(get_task(cfg), split)
    with named_shard_errors(cfg.data.dir, [split]):
        yield from (ds.take(max_batches) if max_batches else ds)


def collect_pose_predictions(model, cfg, split, *, max_batches=None, flip_test=False) -> dict:
    """Predicted and true keypoints of ``split`` in original pixels.

    Returns numpy arrays: pred N x K x 2, gt N x K x 2, missing N x K (bool), head_size N,
    scores N x K, filename N.
    """
    size = cfg.data.input_size
    task = pose_task(cfg)
    out = {k: [] for k in ("pred", "gt", "missing", "head_size", "scores", "filename")}
    for inputs, meta in _batches(cfg, split, max_batches):
        keypoints, scores = task.predict_keypoints(model, inputs["image"], flip_test=flip_test)
        out["pred"].append(geometry.to_original(keypoints, meta["crop_box"], size))
        out["gt"].append(meta["keypoints_original"][..., :2])
        out["missing"].append(np.asarray(meta["annotated"]) == 0)
        out["head_size"].append(meta["head_size"])
        out["scores"].append(scores)
        out["filename"].append(meta["filename"])
    if not out["pred"]:
        raise DataError(f"{cfg.data.dir}: split {split!r} has no records to evaluate")
    return {k: np.concatenate([np.asarray(v) for v in vals]) for k, vals in out.items()}


def evaluate_pose_model(model, cfg, split, *, max_batches=None, flip_test=False) -> dict:
    """PCKh@0.5 and PCK@0.2 of ``model`` on ``split``:
    {"pckh": pckh result, "pck": pck result, "num_persons": N}."""
    p = collect_pose_predictions(model, cfg, split, max_batches=max_batches, flip_test=flip_test)
    result = pckh.pckh(p["pred"], p["gt"], p["head_size"], p["missing"])
    torso = pck.pck(p["pred"], p["gt"], p["missing"], threshold=0.2)
    return {"pckh": result, "pck": torso, "num_persons": int(len(p["pred"]))}


def predict_action(model, inputs: dict) -> np.ndarray:
    """Class probabilities B x C; feeds the model only the inputs it declares."""
    names = [t.name for t in model.inputs]
    feed = {name: inputs[name] for name in names}
    if not isinstance(model.input, dict):  # e.g. two-stage (one image input): no dict warning
        feed = feed[names[0]] if len(names) == 1 else [feed[name] for name in names]
    outputs = model(feed, training=False)
    if isinstance(outputs, dict):
        outputs = outputs["action"]
    return np.asarray(outputs)


def mirror_inputs(inputs: dict, input_size: int) -> dict:
    """The model inputs seen in a mirror: ``image`` B x S x S x 3 reversed along x; ``joints``
    B x K x 3 (x, y, visible) through ``geometry.mirror_keypoints`` (left and right swapped,
    x -> S - 1 - x where visible; hidden joints keep their zeros)."""
    mirrored = dict(inputs)
    if "image" in inputs:
        mirrored["image"] = np.asarray(inputs["image"])[:, :, ::-1]
    if "joints" in inputs:
        mirrored["joints"] = np.asarray(
            geometry.mirror_keypoints(inputs["joints"], input_size, visible_only=True))
    return mirrored


def evaluate_classifier_model(model, cfg, split, class_names, *, max_batches=None,
                              flip_test=False, model_source="the model") -> dict:
    """Probabilities of ``model`` on the labelled records of ``split`` -> classification report.

    Labels are matched by NAME (``labels.label_table``): the dataset's ids (its manifest's
    ``classes``) become the ids of ``class_names`` (the model's outputs, from ``model_source``,
    e.g. its classes.json), because another conversion numbers the same classes differently.
    Records of classes the model does not know are left out of every score and counted in
    ``unknown_class_records`` (and ``unknown_classes``: {name: records}).

    ``flip_test``: the mean of the probabilities on the inputs and on ``mirror_inputs`` (the
    activity of a person does not change in a mirror; classifiers train with flips).
    """
    dataset_classes = read_manifest(cfg.data.dir).get("classes")
    if not dataset_classes:
        raise DataError(f"{cfg.data.dir}: manifest.json lists no classes, so its labels cannot "
                        f"be matched by name to {model_source} {list(class_names)}")
    table = labels_lib.label_table(dataset_classes, class_names,
                                   dataset=f"{cfg.data.dir} manifest.json", model=model_source)
    labels, probs, unknown = [], [], Counter()
    for inputs, meta in _batches(cfg, split, max_batches):
        raw = np.asarray(meta["label"])
        mapped = labels_lib.map_labels(raw, table, where=str(cfg.data.dir))
        unknown.update(dataset_classes[i] for i in raw[(raw >= 0) & (mapped < 0)])
        keep = mapped >= 0
        if not keep.any():
            continue
        batch_probs = predict_action(model, inputs)
        if flip_test:
            mirrored = predict_action(model, mirror_inputs(inputs, cfg.data.input_size))
            batch_probs = (batch_probs + mirrored) / 2.0
        labels.append(mapped[keep])
        probs.append(batch_probs[keep])
    if not labels:
        raise DataError(f"{cfg.data.dir}: split {split!r} has no labelled records of "
                        f"{model_source}'s classes {list(class_names)} to evaluate"
                        + (f" ({sum(unknown.values())} of other classes)" if unknown else ""))
    report = classification.classification_report(np.concatenate(labels), np.concatenate(probs),
                                                  class_names)
    report["unknown_class_records"] = int(sum(unknown.values()))
    report["unknown_classes"] = dict(sorted(unknown.items()))
    return report


JOINT_SOURCES = ("auto", "gt", "predicted")


def joint_source(cfg, model, joints: str = "auto", pose_workdir=None):
    """The model and dataset config that score the classifier ``model`` with ``joints``.

    ``gt``: the records' ground-truth joints feed the classifier (of a two-stage graph too).
    ``predicted``: the joints of a frozen pose model feed it, through the same in-graph
    composition that trains and exports a two-stage model (``two_stage.build_two_stage``: raw
    image -> pose model -> decoded joints scaled into the classifier's input frame). The pose
    model is ``pose_workdir``'s, or for a two-stage work dir the one frozen inside it.
    ``auto``: the joints the model was trained with (gt for ``classifier``, predicted for
    ``two_stage``).

    Returns ``(data_cfg, model, info)``: ``data_cfg`` builds the matching inference dataset
    (raw images for the predicted path), ``info`` = {"joints": "gt" | "predicted" | "none",
    "pose_workdir": str or None} for the report.
    """
    from tfpose.models import two_stage
    from tfpose.tasks.classify import compose

    task = get_task(cfg)
    two_stage_model = isinstance(task, TwoStage)
    if joints not in JOINT_SOURCES:
        raise ConfigError(f"--joints: expected one of {', '.join(JOINT_SOURCES)}; "
                          f"received {joints!r}")
    if task.is_pose:
        if joints != "auto" or pose_workdir:
            raise ConfigError(f"--joints/--pose-workdir apply to classifier work dirs; {cfg.name} "
                              f"is a {task.kind} pose model (received --joints {joints}"
                              + (f" --pose-workdir {pose_workdir})" if pose_workdir else ")"))
        return cfg, model, {}
    if pose_workdir and joints != "predicted":
        raise ConfigError(f"--pose-workdir {pose_workdir} needs --joints predicted; "
                          f"received --joints {joints}")
    classifier = two_stage.classifier_of(model)
    if "joints" not in [t.name for t in classifier.inputs]:
        if joints != "auto":
            raise ConfigError(f"{cfg.name} ({classifier.name}) takes no joints, so --joints "
                              f"{joints} does not apply; evaluate it with --joints auto")
        return cfg, model, {"joints": "none", "pose_workdir": None}
    if joints == "auto":
        joints = "predicted" if two_stage_model else "gt"

    def with_kind(new_kind):
        return config_lib.replace(cfg, model=config_lib.replace(cfg.model, kind=new_kind))

    if joints == "gt":
        return with_kind("classifier"), classifier, {"joints": "gt", "pose_workdir": None}
    if pose_workdir is None:
        if not two_stage_model:
            raise ConfigError(f"--joints predicted on a {task.kind} work dir needs --pose-workdir "
                              "(a trained pose model's work dir); received none")
        return cfg, model, {"joints": "predicted", "pose_workdir": cfg.model.pose_workdir}
    pose_model, pose = load_pose_workdir(pose_workdir)
    composed = compose(pose_model, pose, classifier, cfg)
    return with_kind("two_stage"), composed, {"joints": "predicted",
                                              "pose_workdir": str(pose_workdir)}


def evaluate_workdir(workdir, *, data_dir=None, split=None, flip_test=False, checkpoint="best",
                     out_dir=None, joints="auto", pose_workdir=None) -> dict:
    """Scores the model trained in ``workdir``; returns {"text": table, "metrics": dict}.

    ``joints`` / ``pose_workdir`` choose a classifier's joint source (``joint_source``); an
    explicit source and ``flip_test`` suffix the output files (``eval-test-predicted-flip.json``)
    so runs with different settings never overwrite each other.
    """
    workdir = Path(workdir)
    if (zoo.resolve(workdir) / ACTIVITY_FILE).is_file():
        return _evaluate_activity_workdir(workdir, data_dir, split, out_dir, joints)
    overrides = [f"data.dir={data_dir}"] if data_dir else []
    cfg, model, names = load_workdir(workdir, checkpoint, overrides)
    data_cfg, model, source = joint_source(cfg, model, joints, pose_workdir)
    split = split or cfg.data.val_split
    out_dir = _out_dir(workdir, out_dir)
    suffix = ("" if joints == "auto" else f"-{joints}") + ("-flip" if flip_test else "")

    if get_task(cfg).is_pose:
        result = evaluate_pose_model(model, cfg, split, flip_test=flip_test)
        metrics = {"model": cfg.name, "split": split, "persons": result["num_persons"],
                   "flip_test": flip_test, **_flat_pckh(result["pckh"]),
                   **pck.summary(result["pck"]), "pck": _flat_pckh(result["pck"])}
        head_rule = read_manifest(cfg.data.dir).get("head_size")
        text = (f"Table 1: PCKh@0.5 of {cfg.name} on {cfg.data.dir} [{split}], "
                f"{result['num_persons']} persons\n"
                + pckh.format_table(result["pckh"], normalizer=head_rule)
                + "\n\n" + pck.format_table(result["pck"]))
    else:
        report = evaluate_classifier_model(model, data_cfg, split, names, flip_test=flip_test,
                                           model_source=str(workdir / "classes.json"))
        classification.plot_confusion_matrix(report["confusion_matrix"], names,
                                             out_dir / f"confusion-{split}{suffix}.png")
        metrics = {"model": cfg.name, "split": split, **source, "flip_test": flip_test,
                   **{k: v for k, v in report.items() if k != "confusion_matrix"}}
        used = source["joints"] + (f" ({source['pose_workdir']})"
                                   if source["joints"] == "predicted" else "")
        text = (f"Table 2: {cfg.name} on {cfg.data.dir} [{split}], joints: {used}"
                f"{', flip test' if flip_test else ''}\n"
                f"{'Model':<24}{'Joints':<11}{'Loss':>8}{'Accuracy':>10}\n"
                f"{cfg.name:<24}{source['joints']:<11}{report['loss']:>8.4f}"
                f"{100 * report['accuracy']:>9.2f}%\n\n"
                + _unknown_text(report)
                + classification.format_report(report, names))
    (out_dir / f"eval-{split}{suffix}.json").write_text(json.dumps(_jsonable(metrics), indent=1))
    return {"text": text, "metrics": _jsonable(metrics)}


def _evaluate_activity_workdir(workdir, data_dir, split, out_dir, joints) -> dict:
    """``evaluate_workdir`` for an activity model (``evaluation.activity``): the records'
    annotated joints in original pixels, framed as the model frames a photo's joints (the
    records' MPII crop would give it a wrong, lower figure); its own flip test."""
    from tfpose.evaluation.activity import evaluate_activity_model
    from tfpose.tasks.activity import ActivityModel

    if joints == "predicted":
        raise DataError(f"{workdir} is an activity model: it is scored on annotated joints; "
                        "on photos it reads a pose model's (tfpose predict MODEL PHOTO "
                        f"--activity {workdir})")
    model = ActivityModel.load(workdir)
    cfg = config_lib.load(zoo.resolve(workdir) / "config.yaml")
    data_dir = data_dir or cfg.data.dir
    split = split or cfg.data.val_split
    report = evaluate_activity_model(model, data_dir, split)
    out_dir = _out_dir(workdir, out_dir)
    classification.plot_confusion_matrix(report["confusion_matrix"], model.classes,
                                         out_dir / f"confusion-{split}.png")
    metrics = {"model": str(workdir), "split": split, "data": str(data_dir), "joints": "gt",
               "framing": model.scale, "flip_test": model.flip_test,
               **{k: v for k, v in report.items() if k != "confusion_matrix"}}
    text = (f"Table 2: activity model {workdir} on {data_dir} [{split}], joints: gt (annotated, "
            f"framed by their own square, scale {model.scale!r})"
            f"{', flip test' if model.flip_test else ''}\n"
            f"{'Model':<24}{'Joints':<11}{'Loss':>8}{'Accuracy':>10}\n"
            f"{Path(workdir).name:<24}{'gt':<11}{report['loss']:>8.4f}"
            f"{100 * report['accuracy']:>9.2f}%\n\n"
            + _unknown_text(report) + classification.format_report(report, model.classes))
    (out_dir / f"eval-{split}.json").write_text(json.dumps(_jsonable(metrics), indent=1))
    return {"text": text, "metrics": _jsonable(metrics)}


def _out_dir(workdir: Path, out_dir) -> Path:
    """Where a score of ``workdir`` is written (created): ``out_dir``, else the work dir, but
    never the installed package (a shipped model's scores go to ``runs/eval/NAME``)."""
    if out_dir is None and zoo.is_shipped(workdir):
        out_dir = Path("runs") / "eval" / workdir.name
    out_dir = Path(out_dir or workdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _unknown_text(report: dict) -> str:
    """The line saying how many records were left out as classes the model does not know."""
    if not report["unknown_class_records"]:
        return ""
    names = ", ".join(f"{name} ({n})" for name, n in report["unknown_classes"].items())
    return (f"left out of every score: {report['unknown_class_records']} records of classes "
            f"the model does not know: {names}\n\n")


def _flat_pckh(result: dict) -> dict:
    return {k: v for k, v in result.items() if isinstance(v, (int, float, str, dict))}


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
