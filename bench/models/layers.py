"""The harness's own layers. Serializable, so a saved model reloads with safe_mode=True."""

from __future__ import annotations

import importlib

import keras


@keras.saving.register_keras_serializable(package="bench")
class ToFloat(keras.layers.Layer):
    """uint8 images in, float32 0-255 out: data stays compact until it reaches the device."""

    def call(self, inputs):
        return keras.ops.cast(inputs, "float32")


@keras.saving.register_keras_serializable(package="bench")
class Preprocess(keras.layers.Layer):
    """Applies `keras.applications.<module>.preprocess_input` (that module's own function; a
    dotted `module` names any module with a `preprocess_input`).

    Running it inside the model puts it on the accelerator and makes it impossible to forget
    or to apply twice.
    """

    def __init__(self, module: str, **kwargs):
        super().__init__(**kwargs)
        self.module = module
        if module.endswith(".py"):  # a user's model file (bench.models.user)
            from bench.models.user import preprocess_input

            self._fn = preprocess_input(module)
        else:
            path = module if "." in module else f"keras.applications.{module}"
            self._fn = importlib.import_module(path).preprocess_input

    def call(self, inputs):
        # preprocess_input divides in place on some backends: give it its own copy.
        return self._fn(keras.ops.copy(inputs))

    def get_config(self):
        return {**super().get_config(), "module": self.module}


@keras.saving.register_keras_serializable(package="bench")
class Backbone(keras.layers.Layer):
    """Runs the backbone in inference mode (`inference=True`) whatever the phase.

    Writing `backbone(x, training=False)` in a functional graph is not enough in Keras 3: the
    functional model passes its own `training` flag to every inner call and overrides the
    one written in the graph, so BatchNormalization statistics and dropout inside the
    backbone would follow `fit`. Passing the flag here, at run time, cannot be overridden.
    From scratch (`inference=False`) the backbone follows the phase and BN learns.
    """

    def __init__(self, net: keras.Model, inference: bool, **kwargs):
        super().__init__(**kwargs)
        self.net, self.inference = net, inference

    def call(self, inputs, training=None):
        return self.net(inputs, training=False if self.inference else training)

    def get_config(self):
        return {
            **super().get_config(),
            "inference": self.inference,
            "net": keras.saving.serialize_keras_object(self.net),
        }

    @classmethod
    def from_config(cls, config):
        config["net"] = keras.saving.deserialize_keras_object(config["net"])
        return cls(**config)
