"""Keras callbacks that validate and record each epoch: metrics, learning rate, training and
validation time, and the time training spent outside its steps (waiting for data)."""

from __future__ import annotations

import time

import keras
import numpy as np

from bench.training import prediction


class Validate(keras.callbacks.Callback):
    """The validation pass of each epoch, in batches of one shape (`bench.training.prediction`),
    so that no epoch compiles a program for a smaller last batch. It puts `val_loss`, `val_accuracy`
    and `val_time_s` into the epoch's logs for the callbacks after it (early stopping, the
    recorder); fit's own validation would pass the last, smaller batch as it is."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int):
        super().__init__()
        self.x, self.y, self.batch_size = x, np.asarray(y), batch_size

    def on_epoch_end(self, epoch, logs=None):
        start = EpochRecorder.clock()
        logits = prediction.predict(self.model, self.x, self.batch_size)
        # float32, as Keras's own val_loss: early stopping compares the values in float32.
        logs["val_loss"] = float(np.float32(prediction.sparse_cross_entropy(self.y, logits)))
        logs["val_accuracy"] = float(np.mean(logits.argmax(axis=1) == self.y))
        logs["val_time_s"] = EpochRecorder.clock() - start


class EpochRecorder(keras.callbacks.Callback):
    """Times each epoch's training apart from its validation pass (`Validate`, which runs
    before it and reports its own time), and keeps every log.

    `clock` is a class attribute so a test can substitute a controlled clock.
    """

    clock = staticmethod(time.perf_counter)

    def __init__(self):
        super().__init__()
        self.records: list[dict] = []
        self._epoch_start = self._step_end = self._wait = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._wait = 0.0
        self._epoch_start = self._step_end = self.clock()

    # Between one training step's end and the next one's begin, fit fetches the next batch (and
    # runs the callbacks): the time the device waits for the input pipeline.
    def on_train_batch_begin(self, batch, logs=None):
        self._wait += self.clock() - self._step_end

    def on_train_batch_end(self, batch, logs=None):
        self._step_end = self.clock()

    def on_epoch_end(self, epoch, logs=None):
        total = self.clock() - self._epoch_start
        logs = logs or {}
        validation = logs.get("val_time_s", 0.0)
        self.records.append(
            {
                "epoch": epoch + 1,
                "loss": logs.get("loss"),
                "accuracy": logs.get("accuracy"),
                "val_loss": logs.get("val_loss"),
                "val_accuracy": logs.get("val_accuracy"),
                "learning_rate": float(
                    keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
                ),
                "epoch_time_s": total - validation,
                "val_time_s": validation,
                "data_wait_s": self._wait,
            }
        )


class ReportEpochs(keras.callbacks.Callback):
    """Forwards each epoch's start and end, and its batches at most every `interval` seconds,
    to the progress display (from a run's process, each is a message through a pipe)."""

    interval = 0.5  # seconds; a class attribute so a test can show every batch

    def __init__(self, reporter, recorder: EpochRecorder):
        super().__init__()
        self.reporter, self.recorder = reporter, recorder
        self._shown = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self.reporter.start_epoch(epoch + 1, self.params.get("steps"))
        self._shown = time.monotonic()

    def on_train_batch_end(self, batch, logs=None):
        now = time.monotonic()
        if now - self._shown >= self.interval:
            self.reporter.batch_end(batch + 1)
            self._shown = now

    def on_epoch_end(self, epoch, logs=None):
        self.reporter.epoch_end(self.recorder.records[-1])
