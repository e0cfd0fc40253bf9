"""The `bench` command line: its parser and its errors. Each command is in `bench.commands`;
the flags of `bench run`, one per setting, are in `bench.run_flags`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from bench import __version__, commands
from bench.common.flags import Parser, count_or_word, list_of
from bench.common.native_logs import filtered_stderr
from bench.errors import BenchError, shorten
from bench.run_flags import add_run_arguments
from bench.settings import PHASES


def _add_filter_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", metavar="NAME", help="only runs on this data set")
    p.add_argument(
        "--models", type=list_of(str), metavar="LIST", help="only these models (as for run)"
    )


def _add_selection_arguments(p: argparse.ArgumentParser, out_help: str) -> None:
    p.add_argument(
        "--results", default="results", metavar="DIR", help="results folder (default results/)"
    )
    p.add_argument("--out", metavar="DIR", help=out_help)
    _add_filter_arguments(p)
    p.add_argument(
        "--settings",
        metavar="HASH",
        help="the comparison holding this settings_hash (a prefix will do); default: the latest",
    )
    p.add_argument(
        "--train-per-class",
        type=count_or_word,
        metavar="N|all",
        help="the training size per class to rank, of runs with --train-per-class (default: "
        "all images, else the largest size)",
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
        choices=["final", *PHASES],
        help="phase to rank (default final: fine-tuned; from scratch for baselines)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="bench", description="Compare pretrained Keras image backbones under one protocol."
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show tracebacks of errors, debug messages and the backends' own log lines",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subcommands = parser.add_subparsers(dest="command", required=True)
    run = subcommands.add_parser(
        "run",
        help="train and measure models; write results CSV files",
        description="Run models under the protocol; results go to --out. Every setting has "
        "a flag here, which overrides the settings file (built-in defaults shown).",
    )
    add_run_arguments(run)
    run.set_defaults(func=commands.cmd_run)
    listing = subcommands.add_parser("list", help="list every model, KerasHub's presets too")
    listing.add_argument("--family", help="only this family")
    sources = "keras.applications, baseline, port or kerashub (KerasHub's presets)"
    listing.add_argument("--source", help=f"only this source's models: {sources}")
    listing.set_defaults(func=commands.cmd_list)
    info = subcommands.add_parser(
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
    info.set_defaults(func=commands.cmd_info)
    env = subcommands.add_parser(
        "env", help="the environment results record: versions, device, CPU, GPU, commit"
    )
    env.add_argument(
        "--results", metavar="DIR", help="show DIR/env.json (what a suite recorded) instead"
    )
    env.add_argument("--json", action="store_true", help="print JSON")
    env.set_defaults(func=commands.cmd_env)
    report = subcommands.add_parser(
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
    report.add_argument(
        "--html",
        action="store_true",
        help="also write report.html: the table (sortable), every figure, the failed runs and "
        "the details, in one file that opens offline",
    )
    report.add_argument(
        "--columns", default="paper", help="ranking.tex columns: paper (default), all or KEY,..."
    )
    report.add_argument(
        "--across-datasets",
        action="store_true",
        help="rank the models over every data set instead: mean ranks, Friedman and Nemenyi "
        "tests (Demšar 2006); across.md, across.tex, plots/critical_difference.png",
    )
    report.set_defaults(func=commands.cmd_report)
    compare = subcommands.add_parser(
        "compare",
        help="two results side by side: accuracy differences with Welch's t-test, time ratios",
        description="Compare two results, per model and phase: A and B are results folders, "
        "or settings hashes (a prefix will do) within --results. Says first what differs "
        "between them (settings, backend, versions, device).",
    )
    compare.add_argument("sides", nargs=2, metavar="A|B", help="results folder or settings hash")
    compare.add_argument(
        "--results", default="results", metavar="DIR", help="folder of the settings hashes"
    )
    _add_filter_arguments(compare)
    compare.add_argument(
        "--format",
        default="table",
        choices=["table", "md", "tex", "csv", "html"],
        help="terminal table (default), Markdown, LaTeX, HTML, or CSV of every figure",
    )
    compare.set_defaults(func=commands.cmd_compare)
    plot = subcommands.add_parser(
        "plot",
        help="comparison figures (PNG and PDF) from the results (trains nothing)",
        description="Draw the comparison figures of one comparison from the results files.",
    )
    _add_selection_arguments(plot, "folder for the figures (default: RESULTS/plots)")
    plot.add_argument(
        "--formats",
        type=list_of(str),
        default=["png", "pdf"],
        metavar="LIST",
        help="file formats (default png,pdf)",
    )
    plot.set_defaults(func=commands.cmd_plot)
    export = subcommands.add_parser(
        "export",
        help="log a results folder to MLflow after the fact (each run once, as bench run does)",
    )
    export.add_argument("target", choices=["mlflow"], help="where to: mlflow")
    export.add_argument(
        "--results", default="results", metavar="DIR", help="results folder (default results/)"
    )
    export.add_argument(
        "--settings", metavar="HASH", help="log only this comparison's report (default: each)"
    )
    export.set_defaults(func=commands.cmd_export)
    return parser


class CurrentStderr(logging.StreamHandler):
    """A log handler writing to sys.stderr as it is at each message, not as it was when logging
    was set up: inside filtered_stderr that is the direct stream, so a warning comes out before
    the error that follows it, not after it through the filter's pipe."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _) -> None:
        pass


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="bench: %(levelname)s: %(message)s",
        handlers=[CurrentStderr()],
    )
    if not args.debug:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads
    os.environ.setdefault("MPLBACKEND", "Agg")  # bench's own process: figures go to files
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
