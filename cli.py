"""The ``tfpose`` command line: one click group, one thin command per job.

Commands import TensorFlow lazily, inside their bodies, so ``tfpose --help`` answers at once.
Library code raises ordinary exceptions; ``main`` turns the expected ones (bad config, bad
input) into a one-line error and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import functools
import sys

import click

from tfpose import __version__
from tfpose.serving import people, smoothing  # numpy only: the options' defaults


# Commands that never import TensorFlow start without it (and without its start-up cost).
TF_FREE_COMMANDS = {"synth", "eval-pckh", "models"}
# Commands that import it (quietly) only when they need it: predict on the LiteRT path does not.
TF_WHEN_NEEDED_COMMANDS = {"predict"}
# `tfpose predict`'s exit status when some images could not be read (each named on stderr)
# and the others were answered: apart from 1 (a crash) and 2 (a refused command).
SOME_IMAGES_FAILED = 3


class ProgressBar:
    """A click progress bar on stderr for ``progress(done, total)`` callbacks: the library
    reports progress, the CLI draws it (the total is known only once the work has started)."""

    def __init__(self, label: str):
        self.label, self.bar, self.done = label, None, 0

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, file=sys.stderr)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfpose")
@click.option("--verbose", is_flag=True,
              help="Show TensorFlow's own start-up and C++ log lines (hidden by default).")
@click.pass_context
def cli(ctx, verbose):
    """tfpose: MPII joint localisation and pose-aware action classification (double CNN)."""
    ctx.obj = {"verbose": verbose}
    if not verbose and ctx.invoked_subcommand not in TF_FREE_COMMANDS | TF_WHEN_NEEDED_COMMANDS:
        from tfpose.core.console import import_tensorflow_quietly

        import_tensorflow_quietly()


# -- data --------------------------------------------------------------------------------------


@cli.command()
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option("--images", "num_images", default=1000, show_default=True, type=click.IntRange(min=1), help="Images to generate.")
@click.option("--seed", default=0, show_default=True, help="Same seed, byte-identical output.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Drawing processes (default: CPU count; 1: in-process).")
@click.option("--min-width", default=320, show_default=True, type=click.IntRange(min=32), help="Smallest image width in pixels.")
@click.option("--max-width", default=1280, show_default=True, type=click.IntRange(min=32), help="Largest image width in pixels.")
def synth(out_dir, num_images, seed, workers, min_width, max_width):
    """Write a synthetic MPII dataset: OUT_DIR/images/*.jpg + OUT_DIR/mpii_synthetic.mat."""
    from tfpose.datasets import synthetic

    with click.progressbar(length=num_images, label="drawing images", file=sys.stderr) as bar:
        summary = synthetic.generate(out_dir, num_images, seed=seed, workers=workers,
                                     progress=bar.update, width_range=(min_width, max_width))  # fmt: skip
    categories = sum(1 for name in summary["categories"] if name != "(unlabelled)")
    click.echo(
        f"wrote {summary['images']} images, {summary['persons']} persons "
        f"({summary['annotated_persons']} with joints), {categories} categories in "
        f"{summary['seconds']:.1f} s ({summary['workers']} worker"
        f"{'s' if summary['workers'] > 1 else ''}) to {summary['mat']}"
    )


def _ratios(ctx, param, value):
    try:
        ratios = tuple(float(v) for v in value.split(","))
    except ValueError:
        raise click.BadParameter(f"expected three numbers like 0.8,0.1,0.1. Received: {value!r}")
    if len(ratios) != 3:
        raise click.BadParameter(f"expected train,val,test ratios. Received: {value!r}")
    return ratios


@cli.command()
@click.argument("annotations", type=click.Path(exists=True, dir_okay=False))
@click.option("--images", "images_dir", type=click.Path(exists=True, file_okay=False), help="Image folder.")
@click.option("--annotations-only", is_flag=True, help="Joints and labels only, no images read.")
@click.option("--out", "out_dir", required=True, type=click.Path(), help="Dataset folder to create.")
@click.option("--min-joints", default=4, show_default=True, help="Drop persons with fewer annotated joints.")
@click.option("--min-class-fraction", default=0.05, show_default=True, help="Drop categories below this fraction of the largest (0 keeps all).")
@click.option("--top-classes", type=int, default=None, help="Keep only the K largest categories.")
@click.option("--classes", "classes", type=click.Path(exists=True), default=None, help="Keep exactly these classes in this label order: a work dir's classes.json, a manifest.json or one name per line (the frequency filters then do not apply).")
@click.option("--format", "format", type=click.Choice(["auto", "mpii", "lsp"]), default="auto", show_default=True, help="mpii: RELEASE .mat or HRNet JSON; lsp: LSP/LSPET joints.mat; auto: from the file.")
@click.option("--crop", type=click.Choice(["person", "whole", "letterbox"]), default="person", show_default=True, help="Square around the person, the whole image stretched (the report), or the whole image letterboxed (as predict frames a photo).")
@click.option("--margin", default=1.25, show_default=True, help="Person crop side = scale x 200 x margin (without a scale, as LSP: margin x the joints' box).")
@click.option("--image-size", default=256, show_default=True, help="Stored image side in pixels.")
@click.option("--jpeg-quality", default=90, show_default=True)
@click.option("--split-ratios", default="0.8,0.1,0.1", show_default=True, callback=_ratios, help="train,val,test fractions (split by video, else image).")
@click.option("--seed", default=0, show_default=True)
@click.option("--split", default=None, help="Put every record in this one split.")
@click.option("--validation-list", type=click.Path(exists=True, dir_okay=False), help="valid_index.mat (or a name list): these persons form 'val'.")
@click.option("--num-shards", type=int, default=None, help="Shards per split (default: ~1000 records each).")
@click.option("--workers", default=2, show_default=True, help="Image processes (1: in-process).")
@click.option("--overwrite", is_flag=True, help="Replace an existing output folder.")
def convert(annotations, images_dir, annotations_only, out_dir, **options):
    """Convert MPII (.mat or JSON) or LSP/LSPET (joints.mat) annotations and images into sharded
    TFRecords + manifest.json."""
    from tfpose.datasets.convert import convert as convert_dataset
    from tfpose.datasets.shards import LOG

    if (images_dir is None) == (not annotations_only):
        raise click.UsageError("give exactly one of --images DIR and --annotations-only")
    with ProgressBar("converting") as bar:
        manifest = convert_dataset(annotations, out_dir, images_dir, annotations_only,
                                   progress=bar.update, **options)
    total = sum(manifest["num_records"].values())
    splits = ", ".join(f"{k} {v}" for k, v in manifest["num_records"].items())
    skipped = ", ".join(f"{k} {v}" for k, v in manifest["skipped"].items()) or "none"
    click.echo(f"wrote {total} records ({splits}), {manifest['num_classes']} classes to {out_dir}")
    click.echo(f"skipped: {skipped} (see {out_dir}/{LOG})")


@cli.command()
@click.argument("dataset_dir", type=click.Path(exists=True, file_okay=False))
@click.option("--examples", default=0, show_default=True, help="Records to draw with their skeleton.")
@click.option("--out", "out_dir", type=click.Path(), default=None, help="PNG folder (default DATASET_DIR/inspect).")
@click.option("--seed", default=0, show_default=True, help="Which records are drawn.")
def inspect(dataset_dir, examples, out_dir, seed):
    """Counts per split and class, joint coverage, and example drawings of a converted dataset."""
    from tfpose.datasets import inspection

    report = inspection.inspect_dataset(dataset_dir, examples=examples, out_dir=out_dir, seed=seed)
    click.echo(inspection.format_inspection(report))


# -- pose --------------------------------------------------------------------------------------


@cli.command("eval-pckh")
@click.option("--gt", "gt_path", required=True, type=click.Path(dir_okay=False),
              help="Ground truth in the gt_valid.mat layout (pos_gt_src, jnt_missing, "
                   "headboxes_src).")
@click.option("--preds", "preds_path", required=True, type=click.Path(dir_okay=False),
              help="Predictions: .h5 / .mat (key 'preds') or .npy; N x 16 x 2 or 2 x 16 x N.")
@click.option("--threshold", default=0.5, show_default=True, type=float,
              help="Fraction of the head size within which a joint is correct.")
@click.option("--head", type=click.Choice(["top", "neck_top"]), default="top", show_default=True,
              help="Head = head top (Python tables) or mean of upper neck and head top (MATLAB).")
@click.option("--zero-based", is_flag=True,
              help="Predictions are 0-based pixels (tfpose's own): add 1 to match the "
                   "1-based .mat.")
@click.option("--json", "json_only", is_flag=True, help="Print only the JSON line.")
def eval_pckh(gt_path, preds_path, threshold, head, zero_based, json_only):
    """Score a prediction file with the official PCKh; print Table 1 and one JSON line."""
    import json

    from tfpose.metrics import pckh, pckh_files

    gt = pckh_files.load_gt(gt_path)
    preds = pckh_files.load_predictions(preds_path, num_persons=len(gt))
    if zero_based:
        preds = preds + 1.0
    result = pckh.pckh(preds, gt.joints, gt.head_size, gt.missing, threshold=threshold, head=head)
    if not json_only:
        click.echo(pckh.format_table(result))
    click.echo(json.dumps(pckh.summary(result)))


# -- training and evaluation -------------------------------------------------------------------


@cli.command()
@click.argument("config_path", metavar="CONFIG", type=click.Path(dir_okay=False))
@click.option("--workdir", "-w", type=click.Path(file_okay=False), default=None,
              help="Where checkpoints, logs and the model go [default: runs/<config name>].")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, e.g. --set train.epochs=3 (repeatable).")
@click.option("--overwrite", is_flag=True, help="Start afresh in a work dir holding another run.")
def train(config_path, workdir, overrides, overwrite):
    """Train the model described by CONFIG (resumes when WORKDIR holds the same run)."""
    from pathlib import Path

    from tfpose import config as config_lib
    from tfpose.core.console import fit_verbosity
    from tfpose.training.train import train as run_training

    cfg = config_lib.load(config_path, overrides)
    workdir = workdir or str(Path("runs") / Path(config_path).stem)
    summary = run_training(cfg, workdir, overwrite=overwrite, verbose=fit_verbosity())
    click.echo(f"Trained {cfg.name}: {summary['steps']} steps; model in {workdir}/model.keras")


def _model_source(ctx, param, value):
    """A work dir / model path, or a shipped model's name (``tfpose models``) -> its path."""
    from tfpose.core import zoo

    path = zoo.resolve(value)
    if not path.exists():
        shipped = ", ".join(zoo.names()) or "none"
        raise click.BadParameter(f"{value!r} is neither a path nor a shipped model "
                                 f"(shipped: {shipped})", ctx=ctx, param=param)
    return str(path)


@cli.command()
@click.argument("workdir", callback=_model_source)
@click.option("--data", "data_dir", type=click.Path(exists=True, file_okay=False), default=None,
              help="A converted dataset to evaluate on [default: the training dataset].")
@click.option("--split", default=None, help="Split to score [default: the config's val split].")
@click.option("--flip-test", is_flag=True,
              help="Average with the mirrored input (image and joints, left/right swapped); "
                   "suffixes the outputs (eval-SPLIT-flip.json).")
@click.option("--checkpoint", type=click.Choice(["best", "model"]), default="best",
              show_default=True, help="Which saved model of WORKDIR to score.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Where to write the metrics JSON and confusion matrix [default: WORKDIR].")
@click.option("--joints", type=click.Choice(["auto", "gt", "predicted"]), default="auto",
              show_default=True,
              help="Classifiers: joints fed to the model. gt = the records' annotations; "
                   "predicted = a frozen pose model's, composed as in a two-stage model; auto = "
                   "those it trained on. gt/predicted suffix the outputs (eval-SPLIT-gt.json).")
@click.option("--pose-workdir", type=click.Path(exists=True, file_okay=False), default=None,
              help="Pose model work dir for --joints predicted (required for a classifier work "
                   "dir; a two_stage work dir defaults to the pose model frozen inside it).")
def evaluate(workdir, data_dir, split, flip_test, checkpoint, out_dir, joints, pose_workdir):
    """Score a trained model: PCKh@0.5 and PCK@0.2 tables (pose) or Table 2 metrics
    (classifiers). WORKDIR is a training work dir or a shipped model's name (tfpose models)."""
    import json

    from tfpose.evaluation.evaluate import evaluate_workdir

    result = evaluate_workdir(workdir, data_dir=data_dir, split=split, flip_test=flip_test,
                              checkpoint=checkpoint, out_dir=out_dir, joints=joints,
                              pose_workdir=pose_workdir)
    click.echo(result["text"])
    click.echo(json.dumps(result["metrics"]))

# -- export and prediction ---------------------------------------------------------------------


@cli.command("export")
@click.argument("workdir", callback=_model_source)
@click.option("--format", "fmt", type=click.Choice(["savedmodel", "tflite"]), default="savedmodel",
              show_default=True, help="TF Serving SavedModel, or a LiteRT .tflite for the edge.")
@click.option("--base", "base_dir", type=click.Path(file_okay=False),
              help="savedmodel: TF Serving model base folder; the export goes to BASE/NAME/VERSION.")
@click.option("--name", help="savedmodel: model name (the folder TF Serving serves).")
@click.option("--version", "version", type=click.IntRange(min=1),
              help="savedmodel: model version, a positive integer.")
@click.option("--out", "out_file", type=click.Path(dir_okay=False),
              help="tflite: the .tflite file (its sidecar FILE.json is written beside it). "
                   "WORKDIR/best.tflite is the work dir's LiteRT twin: tfpose predict WORKDIR "
                   "then runs on LiteRT (--engine auto) while best.keras stays the same.")
@click.option("--quantize", type=click.Choice(["none", "float16", "int8"]), default="none",
              show_default=True, help="tflite: weights (and for int8 activations) precision.")
@click.option("--calibration-data", type=click.Path(file_okay=False), default=None,
              help="tflite int8: a converted dataset whose training images calibrate the "
                   "activation ranges [default: the model's data.dir].")
@click.option("--checkpoint", type=click.Choice(["best", "model"]), default="best",
              show_default=True, help="Which saved model of WORKDIR to export.")
@click.option("--overwrite", is_flag=True, help="Replace an existing export.")
@click.option("--detector", default=people.DETECTOR, show_default=True, metavar="MODEL",
              help="savedmodel of a pose model: the person detector whose detect_people "
                   "signatures join the export, so a TF Serving client finds every person "
                   "first (docs/serving.md); none leaves it out.")
def export_cmd(workdir, fmt, base_dir, name, version, out_file, quantize, calibration_data,
               checkpoint, overwrite, detector):
    """Write WORKDIR's model as a TF Serving SavedModel (preprocessing inside the graph) or, with
    --format tflite, as a LiteRT model (crop and decode on the host: tfpose predict FILE.tflite).
    WORKDIR is a training work dir or a shipped model's name (tfpose models)."""
    if fmt == "tflite":
        if not out_file:
            raise click.UsageError("--format tflite needs --out FILE.tflite")
        from tfpose.serving.litert import export_tflite

        path = export_tflite(workdir, out_file, quantize=quantize, checkpoint=checkpoint,
                             calibration_data=calibration_data, overwrite=overwrite)
        click.echo(f"Exported {workdir} to {path} ({quantize}; sidecar {path.with_suffix('.json')})")
        return
    missing = [flag for flag, v in (("--base", base_dir), ("--name", name), ("--version", version))
               if v is None]
    if missing:
        raise click.UsageError(f"--format savedmodel needs {', '.join(missing)}")
    from pathlib import Path

    from tfpose import config as config_lib
    from tfpose.serving.detect_signatures import DETECT_SIGNATURES, export_with_detector
    from tfpose.serving.export import SIGNATURES, export_workdir
    from tfpose.tasks import get_task

    is_pose = get_task(config_lib.load(Path(workdir) / "config.yaml")).is_pose
    detector = detector if is_pose and detector.lower() != "none" else None
    options = dict(checkpoint=checkpoint, overwrite=overwrite)
    path = (export_with_detector(workdir, base_dir, name, version, detector, **options)
            if detector else export_workdir(workdir, base_dir, name, version, **options))
    names = SIGNATURES + (DETECT_SIGNATURES if detector else ())
    click.echo(f"Exported {workdir} to {path} (signatures: {', '.join(names)})")


@cli.command()
@click.argument("model_path", metavar="MODEL", callback=_model_source)
@click.argument("images", nargs=-1, type=click.Path(exists=True))
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the drawings (one PNG per image; for a video OUT/NAME.mp4 and "
                   "its JSON lines OUT/NAME.jsonl); required unless --no-draw.")
@click.option("--no-draw", is_flag=True, help="Write no drawings: only the JSON lines.")
@click.option("--recursive", is_flag=True,
              help="A folder argument: its sub-folders' photos too (drawn under OUT/SUB/).")
@click.option("--box", default=None, metavar="X0,Y0,X1,Y1",
              help="Person box in original pixels for every image [default: the whole image, "
                   "framed as the model's training data: letterboxed for lspet].")
@click.option("--batch-size", default=8, show_default=True, type=click.IntRange(min=1),
              help="Images (video frames without tracking) per model call.")
@click.option("--checkpoint", type=click.Choice(["best", "model"]), default="best",
              show_default=True, help="Which saved model of a work dir to use.")
@click.option("--passes", type=click.IntRange(1, 2), default=2, show_default=True,
              help="Pose models on whole images: 2 finds the person on the whole photo (with "
                   "the detector: on the person's box), then predicts again on the square "
                   "around those joints (with the detector: when the person's box framed them "
                   "badly); 1 stops after the first. "
                   "--box skips the first pass. The SavedModel's serving_default is one pass "
                   "(a TF Serving client sends pass 1's box to serving_boxes); a .tflite and "
                   "a work dir do both here.")
@click.option("--camera", type=click.IntRange(min=0), default=None, metavar="N",
              help="Read webcam N (Linux /dev/videoN, macOS AVFoundation device N) instead of "
                   "files, until Ctrl-C or --max-frames; outputs OUT/cameraN.*.")
@click.option("--track/--no-track", default=True, show_default=True,
              help="Video with --detector none (one person): predict each frame on the square "
                   "around the previous frame's joints (one pass), searching the whole frame "
                   "only when their mean score drops under 0.2; --no-track runs every frame "
                   "alone. With a detector every frame is searched for everyone, and each "
                   "person is a track with its own id.")
@click.option("--smooth/--no-smooth", default=True, show_default=True,
              help="Video: hold back one-frame jumps of single joints, One-Euro filters "
                   "on the person's centre and on the pose around it, then a Gaussian mean "
                   "over --lookahead frames either side; reset when the person is lost or the "
                   "shot changes.")
@click.option("--min-cutoff", type=click.FloatRange(min=0, min_open=True),
              default=smoothing.MIN_CUTOFF,
              show_default=True, help="Video: One-Euro cutoff (Hz) of a still joint; lower is "
                                      "smoother.")
@click.option("--beta", type=click.FloatRange(min=0), default=smoothing.BETA, show_default=True,
              help="Video: One-Euro cutoff increase per pixel/s of joint speed; higher lags "
                   "less.")
@click.option("--lookahead", type=click.IntRange(min=0), default=None, metavar="FRAMES",
              help="Video with --detector none: frames each output waits, to smooth over the "
                   "frames either side "
                   f"too [default: {smoothing.LOOKAHEAD} for a file, 0 for --camera]; 0 is "
                   "causal (the One-Euro filters alone).")
@click.option("--max-frames", type=click.IntRange(min=1), default=None,
              help="Video: stop after this many frames.")
@click.option("--engine", type=click.Choice(["auto", "tensorflow", "litert"]), default="auto",
              show_default=True,
              help="What runs the network. auto: LiteRT (XNNPACK, faster on a CPU) for a "
                   ".tflite, and for a work dir or shipped model whose LiteRT twin "
                   "(CHECKPOINT.tflite, exported from its current weights; lspet ships one) "
                   "is there and ai-edge-litert is installed (both passes then run at "
                   "data.input_size); TensorFlow otherwise.")
@click.option("--activity", default=None, metavar="MODEL",
              help="Name each person's activity (in a photo, or in each video frame) from the "
                   "pose model's joints with an activity model (a shipped name, e.g. mpii-activity, or a work dir of "
                   "scripts/train_activity.py); each line gains \"activity\": {\"class\", "
                   "\"probability\", \"top\": 3 x {\"class\", \"probability\"}}.")
@click.option("--detector", default=people.DETECTOR, show_default=True, metavar="MODEL",
              help="The person detector that finds everyone (in a photo, or in each video "
                   "frame) before the pose model looks at each (a shipped name, a work dir or "
                   "a .tflite); none: one skeleton per photo from the whole photo, as for a "
                   "photo of one person cut to them.")
@click.option("--max-people", type=click.IntRange(min=1), default=people.MAX_PEOPLE,
              show_default=True, help="At most this many persons per photo or frame, best "
                                      "first.")
@click.option("--min-score", type=click.FloatRange(0, 1), default=people.MIN_SCORE,
              show_default=True, help="The detector score a person needs.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Photos: processes answering them, each on its share of the cores "
                   "[default: one per core for 400 photos or more through LiteRT without "
                   "--activity (starting them costs ~1 s); else 1, in-process].")
def predict(model_path, images, out_dir, no_draw, recursive, box, batch_size, checkpoint, passes,
            camera, track, smooth, min_cutoff, beta, lookahead, max_frames, engine,
            activity, detector, max_people, min_score, workers):
    """Predict the skeleton (and activity) of every person in each IMAGE: one JSON line per
    image; or in each frame of a video clip (any container and codec FFmpeg reads) or of
    --camera N.

    MODEL is a shipped model's name (tfpose models, e.g. lspet), a training work dir, an
    exported SavedModel, a TF Serving model folder (its highest version), or a LiteRT .tflite
    written by tfpose export --format tflite.

    IMAGE is a photo (JPEG, PNG, WebP, TIFF, BMP, GIF; turned as its EXIF orientation says, as
    viewers show it), a clip, or a folder: its photos in name order (--recursive: and its
    sub-folders'), drawn under the same relative path in OUT; other files are skipped and
    counted.

    Each line: {"image": path, "keypoints": 16 x [x, y], "scores": 16, "class", "probability",
    "persons": [{"box": [x0, y0, x1, y1], "score", "keypoints", "scores"}, ...]} with every
    person the detector found, best first ([] for nobody; the top-level keypoints and scores
    are the first person's, null for nobody; no "persons" with --box or --detector none);
    with --activity also "activity": {"class", "probability", "top"} (in each person too).
    Keypoints in MPII joint order (0 r ankle ... 9 head top ... 15 l wrist), in 0-based pixels
    of the original image with pixel centres at integers (the top-left pixel is (0, 0)).

    A video writes OUT/NAME.jsonl, a line per frame ({"frame", "time_s", the fields above, each
    person with its "track_id", which stays with them from frame to frame}; with --detector
    none one person and "tracked"), and OUT/NAME.mp4, the clip with the skeletons drawn, each
    track in its own colour (same size and frame rate; H.264). Without --out (and with
    --no-draw) the lines go to stdout.

    A photo that cannot be used (damaged, truncated, not an image, an unsupported format) is
    one line on stderr naming it; every other photo is answered and drawn, a last line counts
    the failures, and the exit status is 3.
    """
    import json

    from tfpose.core.errors import DataError
    from tfpose.serving.images import SUPPORTED, photo_files
    from tfpose.serving.predict import make_predictor, parse_box, predict_files
    from tfpose.serving.video import is_video

    if out_dir is None and not no_draw:
        raise click.UsageError("give --out DIR for the drawings, or --no-draw")
    if not images and camera is None:
        raise click.UsageError("give IMAGE... (photos, folders or video clips) or --camera N")
    files, skipped = photo_files(images, recursive)
    for folder, others, subfolders in skipped:
        notes = [f"skipped {_count(others, 'file')} without a photo extension"] if others else []
        if subfolders:
            notes.append(f"{_count(subfolders, 'sub-folder')} not searched (--recursive)")
        if notes:
            click.echo(f"{folder}: {'; '.join(notes)}", err=True)
    videos = [path for path, _ in files if is_video(path)]
    photos = [(path, name) for path, name in files if path not in videos]
    if not files and camera is None:
        raise DataError(f"{', '.join(images)}: no photos in it ({SUPPORTED})")
    if box and (videos or camera is not None):
        raise click.UsageError("--box is for photos; a video is tracked from its first frame")
    from tfpose.core.console import import_tensorflow_quietly

    verbose = (click.get_current_context().obj or {}).get("verbose", False)
    predictor = make_predictor(model_path, checkpoint, passes, engine,
                               before_tensorflow=None if verbose else import_tensorflow_quietly)
    activity_model = None
    if activity is not None:
        from tfpose.serving.activity import ActivityModel

        if not verbose:
            import_tensorflow_quietly()  # the activity model is a Keras model
        activity_model = ActivityModel.load(activity)
    box = parse_box(box) if box else None

    @functools.cache
    def person_finder():
        # Built only where this process answers: with workers each builds its own (~0.3 s).
        return None if box is not None else people.every_person(
            predictor, detector, max_people=max_people, min_score=min_score, engine=engine)

    failed = 0
    if photos:
        import numpy as np

        from tfpose.serving import parallel

        paths, names = [path for path, _ in photos], [name for _, name in photos]
        workers = workers or parallel.auto_workers(predictor, len(paths), activity is not None)
        if workers > 1:
            spec = parallel.PredictorSpec(
                str(model_path), checkpoint, passes, engine,
                None if box is not None else detector, max_people, min_score, activity)
            records = parallel.predict_files_parallel(
                spec, paths, None if no_draw else out_dir, workers=workers,
                batch_size=batch_size, drawing_names=names,
                boxes=None if box is None else np.tile(box, (len(paths), 1)))
        else:
            records = predict_files(model_path, paths, None if no_draw else out_dir, box=box,
                                    checkpoint=checkpoint, batch_size=batch_size,
                                    passes=passes, predictor=predictor, errors="record",
                                    drawing_names=names, activity=activity_model,
                                    people=person_finder())
        for rec in records:
            if "error" in rec:
                failed += 1
                click.echo(f"Error: {rec['error']}", err=True)
            else:
                click.echo(json.dumps(rec))
    sources = [(path, None, None) for path in videos]
    if camera is not None:
        from tfpose.serving.video import camera_source

        source, fmt = camera_source(camera)
        sources.append((source, fmt, f"camera{camera}"))
    for source, fmt, name in sources:
        _predict_video(predictor, source, fmt, name, out_dir, no_draw, track, smooth, min_cutoff,
                       beta, lookahead, batch_size, max_frames, person_finder(), activity_model)
    if failed:
        click.echo(f"{len(photos) - failed} of {len(photos)} images answered, {failed} failed "
                   f"(each named above); exit status {SOME_IMAGES_FAILED}", err=True)
        sys.exit(SOME_IMAGES_FAILED)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _predict_video(predictor, source, fmt, name, out_dir, no_draw, track, smooth, min_cutoff,
                   beta, lookahead, batch_size, max_frames, finder=None, activity=None):
    """One clip or camera through ``video.predict_video`` (or, with ``finder``, every person
    through ``people_video.predict_people_video``): a progress line (frames/s) on a terminal,
    a summary line at the end."""
    import json

    from tfpose.serving.people_video import predict_people_video
    from tfpose.serving.video import predict_video

    interactive = sys.stderr.isatty()
    last = [0.0]

    def progress(done, expected, seconds):
        if interactive and (seconds - last[0] >= 0.5 or done == expected):
            last[0] = seconds
            total = f"/{expected}" if expected else ""
            click.echo(f"\r{name or source}: frame {done}{total}, {done / max(seconds, 1e-9):.1f} "
                       "frames/s", nl=False, err=True)

    to_stdout = out_dir is None
    annotate = None
    if activity is not None:  # each frame's people named, as a photo's
        from tfpose.serving.activity import attach

        annotate = lambda rec: attach(rec, activity)  # noqa: E731
    common = dict(name=name, format=fmt, draw=not no_draw, smooth=smooth, min_cutoff=min_cutoff,
                  beta=beta, batch_size=batch_size, max_frames=max_frames, progress=progress,
                  on_record=(lambda rec: click.echo(json.dumps(rec))) if to_stdout else None,
                  annotate=annotate)
    try:
        if finder is not None:
            summary = predict_people_video(finder, source, out_dir, **common)
        else:
            summary = predict_video(predictor, source, out_dir, track=track,
                                    lookahead=lookahead, **common)
    finally:
        if interactive:
            click.echo("", err=True)
    outputs = ", ".join(p for p in (summary["jsonl"], summary["video"]) if p) or "stdout"
    click.echo(f"{name or source}: {summary['frames']} frames ({summary['width']} x "
               f"{summary['height']}, {summary['video_fps']:g} fps) in {summary['seconds']:.1f} "
               f"s, {summary['fps']} frames/s, {summary['tracked_frames']} tracked, "
               + (f"{summary['tracks']} people tracks, " if "tracks" in summary else "")
               + f"{summary['cuts']} cuts; "
               f"wrote {outputs}" + (f" ({summary['codec']})" if summary["codec"] else ""),
               err=to_stdout)


@cli.command()
def models():
    """List the pretrained models shipped with tfpose (usable wherever a work dir is)."""
    from tfpose.core import zoo

    names = zoo.names()
    width = max([12, *map(len, names)])  # mpii-activity is 13 letters: keep the column
    for name in names:
        click.echo(f"{name:{width}s} {zoo.summary(name)}")


def main(argv=None):
    from tfpose.core.errors import TfposeError

    try:
        cli.main(args=argv, prog_name="tfpose", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (TfposeError, FileNotFoundError) as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
