"""The `bench` command line. Heavy imports (Keras) happen inside commands, so --help is instant
and the backend's log level is set before it loads."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bench import __version__
from bench.errors import BenchError, shorten
from bench.native_logs import filtered_stderr
from bench.progress import print_table


def _list_of(kind):
    def parse(text: str):
        items = [t.strip() for t in text.split(",") if t.strip()]
        try:
            return [kind(t) for t in items]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a comma list of {kind.__name__}") from None

    return parse


def _fraction_or_count(text: str) -> int | float:
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError("expected a fraction (0.3) or a count (20)") from None


def _add_run_arguments(p: argparse.ArgumentParser) -> None:
    what = p.add_argument_group("what to run")
    what.add_argument(
        "--models",
        type=_list_of(str),
        metavar="LIST",
        help="comma list of models: names (bench list), family:NAME, or all",
    )
    what.add_argument("--suite", metavar="NAME", help="a named suite of the settings file")
    what.add_argument(
        "--config",
        metavar="FILE",
        help="settings file (default: ./benchmarks.toml, else the project's)",
    )
    what.add_argument(
        "--dataset",
        metavar="NAME",
        help="cifar10, cifar100, digits (built in, no download) or folder:PATH",
    )
    what.add_argument(
        "--data-dir",
        metavar="DIR",
        help="folder holding the CIFAR archives (default: the Keras cache)",
    )
    what.add_argument(
        "--seeds",
        type=_list_of(int),
        metavar="LIST",
        help="comma list of seeds; each model runs once per seed (default 0)",
    )
    what.add_argument(
        "--weights",
        metavar="W",
        help="imagenet (default), none (train from scratch), or a weights file",
    )
    how = p.add_argument_group("how it runs")
    how.add_argument(
        "--backend",
        choices=["tensorflow", "jax", "torch"],
        help="Keras backend of each run's process (default: KERAS_BACKEND or keras.json)",
    )
    how.add_argument(
        "--precision",
        choices=["float32", "mixed"],
        help="mixed: float16 (GPU) or bfloat16 compute, float32 variables, logits and loss",
    )
    how.add_argument(
        "--jit",
        action=argparse.BooleanOptionalAction,
        help="compile the training step with XLA (default: Keras's own choice)",
    )
    how.add_argument(
        "--frozen-mode",
        choices=["end-to-end", "features"],
        help="features: compute the frozen backbone's pooled features once and train the head "
        "on them (no augmentation in that phase); default end-to-end",
    )
    proto = p.add_argument_group("protocol (defaults from the settings file)")
    proto.add_argument(
        "--image-size",
        type=int,
        metavar="N",
        help="size the model resizes images to on the device (default 224)",
    )
    proto.add_argument(
        "--batch-size",
        type=int,
        metavar="N",
        help="training and inference batch size (default 64; halved on out of memory)",
    )
    proto.add_argument(
        "--epochs-frozen", type=int, metavar="N", help="epochs of the head on the frozen backbone"
    )
    proto.add_argument(
        "--epochs-finetune",
        type=int,
        metavar="N",
        help="epochs of fine-tuning the top of the backbone",
    )
    proto.add_argument(
        "--epochs-scratch",
        type=int,
        metavar="N",
        help="epochs of from-scratch training (baselines, --weights none)",
    )
    proto.add_argument(
        "--unfreeze",
        type=_fraction_or_count,
        metavar="F|N",
        help="fine-tune the top fraction (0.3) or number (20) of backbone layers",
    )
    proto.add_argument(
        "--patience", type=int, metavar="N", help="early-stopping patience on validation loss"
    )
    proto.add_argument(
        "--augment",
        action=argparse.BooleanOptionalAction,
        help="flip and shift training images (default on)",
    )
    proto.add_argument(
        "--augment-shift",
        type=float,
        metavar="F",
        help="largest shift as a fraction of each side, in whole pixels (default 0.1)",
    )
    proto.add_argument(
        "--limit",
        type=int,
        metavar="N",
        help="at most N training images, stratified, for quick trials",
    )
    proto.add_argument(
        "--test-limit",
        type=int,
        metavar="N",
        help="at most N test images, stratified, for quick trials",
    )
    out = p.add_argument_group("output")
    out.add_argument("--out", metavar="DIR", help="results folder (default results/)")
    out.add_argument(
        "--force", action="store_true", help="rerun runs already recorded in the results folder"
    )
    out.add_argument("--quiet", action="store_true", help="no progress output")
    out.add_argument(
        "--in-process",
        action="store_true",
        help="run every model in this process instead of one process per run (debugging only: "
        "GPU memory then carries over from run to run)",
    )


SETTING_FLAGS = (
    "models",
    "backend",
    "precision",
    "jit",
    "frozen_mode",
    "dataset",
    "data_dir",
    "seeds",
    "weights",
    "image_size",
    "batch_size",
    "epochs_frozen",
    "epochs_finetune",
    "epochs_scratch",
    "unfreeze",
    "patience",
    "augment",
    "augment_shift",
    "limit",
    "test_limit",
    "out",
)


def cmd_run(args: argparse.Namespace) -> int:
    from bench.api import run

    frame = run(
        config=args.config,
        suite=args.suite,
        force=args.force,
        quiet=args.quiet,
        isolate=not args.in_process,
        **{k: getattr(args, k) for k in SETTING_FLAGS},
    )
    failed = frame[frame["status"] != "ok"]
    for _, row in failed.iterrows():
        print(
            f"bench: run failed: {row['model']} seed={row['seed']} {row['phase']}: {row['error']}",
            file=sys.stderr,
        )
    return 1 if len(failed) else 0


def cmd_list(args: argparse.Namespace) -> int:
    from bench import registry

    header = [
        "model",
        "family",
        "preprocessing",
        "default size",
        "min size",
        "ImageNet top-1 %",
        "weights",
    ]
    rows = [
        [
            spec.name,
            spec.family,
            spec.preprocessing,
            spec.default_size,
            spec.min_size,
            spec.imagenet_top1 or "",
            "imagenet" if spec.pretrained else "scratch",
        ]
        for spec in registry.select([f"family:{args.family}" if args.family else "all"])
    ]
    print_table(header, rows)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from bench import cost, registry
    from bench.model import build_classifier, input_size

    header = ["model", "family", "preprocessing", "default size", "image size"]
    header += ["params (M)", "backbone params (M)", "GMACs", "ImageNet top-1 %"]
    rows = []
    for spec in registry.select(args.models):
        size = input_size(spec, args.image_size or spec.default_size)
        # Random weights: the architecture (params, MACs) is the same, and nothing downloads.
        classifier = build_classifier(
            spec, (size, size, 3), args.num_classes, image_size=size, weights="none", augment=False
        )
        rows.append(
            [
                spec.name,
                spec.family,
                spec.preprocessing,
                spec.default_size,
                size,
                f"{classifier.model.count_params() / 1e6:.3f}",
                f"{classifier.backbone.count_params() / 1e6:.3f}",
                f"{cost.gmacs(classifier.model):.3f}",
                spec.imagenet_top1 or "",
            ]
        )
    print_table(header, rows)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench import report

    made, comparison, paths = report.make(args.results, args.out, **_selection(args))
    report.show(made, args.format)
    _say_what_else(comparison.others, f"written: {', '.join(str(p) for p in paths)}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench import plots
    from bench.comparison import load_comparison
    from bench.results import ResultsStore

    store = ResultsStore(args.results, create=False)
    comparison = load_comparison(store, args.dataset, args.models, args.settings)
    out = ResultsStore(args.out or store.folder / "plots").folder
    paths = plots.draw_all(comparison, out, args.metric, args.phase, args.formats)
    _say_what_else(comparison.others, f"{comparison.describe()}: {len(paths)} files in {out}")
    return 0


def _selection(args: argparse.Namespace) -> dict:
    keys = ("dataset", "models", "settings", "metric", "phase")
    return {k: getattr(args, k) for k in keys}


def _say_what_else(others: list[str], written: str) -> None:
    if written:
        print(written, file=sys.stderr)
    if others:
        print(
            f"bench: {len(others)} other comparison(s) in this folder (choose with --settings, "
            f"--dataset): {'; '.join(others)}",
            file=sys.stderr,
        )


def _add_selection_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument(
        "--results", default="results", metavar="DIR", help="results folder (default results/)"
    )
    p.add_argument("--out", metavar="DIR", help=out_help)
    p.add_argument("--dataset", metavar="NAME", help="only runs on this data set")
    p.add_argument(
        "--models", type=_list_of(str), metavar="LIST", help="only these models (as for run)"
    )
    p.add_argument(
        "--settings",
        metavar="HASH",
        help="the comparison holding this settings_hash (a prefix will do); default: the latest",
    )
    p.add_argument(
        "--metric",
        default="test_accuracy",
        metavar="FIGURE",
        help="rank by this runs.csv figure (default test_accuracy; lower is better for times, "
        "memory and overfit gap)",
    )
    p.add_argument(
        "--phase",
        default="final",
        choices=["final", "frozen", "finetune", "scratch"],
        help="phase to rank (default final: fine-tuned; from scratch for baselines)",
    )


def cmd_env(args: argparse.Namespace) -> int:
    import json

    if args.results:
        from bench.results import ENV_FILE, ResultsStore

        record = ResultsStore(args.results, create=False).read_environment()
        if not record:
            raise BenchError(f"no {ENV_FILE} in {args.results} (bench run writes it)")
    else:
        from bench.environment import collect

        record = collect()
    if args.json:
        print(json.dumps(record, indent=2, default=str))
    else:
        print_table(["field", "value"], list(_flatten(record)))
    return 0


def _flatten(data, prefix: str = ""):
    """Nested dicts as dotted keys; lists of dicts numbered (gpus.0.name)."""
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for key, value in items:
        name = f"{prefix}{key}"
        if isinstance(value, dict) or (
            value and isinstance(value, list) and isinstance(value[0], dict)
        ):
            yield from _flatten(value, name + ".")
        else:
            yield [name, "" if value is None else value]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench", description="Compare pretrained Keras image backbones under one protocol."
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks of errors, debug messages and the backends' own log lines",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser(
        "run",
        help="train and measure models; write results CSV files",
        description="Run models under the protocol; results go to --out.",
    )
    _add_run_arguments(run)
    run.set_defaults(func=cmd_run)
    listing = commands.add_parser("list", help="list every model the registry knows")
    listing.add_argument("--family", help="only this family")
    listing.set_defaults(func=cmd_list)
    info = commands.add_parser(
        "info",
        help="a backbone's family, preprocessing, sizes, params and GMACs (trains nothing)",
    )
    info.add_argument(
        "models",
        nargs="+",
        metavar="MODEL",
        help="model names, family:NAME or all, as for run --models (see bench list)",
    )
    info.add_argument(
        "--image-size", type=int, metavar="N", help="input size (default: the model's own)"
    )
    info.add_argument(
        "--num-classes", type=int, default=10, metavar="N", help="classes of the head (10)"
    )
    info.set_defaults(func=cmd_info)
    env = commands.add_parser(
        "env", help="the environment results record: versions, device, CPU, GPU, commit"
    )
    env.add_argument(
        "--results", metavar="DIR", help="show DIR/env.json (what a suite recorded) instead"
    )
    env.add_argument("--json", action="store_true", help="print JSON")
    env.set_defaults(func=cmd_env)
    report = commands.add_parser(
        "report",
        help="rank models over seeds: summary.csv, ranking.md, ranking.tex (trains nothing)",
        description="Aggregate the results over seeds and rank the models of one comparison "
        "(runs whose protocol settings agree but for the weights).",
    )
    _add_selection_arguments(report, "folder for the report files (default: --results)")
    report.add_argument(
        "--format",
        default="table",
        choices=["table", "md", "tex", "csv"],
        help="what to print: the table (default), or the Markdown, LaTeX or summary CSV file",
    )
    report.set_defaults(func=cmd_report)
    plot = commands.add_parser(
        "plot",
        help="comparison figures (PNG and PDF) from the results (trains nothing)",
        description="Draw the comparison figures of one comparison from the results files.",
    )
    _add_selection_arguments(plot, "folder for the figures (default: RESULTS/plots)")
    plot.add_argument(
        "--formats",
        type=_list_of(str),
        default=["png", "pdf"],
        metavar="LIST",
        help="file formats (default png,pdf)",
    )
    plot.set_defaults(func=cmd_plot)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="bench: %(levelname)s: %(message)s",
    )
    if not args.debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads
    with filtered_stderr(args.debug):  # what TF_CPP_MIN_LOG_LEVEL does not silence
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    try:
        return args.func(args)
    except BenchError as err:
        if args.debug:
            raise
        print(f"bench: error: {shorten(err, 2000)}", file=sys.stderr)
        return 2
    except OSError as err:  # the file system refused: a name too long, a full disk
        if args.debug:
            raise
        where = f": {shorten(err.filename)}" if err.filename else ""
        print(f"bench: error: {err.strerror or err}{where}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted; results already written are kept", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        print(
            f"bench: internal error: {type(err).__name__}: {shorten(err, 2000)} "
            "(--debug shows the traceback)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
