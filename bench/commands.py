"""What each `bench` command does, once its arguments are parsed (`bench.cli`). Heavy imports
(Keras, pandas, matplotlib) happen inside each command, so `bench --help` stays instant and
the backend's log level is set before Keras loads."""

from __future__ import annotations

import argparse
import sys

from bench.errors import BenchError, did_you_mean
from bench.execution.progress import print_table
from bench.settings import FIELDS


def cmd_run(args: argparse.Namespace) -> int:
    if args.in_process:  # the same as --executor in-process, and at odds with any other
        if args.executor not in (None, "in-process"):
            other = "Ray" if args.executor == "ray" else f"--executor {args.executor}"
            raise BenchError(
                f"--in-process runs every run in this process: drop it to run on {other}"
            )
        args.executor = "in-process"
    if args.dry_run:
        return _dry_run(args)
    from bench.api import run

    frame = run(
        config=args.config,
        force=args.force,
        quiet=args.quiet,
        **{name: getattr(args, name) for name in FIELDS},
    )
    failed = frame[frame["status"] != "ok"]
    for _, row in failed.iterrows():
        print(
            f"bench: run failed: {row['model']} seed={row['seed']} {row['phase']}: {row['error']}",
            file=sys.stderr,
        )
    return 1 if len(failed) else 0


def _dry_run(args: argparse.Namespace) -> int:
    from bench.api import dry_run
    from bench.execution.dry_run import table

    frame, description = dry_run(
        config=args.config, force=args.force, **{name: getattr(args, name) for name in FIELDS}
    )
    print_table(*table(frame))
    print(description)
    return 0


LIST_HEADER = ["model", "source", "family", "preprocessing", "default size", "min size"]
LIST_HEADER += ["params (M)", "ImageNet top-1 %", "weights"]


def cmd_list(args: argparse.Namespace) -> int:
    """The registry's models, then KerasHub's image backbone presets (where it is installed,
    or asked for with --source kerashub), one table; --family and --source narrow it."""
    from bench.models import hub, registry

    rows = [_spec_row(spec) for spec in registry.select(["all"])]  # warns of unknown ones
    if hub.installed() or args.source == "kerashub":  # without KerasHub: the line to install it
        rows += [_preset_row(preset) for preset in hub.builtin_presets()]
    elif args.source is None:
        print(f"bench: KerasHub's image backbone presets too: {hub.NEEDS_EXTRA}", file=sys.stderr)
    rows = _only(rows, 1, args.source, "source", "sources")
    rows = _only(rows, 2, args.family, "family", "families")
    print_table(LIST_HEADER, rows)
    return 0


def _only(rows: list[list], column: int, wanted: str | None, what: str, plural: str) -> list:
    """The rows whose `column` is `wanted` (a source by its kind: `port`, not `port:...`)."""
    if not wanted:
        return rows
    kind = {str(row[column]): str(row[column]).split(":")[0] for row in rows}
    chosen = [row for row in rows if kind[str(row[column])] == wanted.lower()]
    if not chosen:
        known = sorted(set(kind.values()))
        hint = did_you_mean(wanted.lower(), known, n=3) or f"{plural}: {', '.join(known)}"
        raise BenchError(f"unknown {what} '{wanted}'; {hint}")
    return chosen


def _spec_row(spec) -> list:
    weights = "imagenet" if spec.pretrained else "scratch"
    sizes = [spec.default_size, spec.min_size]
    top1 = spec.imagenet_top1 or ""
    return [spec.name, spec.source, spec.family, spec.preprocessing, *sizes, "", top1, weights]


def _preset_row(preset) -> list:
    params = f"{preset.params / 1e6:.1f}" if preset.params else ""
    sizes = [preset.size or "", preset.size if preset.fixed_size else 32]  # fixed: its only one
    return [preset.name, "kerashub", preset.family, "converter", *sizes, params, "", "preset"]


def cmd_info(args: argparse.Namespace) -> int:
    from bench.measure import cost
    from bench.models import registry
    from bench.models.classifier import build_classifier, input_size

    header = ["model", "family", "preprocessing", "default size", "image size"]
    header += ["params (M)", "backbone params (M)", "GMACs", "ImageNet top-1 %", "source"]
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
                spec.source,
            ]
        )
    print_table(header, rows)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    if args.across_datasets:  # the models over every data set of the folder (Demšar 2006)
        from bench.reports import across

        made, paths = across.make(args.results, args.out, **_selection(args))
        across.show(made, args.format)
        _say_what_else(made.others, f"written: {', '.join(str(p) for p in paths)}")
        return 0
    from bench.reports import columns, tables

    columns.choose(args.columns)  # a wrong name fails before any file is written
    if args.html:  # first: with nothing to rank, the page still lists the failed runs
        from bench.reports import html

        page = html.make(args.results, args.out, **_selection(args))
        print(f"written: {page}", file=sys.stderr)
    selection = {**_selection(args), "columns": args.columns}
    made, comparison, paths = tables.make(args.results, args.out, **selection)
    tables.show(made, args.format, args.columns)
    _say_what_else(comparison.others, f"written: {', '.join(str(p) for p in paths)}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from bench.reports import plots
    from bench.reports.comparison import load_comparison
    from bench.results import ResultsStore

    store = ResultsStore(args.results, create=False)
    comparison = load_comparison(
        store, args.dataset, args.models, args.settings, args.train_per_class
    )
    out = ResultsStore(args.out or store.folder / "plots").folder
    paths = plots.draw_all(comparison, out, args.metric, args.phase, args.formats)
    _say_what_else(comparison.others, f"{comparison.describe()}: {len(paths)} files in {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from bench.reports import compare

    a, b = (compare.load_side(s, args.results, args.dataset, args.models) for s in args.sides)
    frame = compare.compare(a.comparison, b.comparison)
    if frame.empty:
        raise BenchError("no model has ok runs of the same phase in both A and B")
    lines = compare.describe(a, b)
    if args.format == "table":
        print("\n".join(lines))
        header, rows = compare.display(frame)
        print_table(header, rows, numbers_from=2)
    elif args.format == "md":
        print("\n".join(f"{line}  " for line in lines) + "\n")
        print(compare.render(frame, "md"), end="")
    else:  # a file format: stdout holds only the table
        print("\n".join(lines), file=sys.stderr)
        print(compare.render(frame, args.format), end="")
    return 0


def _selection(args: argparse.Namespace) -> dict:
    keys = ("dataset", "models", "settings", "train_per_class", "metric", "phase")
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


def cmd_export(args: argparse.Namespace) -> int:
    from bench.reports.tracking import log_results, tracking_uri
    from bench.results import ResultsStore

    store = ResultsStore(args.results, create=False)
    if not store.path("runs").exists():
        raise BenchError(f"no runs.csv in {args.results} (bench run writes it)")
    logged = log_results(store, [args.settings] if args.settings else None)
    print(f"{logged} runs of {store.folder} logged to MLflow at {tracking_uri(store.folder)}")
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    import json

    if args.results:
        from bench.results import ENV_FILE, ResultsStore

        record = ResultsStore(args.results, create=False).read_environment()
        if not record:
            raise BenchError(f"no {ENV_FILE} in {args.results} (bench run writes it)")
    else:
        from bench.measure.provenance import collect

        record = collect()
    if args.json:
        print(json.dumps(record, indent=2, default=str))
    else:
        from bench.results import flatten

        print_table(["field", "value"], [[k, v] for k, v in flatten(record).items()])
    return 0
