"""The PyTorch reference: draw_np's hand-written gradients against autograd on the spec, and
the reference's own meaning, so it can be trusted as the oracle for what comes next."""
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from draw_np import torch_reference as R  # noqa: E402  (only once torch is known to be there)
from draw_np.model import DRAW, DRAWConfig  # noqa: E402
from draw_np.optim import Adam, clip_by_global_norm  # noqa: E402

# Sizes that all differ, so a transposed weight or a swapped image axis cannot hide.
SMALL = dict(T=3, enc_size=5, dec_size=4, z_size=3)
DRAW_CONFIGS = {
    "attention": dict(SMALL, H=7, W=6, read_n=3, write_n=2),
    "attention-square": dict(SMALL, H=8, W=8, read_n=2, write_n=5),
    "attention-N1": dict(SMALL, H=6, W=5, read_n=1, write_n=1),
    "no-attention": dict(SMALL, H=5, W=4, attention=False),
    "colour-attention": dict(SMALL, H=7, W=6, read_n=3, write_n=2, channels=3),
    "colour-N1": dict(SMALL, H=6, W=5, read_n=1, write_n=1, channels=2),
    "colour-no-attention": dict(SMALL, H=4, W=5, attention=False, channels=2),
}


def draw_config(name):
    """The DRAWConfig of DRAW_CONFIGS[name]."""
    return DRAWConfig(**DRAW_CONFIGS[name])


def random_params(shapes, rng, scale=0.5):
    """Every parameter random, biases and initial states too, so none can hide behind a zero."""
    return {name: scale * rng.standard_normal(shape) for name, shape in shapes.items()}


def draw_batch(config, rng, n):
    image = (config.channels,) if R.channels(config) > 1 else ()
    x = rng.uniform(0, 1, (n,) + image + (config.H, config.W))
    return x, rng.standard_normal((config.T, n, config.z_size))


def max_error(grads, reference):
    """Largest error of any gradient, relative to the largest reference gradient (as
    tests/helpers.py measures it)."""
    assert set(grads) == set(reference)
    scale = max(float(abs(g).max()) for g in reference.values())
    return max(float(abs(grads[k] - reference[k]).max()) for k in reference) / scale


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", DRAW_CONFIGS)
def test_draw_np_gradients_agree_with_autograd_on_the_spec(name, seed):
    config = draw_config(name)
    rng = np.random.default_rng(seed)
    model = DRAW(config, dtype="float64")
    model.params = random_params(R.draw_param_shapes(config), rng)
    x, eps = draw_batch(config, rng, n=3)
    loss, grads = model.loss_and_grads(x, eps)
    ref_loss, ref_grads = R.draw_loss_and_grads(config, model.params, x, eps)
    assert loss == pytest.approx(ref_loss, rel=1e-10)
    assert max_error(grads, ref_grads) < 1e-6


def as_colour(config, params, C):
    """Grey parameters spread over C identical channels: each channel's share of the read
    weights is 1/C of the grey one, the write and c0 repeat per channel."""
    grey = config.read_n ** 2 if config.attention else config.H * config.W   # one read plane
    W = params["enc.W"]
    colour = dict(params)
    # Rows of enc.W: x's C planes, then x̂'s C planes, then h^dec and h^enc.
    colour["enc.W"] = np.concatenate([np.tile(W[:grey] / C, (C, 1)),
                                      np.tile(W[grey:2 * grey] / C, (C, 1)), W[2 * grey:]])
    colour["write.W"] = np.tile(params["write.W"], (1, C))
    colour["write.b"] = np.tile(params["write.b"], C)
    colour["c0"] = np.stack([params["c0"]] * C)
    return colour


