"""Your own models beside the registry's: `bench run --models examples/my_models.py:student_cnn,
simple_cnn,MobileNetV2`. The contract is in docs/guide/your-model.md; in short, the function's
parameters say what it is.

- `student_cnn(input_shape, num_classes)` returns a whole classifier: bench trains it from
  scratch, as the seeds' notebooks trained theirs, beside the `simple_cnn` baseline.
- `small_mobilenet(input_shape, weights)` returns a backbone without its top: bench adds the
  head and runs it frozen, then fine-tuned, like every `keras.applications` backbone, and feeds
  it through this file's `preprocess_input`, once, inside the model.
"""

import keras
from keras import layers


def student_cnn(input_shape, num_classes):
    """A student's CNN: two blocks of two convolutions with BatchNormalization, then dropout.
    Its input is float 0-255 pixels at the run's image size; its output must be logits."""
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 255)(inputs)
    for filters in (32, 64):
        for _ in range(2):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
            x = layers.BatchNormalization()(x)
            x = layers.ReLU()(x)
        x = layers.MaxPooling2D()(x)
    x = layers.GlobalAveragePooling2D()(x)
    x = layers.Dropout(0.3)(x)
    outputs = layers.Dense(num_classes, dtype="float32")(x)
    return keras.Model(inputs, outputs, name="student_cnn")


def small_mobilenet(input_shape, weights="imagenet"):
    """MobileNetV2 at width 0.5: a backbone without its top. `weights` is what --weights says:
    "imagenet" (Keras downloads them once), None (random: --weights none trains it from
    scratch) or a weights file."""
    return keras.applications.MobileNetV2(
        input_shape=input_shape, alpha=0.5, include_top=False, weights=weights
    )


def preprocess_input(x):
    """MobileNetV2's own preprocessing (0-255 to [-1, 1]), for this file's backbones."""
    return keras.applications.mobilenet_v2.preprocess_input(x)
