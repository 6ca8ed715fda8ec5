"""Tests of the reference solutions of part 4 (ResNet) and part 5 (SIREN).

The solution files are imported by path. ``siren.py`` imports ``siren_utils``
by name, so the solutions folder is put on ``sys.path`` only while it loads,
and the helper module is taken out of ``sys.modules`` again afterwards.
"""

import importlib.util
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from PIL import Image  # noqa: E402
from torch import nn  # noqa: E402

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
IMAGE = Path(__file__).resolve().parent.parent / "data" / "camera-256.png"


def load(name, path):
    """Import the file at ``path`` as a module called ``name``."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def resnet():
    return load("resnet_reference", SOLUTIONS / "resnet.py")


@pytest.fixture(scope="module")
def siren_pair():
    """Return ``(siren, siren_utils)``, leaving ``sys.path`` and ``sys.modules``."""
    folder = str(SOLUTIONS)
    before = sys.modules.pop("siren_utils", None)
    sys.path.insert(0, folder)
    try:
        siren = load("siren_reference", SOLUTIONS / "siren.py")
        utils = sys.modules["siren_utils"]
    finally:
        sys.path.remove(folder)
        sys.modules.pop("siren_utils", None)
        if before is not None:
            sys.modules["siren_utils"] = before
    assert Path(utils.__file__).resolve() == SOLUTIONS / "siren_utils.py"
    return siren, utils


@pytest.fixture
def siren(siren_pair):
    return siren_pair[0]


@pytest.fixture
def utils(siren_pair):
    return siren_pair[1]


def modules_of(model, kind):
    return [m for m in model.modules() if isinstance(m, kind)]


def psnr(prediction, target):
    """PSNR on the [-1, 1] scale (peak-to-peak 2)."""
    mse = torch.mean((prediction - target) ** 2).item()
    return 10 * math.log10(4.0 / mse)


# Part 4: ResNet


def test_block_keeps_the_shape(resnet):
    x = torch.randn(4, 8, 6, 5)
    assert resnet.Block(8)(x).shape == (4, 8, 6, 5)


@pytest.mark.parametrize("num_classes", [10, 3])
def test_resnet_gives_one_score_per_class(resnet, num_classes):
    model = resnet.ResNet(8, num_classes)
    assert model(torch.randn(5, 1, 8, 8)).shape == (5, num_classes)


def test_resnet_defaults_to_ten_classes(resnet):
    assert resnet.ResNet(4)(torch.randn(2, 1, 8, 8)).shape == (2, 10)


def test_stem_halves_then_pools_before_the_block(resnet):
    model = resnet.ResNet(6)
    seen = []
    block = modules_of(model, resnet.Block)[0]
    block.register_forward_hook(lambda module, inputs, output: seen.append(output))
    model(torch.randn(3, 1, 8, 8))
    assert seen[0].shape == (3, 6, 2, 2)


@pytest.mark.parametrize(("channels", "classes"), [(8, 10), (4, 3), (16, 10)])
def test_parameter_count(resnet, channels, classes):
    # stem conv 9C, 3 batch norms 2C each, block convs 2·9C², linear CK + K
    expected = 18 * channels**2 + 15 * channels + classes * channels + classes
    model = resnet.ResNet(channels, classes)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_layers_by_kind_and_no_convolution_bias(resnet):
    model = resnet.ResNet(8)
    convs = modules_of(model, nn.Conv2d)
    assert len(convs) == 3
    assert len(modules_of(model, nn.BatchNorm2d)) == 3
    assert len(modules_of(model, nn.Linear)) == 1
    assert all(conv.bias is None for conv in convs)
    assert [conv.stride for conv in convs] == [(2, 2), (1, 1), (1, 1)]
    assert all(conv.padding == (1, 1) for conv in convs)


def test_block_with_zero_convolutions_is_relu(resnet):
    block = resnet.Block(3)
    for conv in modules_of(block, nn.Conv2d):
        nn.init.zeros_(conv.weight)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(block(x), torch.relu(x))


@pytest.mark.parametrize("training", [True, False])
def test_block_matches_its_definition(resnet, training):
    torch.manual_seed(0)
    block = resnet.Block(4)
    conv1, conv2 = modules_of(block, nn.Conv2d)
    bn1, bn2 = modules_of(block, nn.BatchNorm2d)
    for bn in (bn1, bn2):
        nn.init.uniform_(bn.weight, 0.5, 1.5)
        nn.init.uniform_(bn.bias, -0.5, 0.5)
    block.train(training)
    x = torch.randn(3, 4, 5, 5)

    def norm(h, bn):
        stats = bn.running_mean.clone(), bn.running_var.clone()
        return F.batch_norm(h, *stats, bn.weight, bn.bias, training=training)

    h = torch.relu(norm(F.conv2d(x, conv1.weight, padding=1), bn1))
    expected = torch.relu(x + norm(F.conv2d(h, conv2.weight, padding=1), bn2))
    torch.testing.assert_close(block(x), expected)


# Part 5: SIREN helpers


def test_get_coords_shape_range_and_order(utils):
    coords = utils.get_coords(5)
    assert coords.shape == (25, 2)
    assert coords.dtype == torch.float32
    assert coords.min().item() == -1.0
    assert coords.max().item() == 1.0
    steps = torch.linspace(-1, 1, 5)
    i, j = 3, 1
    torch.testing.assert_close(coords[i * 5 + j], torch.stack([steps[i], steps[j]]))


def test_cameraman_tensor_is_the_png_on_the_minus_one_one_scale(utils):
    pixels = utils.get_cameraman_tensor(256)
    assert pixels.shape == (256 * 256, 1)
    png = np.asarray(Image.open(IMAGE).convert("L"), dtype=np.float32)
    expected = torch.from_numpy(png / 255.0 * 2.0 - 1.0).reshape(-1, 1)
    torch.testing.assert_close(pixels, expected)


def test_cameraman_tensor_resized(utils):
    pixels = utils.get_cameraman_tensor(20)
    assert pixels.shape == (400, 1)
    assert pixels.min().item() >= -1.0
    assert pixels.max().item() <= 1.0
    assert pixels.std().item() > 0.2


def test_image_override_by_environment(utils, monkeypatch):
    monkeypatch.setenv("SIREN_IMAGE", "/nonexistent/camera.png")
    with pytest.raises(FileNotFoundError):
        utils.get_cameraman_tensor(8)


def test_gradient_and_laplace_of_a_known_function(utils):
    x = torch.randn(10, 2, requires_grad=True)
    y = (x[:, :1] ** 2) + 3 * x[:, 1:] + x[:, 1:] ** 3
    grad = utils.gradient(y, x)
    expected = torch.cat([2 * x[:, :1], 3 + 3 * x[:, 1:] ** 2], dim=1)
    torch.testing.assert_close(grad, expected)
    torch.testing.assert_close(utils.laplace(y, x), 2 + 6 * x[:, 1:])


def test_model_results_gives_three_images(utils):
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    images = utils.model_results(model, sidelength=12)
    assert [image.shape for image in images] == [(12, 12)] * 3


# Part 5: SIREN layers, dataset and training


@pytest.mark.parametrize(
    ("activation", "omega"), [("sin", 30.0), ("relu", 1.0), ("tanh", 1.0), (None, 1.0)]
)
def test_single_layer_omega(siren, activation, omega):
    layer = siren.SingleLayer(3, 4, activation, bias=True, is_first=False)
    assert layer.omega == omega


@pytest.mark.parametrize("bias", [True, False])
def test_single_layer_holds_one_linear_with_the_bias_flag(siren, bias):
    layer = siren.SingleLayer(3, 4, "relu", bias=bias, is_first=False)
    (linear,) = modules_of(layer, nn.Linear)
    assert (linear.in_features, linear.out_features) == (3, 4)
    assert (linear.bias is not None) == bias


@pytest.mark.parametrize(
    ("activation", "function"),
    [("sin", torch.sin), ("relu", torch.relu), ("tanh", torch.tanh), (None, None)],
)
def test_single_layer_forward(siren, activation, function):
    torch.manual_seed(0)
    layer = siren.SingleLayer(3, 5, activation, bias=True, is_first=False)
    (linear,) = modules_of(layer, nn.Linear)
    x = torch.randn(7, 3)
    pre = layer.omega * (x @ linear.weight.T + linear.bias)
    expected = pre if function is None else function(pre)
    torch.testing.assert_close(layer(x), expected)


def test_single_layer_rejects_an_unknown_activation(siren):
    with pytest.raises(ValueError, match="gelu"):
        siren.SingleLayer(3, 4, "gelu", bias=True, is_first=False)


@pytest.mark.parametrize(
    ("activation", "is_first", "bound"),
    [
        ("sin", True, 1 / 256),
        ("sin", False, math.sqrt(6 / 256) / 30),
        ("relu", False, math.sqrt(6 / 256)),
        (None, False, math.sqrt(6 / 256)),
    ],
)
def test_init_weights_bounds_and_spread(siren, activation, is_first, bound):
    torch.manual_seed(0)
    layer = siren.SingleLayer(256, 256, activation, bias=True, is_first=is_first)
    weight = modules_of(layer, nn.Linear)[0].weight.detach()
    assert weight.abs().max().item() <= bound
    assert weight.abs().max().item() >= 0.99 * bound
    # A uniform law on [-b, b] has standard deviation b / sqrt(3).
    assert weight.std().item() == pytest.approx(bound / math.sqrt(3), rel=0.02)


def test_siren_layout(siren):
    model = siren.Siren(2, 1, 32, 7, "sin")
    layers = modules_of(model, siren.SingleLayer)
    assert len(layers) == 9
    assert [layer.is_first for layer in layers] == [True] + [False] * 8
    assert [layer.omega for layer in layers] == [30.0] * 8 + [1.0]
    assert model(torch.zeros(6, 2)).shape == (6, 1)


def test_dataset_length_and_pairing(siren, utils):
    dataset = siren.MyDataset(12)
    assert len(dataset) == 144
    coords = utils.get_coords(12)
    pixels = utils.get_cameraman_tensor(12)
    for idx in (0, 13, 143):
        coord, pixel = dataset[idx]
        assert coord.shape == (2,)
        assert pixel.shape == (1,)
        torch.testing.assert_close(coord, coords[idx])
        torch.testing.assert_close(pixel, pixels[idx])


def test_tiny_training_run_saves_a_fitted_model(siren, utils, tmp_path, monkeypatch):
    side = 16
    small = siren.MyDataset
    monkeypatch.setattr(siren, "MyDataset", lambda sidelength: small(side))
    monkeypatch.setattr(siren.plt, "show", lambda *args, **kwargs: None)
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)

    siren.train(total_epochs=50, batch_size=side * side, activation="sin")

    state = torch.load(tmp_path / "siren_model.p", weights_only=True)
    model = siren.Siren(2, 1, 32, 7, "sin")
    model.load_state_dict(state)
    with torch.no_grad():
        prediction = model(utils.get_coords(side))
    # A constant prediction scores about 12 dB here; 50 full-batch steps
    # reach about 35 dB.
    assert psnr(prediction, utils.get_cameraman_tensor(side)) > 25