@pytest.mark.parametrize("name", ["attention", "no-attention"])
def test_colour_copies_of_a_grey_image_add_one_reconstruction_term_per_channel(name):
    # With every channel the same image and the read weights shared out evenly, the encoder
    # sees what the grey model sees and each channel draws the grey canvas: L = C·L^x + L^z.
    # Equal steps in C hold only if the planes sit where the spec orders them.
    shape = dict(dict(attention=True), **DRAW_CONFIGS[name])   # DRAWConfig's default
    grey = SimpleNamespace(**shape)
    rng = np.random.default_rng(4)
    params = random_params(R.draw_param_shapes(grey), rng)
    x, eps = draw_batch(grey, rng, n=3)
    losses = [R.draw_loss_and_grads(grey, params, x, eps)[0]]
    for C in (2, 3):
        colour = SimpleNamespace(**shape, channels=C)
        losses.append(R.draw_loss_and_grads(colour, as_colour(grey, params, C),
                                            np.stack([x] * C, axis=1), eps)[0])
    assert losses[2] - losses[1] == pytest.approx(losses[1] - losses[0], rel=1e-10)
    assert losses[1] - losses[0] > 0


def test_draw_parameter_table_is_the_spec_one():
    config = DRAWConfig(**DRAW_CONFIGS["attention"])
    assert R.draw_param_shapes(config) == {k: tuple(v.shape)
                                           for k, v in DRAW(config).params.items()}


def test_reference_rejects_parameters_of_the_wrong_shape():
    config = DRAWConfig(**DRAW_CONFIGS["attention"])
    params = DRAW(config, dtype="float64").params
    params["enc.W"] = params["enc.W"].T
    x, eps = draw_batch(config, np.random.default_rng(0), n=2)
    with pytest.raises(ValueError, match="enc.W has shape"):
        R.draw_loss_and_grads(config, params, x, eps)


