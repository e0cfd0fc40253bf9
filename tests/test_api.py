"""bench.run() from Python: a DataFrame, one run per seed, and reproducible seeded runs."""

from __future__ import annotations

import bench

TINY = dict(
    dataset="digits", weights="none", epochs_scratch=2, limit=300, batch_size=32, quiet=True
)


def test_run_returns_one_row_per_seed_and_reruns_reproduce(tmp_path):
    frame = bench.run("simple_cnn", seeds=[0, 1], out=str(tmp_path), **TINY)
    assert list(frame["seed"]) == [0, 1] and frame["run_id"].nunique() == 2
    assert (frame["status"] == "ok").all() and (frame["suite"] == "adhoc").all()

    again = bench.run("simple_cnn", seeds=[0], out=str(tmp_path), force=True, **TINY)
    first = frame[frame["seed"] == 0].iloc[0]
    assert again.iloc[0]["run_id"] == first["run_id"], "the run id is stable"
    for column in ("test_accuracy", "val_accuracy", "train_accuracy", "test_macro_f1"):
        assert again.iloc[0][column] == first[column], f"{column} differs on a seeded rerun"
    assert len(bench.run("simple_cnn", seeds=[0, 1], out=str(tmp_path), **TINY)) == 2
