"""Models: what bench knows of a model (`spec.ModelSpec`); the registry of every model bench
can run (`registry`: each `keras.applications` backbone, discovered, the from-scratch
baselines of `baselines`, bench's port of EfficientNet-Lite0 with real ImageNet weights,
`efficientnet_lite`, and the sources it asks first: a user's file, `user`, and KerasHub's
presets, `hub`, built in a run's process by `hub_build`); the classifier the protocol builds
around one (`classifier`: resize and preprocessing inside the model, a new head); the harness's
own layers (`layers`), the training augmentation (`augmentation`) and weights kept from a run
or loaded from a folder (`weights`).

May import: `bench.common`, `bench.errors`, `bench.settings`, `bench.data`.

Adding a from-scratch baseline is one function in `baselines.py` that builds the network from
its input shape and class count, decorated with `@baseline(...)`; `bench list`, `--models` and
the runs pick it up from there. A new `keras.applications` backbone needs nothing: the registry
finds it, and a line in `registry.PREPROCESSING` (its module's preprocessing mode, checked by a
test against the module's own `preprocess_input`) makes its module known. A new source of
models (a prefix of model names) is a function from a name to its ModelSpec, or None,
appended to `registry.SOURCES` (groups of them, such as `hub:all`, to `registry.GROUPS`); its
`build` must survive pickling.
"""