@pytest.mark.parametrize("N", [1, 3, 5])
@pytest.mark.parametrize("H, W", [(7, 6), (9, 9)])
def test_centred_grid_puts_the_middle_filter_on_the_image_centre(N, H, W):
    # g̃ = 0 from the bias alone: the middle of an odd grid sits on pixel (W + 1)/2, 1-based.
    h, weights = torch.zeros(1, 4, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64)
    bias = torch.tensor([0.0, 0.0, math.log(1.5), 0.0, 0.0], dtype=torch.float64)
    Fy, Fx, _ = R.glimpse(h, weights, bias, N, H, W)
    for F, side in ((Fx, W), (Fy, H)):
        middle = F[0, N // 2]
        pixels = torch.arange(1, side + 1, dtype=torch.float64)
        assert torch.allclose(middle, middle.flip(0), atol=1e-15)   # symmetric about the centre
        assert float((middle * pixels).sum() / middle.sum()) == pytest.approx((side + 1) / 2)
        assert torch.allclose(F.sum(dim=2), torch.ones(1, N, dtype=torch.float64), atol=1e-7)


def test_far_off_filter_reads_zeros_not_nan():
    h, weights = torch.zeros(1, 4, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64)
    bias = torch.tensor([60.0, 0.0, math.log(0.5), 0.0, 0.0], dtype=torch.float64)
    _, Fx, _ = R.glimpse(h, weights, bias, 3, 7, 6)
    assert torch.isfinite(Fx).all() and float(Fx.abs().max()) < 1e-30


# ------------------------------------------------------------------------- classifier
CLASSIFIER = SimpleNamespace(H=6, W=5, channels=2, T=3, size=4, read_n=3, classes=4)


def classifier_inputs(config, seed, n=3):
    rng = np.random.default_rng(seed)
    params = random_params(R.classifier_param_shapes(config), rng)
    x = rng.uniform(0, 1, (n, config.channels, config.H, config.W))
    return params, x, rng.integers(0, config.classes, n)


@pytest.mark.parametrize("seed", [0, 1])
def test_classifier_gradients_match_finite_differences(seed):
    params, x, labels = classifier_inputs(CLASSIFIER, seed)
    names = sorted(params)
    x, labels = torch.tensor(x), torch.tensor(labels)

    def loss(*values):
        return R.classifier_loss(CLASSIFIER, dict(zip(names, values)), x, labels)

    values = tuple(torch.tensor(params[k], requires_grad=True) for k in names)
    assert torch.autograd.gradcheck(loss, values, eps=1e-6, atol=1e-7, rtol=1e-5)
    _, grads = R.classifier_loss_and_grads(CLASSIFIER, params, x.numpy(), labels.numpy())
    expected = torch.autograd.grad(loss(*values), values)
    assert all(np.allclose(grads[k], e.numpy(), rtol=0, atol=1e-12) for k, e in zip(names, expected))


def test_classifier_with_zero_output_layer_is_uniform():
    # Zero logits: the loss is log K, and d loss / d out.b is the mean of (1/K − one-hot).
    params, x, labels = classifier_inputs(CLASSIFIER, seed=3, n=5)
    params["out.W"][...] = 0
    params["out.b"][...] = 0
    loss, grads = R.classifier_loss_and_grads(CLASSIFIER, params, x, labels)
    K = CLASSIFIER.classes
    assert loss == pytest.approx(math.log(K), rel=1e-12)
    expected = (1 / K - np.eye(K)[labels]).mean(axis=0)
    np.testing.assert_allclose(grads["out.b"], expected, atol=1e-12)
    assert {k: g.shape for k, g in grads.items()} == R.classifier_param_shapes(CLASSIFIER)


def test_sharp_full_size_read_returns_the_image():
    # N = H = W, g̃ = 0, δ̃ = 1 (so δ = 1, one filter per pixel), γ = 1, σ² tiny: the identity.
    side, channels = 5, 2
    image = torch.rand(2, channels, side, side, dtype=torch.float64,
                       generator=torch.Generator().manual_seed(0))
    h, weights = torch.zeros(2, 4, dtype=torch.float64), torch.zeros(4, 5, dtype=torch.float64)
    bias = torch.tensor([0.0, 0.0, math.log(1e-3), 0.0, 0.0], dtype=torch.float64)
    patches = R.read_patches(image, h, weights, bias, side)
    # Each of F_Y, F_X divides by its row sum + 1e-8, so the read is short by 2e-8 at most.
    torch.testing.assert_close(patches, image.reshape(2, -1), rtol=3e-8, atol=1e-12)


def test_classifier_rejects_bad_labels():
    params, x, _ = classifier_inputs(CLASSIFIER, seed=0)
    with pytest.raises(ValueError, match="labels must be 3 integers"):
        R.classifier_loss_and_grads(CLASSIFIER, params, x, np.array([0, 1, CLASSIFIER.classes]))


# ----------------------------------------------------------------------- training step
def test_torch_step_makes_draw_np_training_update():
    config = DRAWConfig(**DRAW_CONFIGS["attention"])
    rng = np.random.default_rng(7)
    model = DRAW(config, dtype="float64")
    model.params = random_params(R.draw_param_shapes(config), rng)
    clip = 1.0   # small enough to clip every step: the clipped path is the one compared
    torch_step = R.TorchDRAWStep(config, model.params, clip=clip, dtype="float64")
    adam = Adam(model.params)
    for _ in range(3):
        x, eps = draw_batch(config, rng, n=3)
        loss, grads = model.loss_and_grads(x, eps)
        grads, norm = clip_by_global_norm(grads, clip)
        assert norm > clip
        adam.step(model.params, grads)
        assert torch_step(x, eps) == pytest.approx(loss, rel=1e-10)
    assert max_error(torch_step.numpy_params(), model.params) < 1e-10


def test_step_timing_alternates_and_reports_both():
    config = DRAWConfig(**DRAW_CONFIGS["attention"])
    result = R.time_against_draw_np(config, batch_size=2, repeats=2, warmup=1)
    assert all(len(result[k]["samples_s"]) == 2 and result[k]["median_s"] > 0
               for k in ("draw_np", "torch"))


# ----------------------------------------------------------------------------- imports
def test_draw_np_never_imports_torch():
    code = ("import importlib, pkgutil, sys, draw_np\n"
            "for m in pkgutil.iter_modules(draw_np.__path__):\n"
            "    if m.name not in ('torch_reference', '__main__'):\n"
            "        importlib.import_module('draw_np.' + m.name)\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_torch_is_one_clear_error():
    code = ("import sys; sys.modules['torch'] = None\n"
            "from draw_np.errors import BackendError\n"
            "try:\n    import draw_np.torch_reference\n"
            "except BackendError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert "pip install torch" in out.stdout
