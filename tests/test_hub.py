"""KerasHub presets as models (`--models hub:...`): known before anything is fetched, built with
their own image converter and pooled as KerasHub's classifier pools them, fine-tuned at their
top with BatchNormalization frozen, counted, and run end to end by `bench run` beside a preset
that cannot be fetched, which fails alone. The presets are tiny random ones the tests save."""

from __future__ import annotations

import importlib.util
import pickle

import numpy as np
import pandas as pd
import pytest

from bench.errors import BenchError
from bench.models import hub, registry
from tests.helpers import bench_main, cli_error, run_here

needs_keras_hub = pytest.mark.skipif(
    importlib.util.find_spec("keras_hub") is None,
    reason="KerasHub not installed (pip install -e '.[hub]')",
)
DATA = ["--dataset", "digits", "--limit", "120", "--test-limit", "60", "--batch-size", "32"]
UNREACHABLE = "kaggle://nobody/nothing/keras/none"  # offline or not, it cannot be fetched


@pytest.fixture(scope="module")
def presets(tmp_path_factory):
    """A tiny ResNet (BatchNormalization, any input size) and a tiny ViT (32x32 only, class
    token), each saved with an image converter as KerasHub saves its own presets."""
    import keras
    import keras_hub

    keras.utils.set_random_seed(0)
    root = tmp_path_factory.mktemp("presets")
    resnet = keras_hub.models.ResNetBackbone(
        input_conv_filters=[64],
        input_conv_kernel_sizes=[3],
        stackwise_num_filters=[64, 32],  # KerasHub wants 64 first
        stackwise_num_blocks=[1, 1],
        stackwise_num_strides=[1, 2],
        block_type="basic_block",
        image_shape=(None, None, 3),
    )
    resnet.save_to_preset(root / "tiny_resnet")
    keras_hub.layers.ResNetImageConverter(image_size=(32, 32), scale=1 / 255).save_to_preset(
        root / "tiny_resnet"
    )
    vit = keras_hub.models.ViTBackbone(
        image_shape=(32, 32, 3), patch_size=8, num_layers=1, num_heads=2, hidden_dim=16, mlp_dim=32
    )
    vit.save_to_preset(root / "tiny_vit")
    converter = keras_hub.layers.ViTImageConverter(image_size=(32, 32), scale=1 / 127.5, offset=-1)
    converter.save_to_preset(root / "tiny_vit")
    return root.resolve()


@needs_keras_hub
def test_a_preset_is_known_before_anything_is_fetched(presets):
    resnet = registry.get(f"hub:{presets / 'tiny_resnet'}")
    assert (resnet.name, resnet.family, resnet.pooled) == ("hub:tiny_resnet", "resnet", True)
    assert resnet.source.startswith(f"kerashub:{presets / 'tiny_resnet'}@")
    assert (resnet.default_size, resnet.native_size) == (32, None)  # its converter's size
    vit = registry.get(f"hub:{presets / 'tiny_vit'}")
    assert (vit.family, vit.native_size) == ("vit", 32), "position embeddings fix its size"
    assert pickle.loads(pickle.dumps(vit)).build.handle == str(presets / "tiny_vit")

    builtin = registry.get("hub:vit_base_patch16_384_imagenet")
    assert (builtin.family, builtin.native_size) == ("vit", 384)
    assert builtin.source.startswith("kerashub:vit_base_patch16_384_imagenet@kaggle://")
    assert registry.get(f"hub:{UNREACHABLE}").source == f"kerashub:{UNREACHABLE}"
    assert registry.get("hub:hf://timm/resnet18.a1_in1k").name == "hub:resnet18.a1_in1k"

    vits = registry.select(["hub:family:vit"])
    assert vits and all(s.family == "vit" and s.name.startswith("hub:") for s in vits)
    families = {s.family for s in registry.select(["hub:all"])}
    assert {"resnet", "vit", "deit", "dinov2", "swin_transformer"} <= families


