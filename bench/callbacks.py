"""Keras callbacks that record each epoch: metrics, learning rate, training and validation time,
and the time training spent outside its steps (waiting for data)."""

from __future__ import annotations

import time

import keras


class EpochRecorder(keras.callbacks.Callback):
    """Times each epoch's training apart from its validation pass, and keeps every log.

    `clock` is a class attribute so a test can substitute a controlled clock.
    """

    clock = staticmethod(time.perf_counter)

    def __init__(self):
        super().__init__()
        self.records: list[dict] = []
        self._epoch_start = self._val_start = 0.0
        self._val_seconds = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._val_seconds = self._wait = 0.0
        self._epoch_start = self._step_end = self.clock()

    # Between one training step's end and the next one's begin, fit fetches the next batch (and
    # runs the callbacks): the time the device waits for the input pipeline.
    def on_train_batch_begin(self, batch, logs=None):
        self._wait += self.clock() - self._step_end

    def on_train_batch_end(self, batch, logs=None):
        self._step_end = self.clock()

    def on_test_begin(self, logs=None):  # fit's validation pass runs between these two
        self._val_start = self.clock()

    def on_test_end(self, logs=None):
        self._val_seconds += self.clock() - self._val_start

    def on_epoch_end(self, epoch, logs=None):
        total = self.clock() - self._epoch_start
        logs = logs or {}
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
                "epoch_time_s": total - self._val_seconds,
                "val_time_s": self._val_seconds,
                "data_wait_s": self._wait,
            }
        )


class ReportEpochs(keras.callbacks.Callback):
    """Forwards each finished epoch to the progress display."""

    def __init__(self, reporter, recorder: EpochRecorder):
        super().__init__()
        self.reporter, self.recorder = reporter, recorder

    def on_epoch_end(self, epoch, logs=None):
        self.reporter.epoch_end(self.recorder.records[-1])