@needs_keras_hub
@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("hub:resnet_18_imagnet", "did you mean resnet_18_imagenet"),
        ("hub:bert_base_en", "not one of KerasHub's image backbone presets"),
        ("hub:./no/such/folder", "no such preset folder"),
        ("hub:family:resnt", "unknown KerasHub family 'resnt'; did you mean resnet"),
    ],
)
def test_a_wrong_preset_is_one_line_before_anything_starts(model, message, tmp_path, capsys):
    line = cli_error(capsys, "run", "--models", model, *DATA, "--out", str(tmp_path / "r"))
    assert message in line
    assert not (tmp_path / "r").exists()


@needs_keras_hub
def test_a_folder_without_its_image_converter_is_refused(presets, tmp_path):
    import shutil

    folder = shutil.copytree(presets / "tiny_resnet", tmp_path / "bare")
    (folder / "image_converter.json").unlink()
    with pytest.raises(BenchError, match="no image_converter.json"):
        registry.get(f"hub:{folder}")


@needs_keras_hub
def test_a_changed_preset_folder_is_a_new_run(presets, tmp_path):
    import shutil

    import bench

    folder = shutil.copytree(presets / "tiny_vit", tmp_path / "tiny_vit")

    def planned_id() -> str:
        frame, _ = bench.dry_run(f"hub:{folder}", dataset="digits", limit=200, image_size=32)
        return frame.iloc[0]["run_id"]

    before = planned_id()
    assert planned_id() == before
    (folder / "metadata.json").write_text((folder / "metadata.json").read_text() + " ")
    assert planned_id() != before


def transfer_classifier(preset):
    """bench's classifier around a preset, pretrained weights (its own), at 32 px."""
    from bench.models.classifier import build_classifier

    spec = registry.get(f"hub:{preset}")
    return build_classifier(spec, (32, 32, 3), 10, image_size=32, weights="imagenet", augment=False)


@needs_keras_hub
def test_the_backbone_pools_as_kerashub_does_and_fine_tunes_its_own_top_layers(presets):
    import keras

    from bench.measure import cost
    from bench.training.phases import unfrozen_layers

    vit = transfer_classifier(presets / "tiny_vit")
    net = vit.backbone  # converter -> ViT -> class token
    images = np.random.default_rng(0).integers(0, 256, (2, 32, 32, 3)).astype("float32")
    inner = net.get_layer("vi_t_backbone")
    tokens = inner(images / 127.5 - 1)
    np.testing.assert_allclose(net(images), tokens[:, 0], atol=1e-5)
    # 17 tokens of 16: patch conv 16*16*8*8*3, q k v and output 4*17*16*16, attention
    # products 2 heads*17*17*(8+8), MLP 2*17*16*32, the head 16*10.
    assert cost.macs(vit.model) == 49152 + 17408 + 9248 + 17408 + 160
    top = unfrozen_layers(net, 0.3)
    assert top and all(layer in inner._flatten_layers() for layer in top), "the ViT's own"
    assert inner not in top, "not the whole ViT at once"

    resnet = transfer_classifier(presets / "tiny_resnet")
    assert resnet.backbone.output.shape == (None, 32)  # global average of the last map
    tuned = unfrozen_layers(resnet.backbone, 0.3)
    assert tuned and all(isinstance(layer, keras.layers.Conv2D) for layer in tuned)


def test_pooling_follows_the_presets_task_then_the_backbones_kind():
    from bench.models.hub_build import pooling

    assert pooling("ViTBackbone", {"pooling": "gap"}) == "gap"
    assert pooling("DINOV2Backbone", {}) == "token"
    assert pooling("SwinTransformerBackbone", {}) == "avg"  # the mean of its tokens
    assert pooling("VGGBackbone", {"pooling": "flatten"}) == "avg"


@needs_keras_hub
def test_weights_are_the_presets_random_or_a_files(presets, tmp_path):
    from bench.models.hub_build import HubBackbone

    build = HubBackbone(str(presets / "tiny_resnet"))
    pretrained = build(weights="imagenet", input_shape=(32, 32, 3))
    random = build(weights=None, input_shape=(32, 32, 3))
    assert not np.allclose(pretrained.weights[0], random.weights[0])
    path = tmp_path / "w.weights.h5"
    random.save_weights(path)
    again = build(weights=str(path), input_shape=(32, 32, 3))
    np.testing.assert_array_equal(again.weights[0], random.weights[0])


@needs_keras_hub
@pytest.mark.slow
def test_presets_run_frozen_and_fine_tuned_beside_one_that_cannot_be_fetched(
    presets, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("KAGGLEHUB_CACHE", str(tmp_path / "kagglehub"))
    out = tmp_path / "results"
    models = [f"hub:{presets / 'tiny_resnet'}", f"hub:{presets / 'tiny_vit'}", f"hub:{UNREACHABLE}"]
    args = ["run", "--models", ",".join(models), *DATA, "--weights", "imagenet", "--out", str(out)]
    args += ["--image-size", "32", "--epochs-frozen", "1", "--epochs-finetune", "1"]
    result = run_here(capsys, *args, "--in-process", "--save-weights")
    assert result.returncode == 1, "the unreachable preset's run failed"
    rows = pd.read_csv(out / "runs.csv").set_index(["model", "phase"])
    ok = rows[rows["status"] == "ok"]
    assert set(ok.index) == {
        (f"hub:{name}", phase)
        for name in ("tiny_resnet", "tiny_vit")
        for phase in ("frozen", "finetune")
    }
    assert ok["source"].str.startswith(f"kerashub:{presets}").all()
    assert (ok["gmacs"] > 0).all() and (ok["bn_mode"] == "frozen").all()
    failed = rows.loc[("hub:none", "setup")]
    assert failed["status"] == "failed" and failed["source"] == f"kerashub:{UNREACHABLE}"
    assert UNREACHABLE in failed["error"]
    assert str(tmp_path / "kagglehub" / "models" / "nobody" / "nothing") in failed["error"]
    _assert_batch_norm_kept_its_statistics(presets, out, ok.loc[("hub:tiny_resnet", "finetune")])


def _assert_batch_norm_kept_its_statistics(presets, out, row) -> None:
    """The ResNet's weights after fine-tuning: convolutions moved, BN statistics did not."""
    import keras

    from bench.models.hub_build import HubBackbone

    build = HubBackbone(str(presets / "tiny_resnet"))
    before = build(weights="imagenet", input_shape=(32, 32, 3))
    backbone_file = next(p for p in row["weights_files"].split(";") if "backbone" in p)
    after = build(weights=str(out / backbone_file), input_shape=(32, 32, 3))
    pairs = list(zip(before.weights, after.weights, strict=True))
    moving = [(a, b) for a, b in pairs if "moving" in a.path]
    assert moving and all(np.array_equal(a, b) for a, b in moving)
    convs = [x for x in after.fine_tune_layers if isinstance(x, keras.layers.Conv2D)]
    top = [id(w) for w in after.weights].index(id(convs[-1].kernel))
    assert not np.array_equal(before.weights[top], after.weights[top]), "its top was tuned"


def test_without_kerashub_a_hub_model_fails_before_anything_starts(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(hub, "installed", lambda: False)
    args = ["run", "--models", "hub:resnet_18_imagenet,simple_cnn", *DATA]
    line = cli_error(capsys, *args, "--out", str(tmp_path / "r"))
    assert line == f"bench: error: {hub.NEEDS_EXTRA}"
    assert not (tmp_path / "r").exists()
    code, out, err = bench_main(capsys, "list")
    assert code == 0 and "ResNet50" in out and "pip install -e '.[hub]'" in err
    assert "pip install -e '.[hub]'" in cli_error(capsys, "list", "--source", "kerashub")


@needs_keras_hub
def test_list_and_info_show_kerashub_presets_beside_the_registry(presets, capsys):
    code, out, err = bench_main(capsys, "list", "--family", "vit")
    assert code == 0, err
    row = next(line for line in out.splitlines() if "hub:vit_base_patch16_384_imagenet " in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[1:3] == ["kerashub", "vit"] and cells[4] == "384" and cells[6] == "86.1"
    code, out, _ = bench_main(capsys, "list", "--source", "kerashub")
    assert code == 0 and "hub:dinov2_small" in out and "ResNet50 " not in out
    code, out, err = bench_main(capsys, "info", f"hub:{presets / 'tiny_vit'}", "--image-size", "64")
    assert code == 0, err
    row = next(line for line in out.splitlines() if "tiny_vit" in line)
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[4] == "32", "it runs at its own size"
    assert cells[-1].startswith(f"kerashub:{presets / 'tiny_vit'}@")
