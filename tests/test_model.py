"""The whole DRAW model: gradients of the full unroll, consistency, and bad input."""
import dataclasses
import math

import numpy as np
import pytest

from draw_np import backend as B
from draw_np.gradcheck import check_gradients, directional_check
from draw_np.model import DRAW, DRAWConfig, param_shapes
from draw_np.optim import Adam, clip_by_global_norm

# Small configurations whose sizes all differ, so a transposed weight cannot hide.
SMALL = dict(H=7, W=6, T=3, enc_size=5, dec_size=4, z_size=3)
CONFIGS = {
    "attention": DRAWConfig(**SMALL, read_n=2, write_n=3),
    "attention-N1": DRAWConfig(**SMALL, read_n=1, write_n=1),
    "no-attention": DRAWConfig(**SMALL, attention=False),
}


def randomised_model(config, seed=0):
    """A float64 model with every parameter random, biases and initial states included."""
    model = DRAW(config, seed=seed, dtype="float64")
    rng = np.random.default_rng(seed)
    for name, p in model.params.items():
        p[...] = B.xp().asarray(rng.normal(0, 0.5, p.shape))
    return model


def batch_and_noise(config, n=2, seed=1):
    rng = np.random.default_rng(seed)
    x = B.xp().asarray(rng.uniform(0, 1, (n, config.H, config.W)))
    eps = B.xp().asarray(rng.standard_normal((config.T, n, config.z_size)))
    return x, eps


@pytest.mark.parametrize("name", CONFIGS)
def test_every_parameter_gradient_matches_finite_differences(backend, name):
    config = CONFIGS[name]
    model = randomised_model(config)
    x, eps = batch_and_noise(config)
    _, grads = model.loss_and_grads(x, eps)
    assert set(grads) == set(model.params)
    errors = check_gradients(lambda: model.loss_and_grads(x, eps)[0], model.params, grads, 1.0)
    bad = {k: e for k, e in errors.items() if not e < 1e-5}
    assert not bad, f"whole-model gradients off: {bad}"


@pytest.mark.parametrize("name", CONFIGS)
def test_directional_derivative_of_all_parameters(backend, name):
    config = CONFIGS[name]
    model = randomised_model(config, seed=3)
    x, eps = batch_and_noise(config, n=3, seed=4)
    _, grads = model.loss_and_grads(x, eps)
    err = directional_check(lambda: model.loss_and_grads(x, eps)[0], model.params, grads,
                            B.Random(5))
    assert err < 1e-6


def test_parameters_have_the_spec_names_and_shapes():
    model = DRAW(DRAWConfig())
    shapes = {k: tuple(v.shape) for k, v in model.params.items()}
    assert shapes == {
        "enc.W": (8 + 256 + 256, 1024), "enc.b": (1024,),
        "dec.W": (100 + 256, 1024), "dec.b": (1024,),
        "mu.W": (256, 100), "mu.b": (100,), "logsigma.W": (256, 100), "logsigma.b": (100,),
        "write.W": (256, 25), "write.b": (25,), "c0": (28, 28),
        "h0_enc": (256,), "h0_dec": (256,),
        "read_attn.W": (256, 5), "read_attn.b": (5,),
        "write_attn.W": (256, 5), "write_attn.b": (5,),
    }
    no_attention = param_shapes(DRAWConfig(attention=False))
    assert "read_attn.W" not in no_attention
    assert no_attention["enc.W"] == (2 * 784 + 256 + 256, 1024)
    assert no_attention["write.W"] == (256, 784)
    assert all(v.dtype == np.float32 for v in model.params.values())


def test_untrained_model_on_blank_images_costs_log2_nats_per_pixel():
    """With zero weights the canvas stays at c0 = 0, so every pixel has p = 1/2 (log 2 nats)
    and every q(z_t) is N(0, I) exactly (KL = 0). The default init is within a hair of that."""
    config = DRAWConfig(**SMALL, read_n=2, write_n=3)
    model = DRAW(config, dtype="float64")
    x = np.zeros((4, config.H, config.W))
    exact = config.H * config.W * math.log(2)
    loss_default, _ = model.loss_and_grads(x)
    for name in model.params:
        model.params[name][...] = 0
    loss_zero, _, terms = model.loss_and_grads(x, return_terms=True)
    assert loss_zero == pytest.approx(exact, rel=1e-12)
    assert float(abs(terms.Lz).max()) == 0
    assert loss_default == pytest.approx(exact, rel=1e-3)


def test_batched_run_equals_one_example_at_a_time(backend):
    config = CONFIGS["attention"]
    model = randomised_model(config)
    x, eps = batch_and_noise(config, n=3)
    terms = model.loss_terms(x, eps)
    for i in range(3):
        single = model.loss_terms(x[i:i + 1], eps[:, i:i + 1])
        assert float(single.Lx[0]) == pytest.approx(float(terms.Lx[i]), rel=1e-12)
        assert float(single.Lz[0]) == pytest.approx(float(terms.Lz[i]), rel=1e-12)


def test_stepping_by_hand_equals_the_unrolled_forward(backend):
    config = CONFIGS["attention"]
    model = randomised_model(config)
    x, eps = batch_and_noise(config)
    state = model.initial_state(2)
    kl_total = 0
    for t in range(config.T):
        state, kl, _ = model.step(x, state, eps[t])
        kl_total = kl_total + kl
    terms = model.loss_terms(x, eps)
    np.testing.assert_allclose(B.to_numpy(kl_total), B.to_numpy(terms.Lz), rtol=1e-12)
    canvases = model.reconstruct(x, eps).canvases
    np.testing.assert_allclose(canvases[-1], B.to_numpy(1 / (1 + np.exp(-B.to_numpy(state.canvas)))),
                               rtol=1e-12)


def test_same_seed_same_loss_and_different_seed_different_loss():
    config = CONFIGS["attention"]
    x, _ = batch_and_noise(config)
    losses = [DRAW(config, seed=s).loss_and_grads(x)[0] for s in (7, 7, 8)]
    assert losses[0] == losses[1] and losses[0] != losses[2]


def test_loss_terms_add_up_and_kl_per_step_has_shape_T_by_n():
    config = CONFIGS["no-attention"]
    model = randomised_model(config)
    x, eps = batch_and_noise(config, n=3)
    loss, _, terms = model.loss_and_grads(x, eps, return_terms=True)
    assert terms.kl_per_step.shape == (config.T, 3)
    assert loss == pytest.approx(float((terms.Lx + terms.Lz).mean()))
    np.testing.assert_allclose(terms.Lz, terms.kl_per_step.sum(axis=0))
    assert (terms.kl_per_step >= 0).all()


@pytest.mark.parametrize("name", ["attention", "no-attention"])
def test_generate_and_reconstruct_return_the_promised_shapes(name):
    config = CONFIGS[name]
    model = DRAW(config)
    drawing = model.generate(4)
    assert drawing.canvases.shape == (config.T, 4, config.H, config.W)
    assert isinstance(drawing.canvases, np.ndarray)
    assert ((drawing.canvases > 0) & (drawing.canvases < 1)).all()
    assert drawing.read_attention is None
    x, _ = batch_and_noise(config, n=2)
    rec = model.reconstruct(x)
    assert rec.canvases.shape == (config.T, 2, config.H, config.W)
    if config.attention:
        for params in (drawing.write_attention, rec.write_attention, rec.read_attention):
            assert all(field.shape == (config.T, params.gx.shape[1]) for field in params)
        assert drawing.write_attention.gx.shape == (config.T, 4)
    else:
        assert drawing.write_attention is None and rec.read_attention is None


def test_generation_with_given_noise_is_deterministic():
    config = CONFIGS["attention"]
    model = DRAW(config)
    eps = np.random.default_rng(0).standard_normal((config.T, 2, config.z_size))
    a, b = model.generate(2, eps), model.generate(2, eps)
    np.testing.assert_array_equal(a.canvases, b.canvases)


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 6, 7)), r"x must have shape \(n, 7, 6\) or \(n, 1, 7, 6\), got \(2, 6, 7\)"),
    (np.zeros((7, 6)), r"x must have shape \(n, 7, 6\)"),
    (np.full((2, 7, 6), 1.5), r"x must have values in \[0, 1\]"),
    (np.full((2, 7, 6), -0.1), r"x must have values in \[0, 1\]"),
    (np.where(np.eye(7, 6, dtype=bool), np.nan, 0.5)[None], "x contains NaN"),
    ("not an array", r"x must have shape"),
])
def test_bad_x_is_refused_clearly(x, message):
    model = DRAW(CONFIGS["attention"])
    with pytest.raises(ValueError, match=message):
        model.loss_and_grads(x)


def test_bad_eps_is_refused_clearly():
    config = CONFIGS["attention"]
    model = DRAW(config)
    x = np.zeros((2, 7, 6))
    with pytest.raises(ValueError, match=r"eps must have shape \(T, n, z_size\) = \(3, 2, 3\), "
                                         r"got \(2, 3, 3\)"):
        model.loss_and_grads(x, np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="eps must have shape"):
        model.generate(2, np.zeros((3, 1, 3)))


@pytest.mark.parametrize("fields, message", [
    (dict(T=0), "T must be an integer >= 1, got 0"),
    (dict(z_size=2.5), "z_size must be an integer >= 1"),
    (dict(read_n=29), "read_n = 29 is larger than the image"),
    (dict(H=5, W=4, write_n=6), "write_n = 6 is larger than the image"),
    (dict(attention="yes"), "attention must be True or False"),
    (dict(write_window=-3), "write_window must be an integer >= 0"),
    (dict(write_window=29), "write_window = 29 is larger than the image"),
    (dict(attention=False, write_window=10), "write_window .* needs attention"),
])
def test_impossible_configurations_say_which_field(fields, message):
    with pytest.raises(ValueError, match=message):
        DRAWConfig(**fields)


def test_config_round_trips_through_a_dict():
    config = DRAWConfig(H=9, W=8, attention=False)
    assert DRAWConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown DRAWConfig fields"):
        DRAWConfig.from_dict({"H": 3, "colour": True})


def test_adam_drives_the_loss_down_on_a_small_fixed_batch():
    """A few hundred steps on made-up 'digits' (bars and blobs) must clearly reduce the bound."""
    config = DRAWConfig(H=8, W=9, T=4, enc_size=16, dec_size=16, z_size=4, read_n=3, write_n=3)
    rng = np.random.default_rng(0)
    x = np.zeros((16, 8, 9), dtype=np.float32)
    for i in range(16):  # one horizontal and one vertical bar at random places
        x[i, rng.integers(1, 7), 1:8] = 1
        x[i, 1:7, rng.integers(1, 8)] = 1
    model = DRAW(config, seed=0)
    opt = Adam(model.params, lr=3e-3)
    eps = B.Random(1).normal((config.T, 16, config.z_size))
    first, _ = model.loss_and_grads(x, eps)
    for _ in range(300):
        _, grads = model.loss_and_grads(x)
        opt.step(model.params, clip_by_global_norm(grads, 10.0)[0])
    last, _ = model.loss_and_grads(x, eps)
    assert last < 0.6 * first, (first, last)


def test_log_ratio_is_an_unbiased_estimate_of_the_kl_term():
    """E_ε[log q(z|x) − log p(z)] = E_ε[Σ_t KL_t]: the KL of step t depends on the samples
    before it, so both sides are expectations; their difference must average to zero."""
    config = CONFIGS["attention"]
    model = randomised_model(config, seed=2)
    x, _ = batch_and_noise(config, n=1)
    m = 4000
    terms = model.loss_terms(np.repeat(x, m, axis=0))
    difference = terms.log_ratio - terms.Lz
    assert difference.std() > 0.1  # one is a sample, the other an expectation over the last ε
    assert abs(difference.mean()) < 5 * difference.std() / np.sqrt(m)


@pytest.mark.parametrize("N, H, W", [(2, 28, 28), (5, 28, 28), (3, 7, 6), (1, 9, 5)])
def test_first_glimpse_tiles_the_whole_image(N, H, W):
    """A fresh model's attention head: centred, γ = 1, N δ = max(H, W), σ = δ / 2."""
    from draw_np.attention import attention_params_forward
    from draw_np.model import initial_attention_bias
    bias = np.asarray(initial_attention_bias(N, H, W))
    params, _ = attention_params_forward(np.zeros((1, 4)), np.zeros((4, 5)), bias, N, H, W)
    delta = float(params.delta[0])
    assert (float(params.gx[0]), float(params.gy[0])) == ((W + 1) / 2, (H + 1) / 2)
    assert N * delta == pytest.approx(max(H, W))
    assert float(params.sigma2[0]) == pytest.approx((delta / 2) ** 2)
    assert float(params.gamma[0]) == pytest.approx(1.0)
    model = DRAW(DRAWConfig(H=H, W=W, T=2, read_n=N, write_n=N))
    np.testing.assert_allclose(model.params["read_attn.b"], bias, rtol=1e-6)


def test_a_write_window_starts_the_write_glimpse_on_the_centred_window():
    """--write-window 28 on 60 x 60 images: the write's first 5 x 5 glimpse tiles the centred
    28 x 28 pixels (filter centres 5.6 apart, from 19.3 to 41.7 on 1-based pixels, σ = 2.8),
    as the MNIST model's tiles its whole 28 x 28 image; the read still tiles the whole image."""
    from draw_np.attention import attention_params_forward
    model = DRAW(DRAWConfig(H=60, W=60, T=2, read_n=12, write_n=5, write_window=28))
    bias = model.params["write_attn.b"].astype(np.float64)
    params, _ = attention_params_forward(np.zeros((1, 4)), np.zeros((4, 5)), bias, 5, 60, 60)
    centres = float(params.gx[0]) + (np.arange(5) - 2) * float(params.delta[0])   # eq. 19
    np.testing.assert_allclose(centres, [30.5 + 5.6 * (i - 2) for i in range(5)], rtol=1e-5)
    assert float(params.sigma2[0]) == pytest.approx(2.8 ** 2, rel=1e-5)
    whole = DRAW(DRAWConfig(H=60, W=60, T=2, read_n=12, write_n=5))
    np.testing.assert_array_equal(model.params["read_attn.b"], whole.params["read_attn.b"])
    assert not np.allclose(model.params["write_attn.b"], whole.params["write_attn.b"])


# ------------------------------------------------------------------------------ colour images
COLOUR = {
    "C3-attention": DRAWConfig(**SMALL, read_n=2, write_n=3, channels=3),
    "C2-attention-N1": DRAWConfig(H=5, W=8, T=2, enc_size=4, dec_size=6, z_size=2, read_n=1,
                                  write_n=1, channels=2),
    "C3-no-attention": DRAWConfig(**SMALL, attention=False, channels=3),
    "C2-no-attention": DRAWConfig(H=5, W=8, T=2, enc_size=4, dec_size=6, z_size=2,
                                  attention=False, channels=2),
}


def colour_batch(config, n=2, seed=1):
    rng = np.random.default_rng(seed)
    x = B.xp().asarray(rng.uniform(0, 1, (n, config.channels, config.H, config.W)))
    eps = B.xp().asarray(rng.standard_normal((config.T, n, config.z_size)))
    return x, eps


@pytest.mark.parametrize("name", COLOUR)
def test_colour_model_every_parameter_gradient_matches_finite_differences(backend, name):
    config = COLOUR[name]
    model = randomised_model(config)
    x, eps = colour_batch(config)
    _, grads = model.loss_and_grads(x, eps)
    assert set(grads) == set(model.params)
    errors = check_gradients(lambda: model.loss_and_grads(x, eps)[0], model.params, grads, 1.0)
    bad = {k: e for k, e in errors.items() if not e < 1e-5}
    assert not bad, f"whole-model gradients off: {bad}"


def test_colour_parameters_have_the_spec_shapes():
    C, N, R = 3, 5, 2
    shapes = param_shapes(DRAWConfig(channels=C))
    assert shapes["enc.W"] == (2 * C * R * R + 256 + 256, 1024)
    assert shapes["write.W"] == (256, C * N * N) and shapes["write.b"] == (C * N * N,)
    assert shapes["c0"] == (C, 28, 28)
    plain = param_shapes(DRAWConfig(channels=C, attention=False))
    assert plain["enc.W"] == (2 * C * 784 + 256 + 256, 1024)
    assert plain["write.W"] == (256, C * 784)
    assert param_shapes(DRAWConfig(channels=1))["c0"] == (28, 28)
    assert DRAW.param_shapes(DRAWConfig(channels=C)) == shapes


@pytest.mark.parametrize("name", COLOUR)
def test_colour_drawings_have_a_channel_axis(name):
    config = COLOUR[name]
    model = DRAW(config)
    x, eps = colour_batch(config, n=3)
    shape = (config.T, 3, config.channels, config.H, config.W)
    assert model.reconstruct(x, eps).canvases.shape == shape
    assert model.generate(3, eps).canvases.shape == shape


def test_colour_model_with_equal_channels_and_tied_weights_is_the_grey_model():
    """Three equal channels, each read with the grey model's read weights divided by 3 and
    written with the grey model's write weights: every channel holds the grey model's canvas,
    and the loss is three times the grey L^x plus the same L^z."""
    grey_config = CONFIGS["attention"]
    colour_config = dataclasses.replace(grey_config, channels=3)
    grey = randomised_model(grey_config)
    colour = DRAW(colour_config, dtype="float64")
    R2, C = grey_config.read_n ** 2, 3
    for name, p in grey.params.items():
        if name == "enc.W":   # r = [x patches (C of them), x̂ patches (C)]: each grey row / C
            x_rows, x_hat_rows, rest = p[:R2], p[R2:2 * R2], p[2 * R2:]
            colour.params[name] = np.concatenate([np.tile(x_rows, (C, 1)) / C,
                                                  np.tile(x_hat_rows, (C, 1)) / C, rest])
        elif name in ("write.W", "write.b"):
            colour.params[name] = np.tile(p, C if p.ndim == 1 else (1, C))
        elif name == "c0":
            colour.params[name] = np.stack([p] * C)
        else:
            colour.params[name] = p.copy()
    x, eps = batch_and_noise(grey_config)
    x3 = np.stack([x] * C, axis=1)
    g, c = grey.loss_terms(x, eps), colour.loss_terms(x3, eps)
    np.testing.assert_allclose(c.Lx, C * g.Lx, rtol=1e-10)
    np.testing.assert_allclose(c.Lz, g.Lz, rtol=1e-10)
    drawing = colour.reconstruct(x3, eps).canvases
    for channel in range(C):
        np.testing.assert_allclose(drawing[:, :, channel], grey.reconstruct(x, eps).canvases,
                                   rtol=1e-10)


# ------------------------------------------------------------------------ grey compatibility
@pytest.mark.parametrize("name", CONFIGS)
def test_grey_model_takes_a_channel_axis_with_identical_results(backend, name):
    model = randomised_model(CONFIGS[name])
    x, eps = batch_and_noise(CONFIGS[name])
    loss3, grads3, terms3 = model.loss_and_grads(x, eps, return_terms=True)
    loss4, grads4, terms4 = model.loss_and_grads(x[:, None], eps, return_terms=True)
    assert loss3 == loss4
    for k in grads3:
        np.testing.assert_array_equal(B.to_numpy(grads3[k]), B.to_numpy(grads4[k]))
    for a, b in zip(terms3, terms4):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))
    assert model.reconstruct(x[:, None], eps).canvases.shape == (CONFIGS[name].T, 2, 7, 6)


def test_bundled_quick_model_gives_the_same_terms_on_grey_images_either_way():
    """The bundled checkpoint loads unchanged (its config has no channels field) and the
    bundled test digits give identical loss terms as (n, H, W) and as (n, 1, H, W)."""
    from importlib.resources import files

    from draw_np.checkpoint import load_model
    assets = files("draw_np") / "assets"
    model = load_model(assets / "quick.npz")
    assert model.config.channels == 1 and model.params["c0"].shape == (28, 28)
    with np.load(assets / "mnist_sample.npz") as sample:
        x = sample["images"][:20]
    eps = B.Random(0).normal((model.config.T, 20, model.config.z_size))
    grey, with_axis = model.loss_terms(x, eps), model.loss_terms(x[:, None], eps)
    for a, b in zip(grey, with_axis):
        np.testing.assert_array_equal(B.to_numpy(a), B.to_numpy(b))
    assert 50 < float(grey.Lx.mean() + grey.Lz.mean()) < 250


def test_bundled_table2_model_is_the_paper_model_and_beats_the_quick_one():
    """The shipped Table 2 model is the `paper` preset's T = 64 DRAW, stored as parameters only,
    and on the bundled test digits (the same ε seed) its bound is far below the quick model's:
    the file is the campaign's trained model, not an untrained or a quick one."""
    from importlib.resources import files

    from draw_np.checkpoint import load_model
    from draw_np.presets import preset
    assets = files("draw_np") / "assets"
    with np.load(assets / "mnist_attention.npz", allow_pickle=False) as stored:
        assert all(k.startswith("param/") or k == "meta" for k in stored.files), stored.files
    with np.load(assets / "mnist_sample.npz") as sample:
        x = sample["images"]

    def terms_of(name):
        model = load_model(assets / f"{name}.npz")
        eps = B.Random(0).normal((model.config.T, len(x), model.config.z_size))
        return model.config, model.loss_terms(x, eps)

    config, table2 = terms_of("mnist_attention")
    _, quick = terms_of("quick")
    assert config == preset("paper")[0]
    assert float(table2.Lz.mean()) > 10      # the latents carry information
    bounds = {name: float(t.Lx.mean() + t.Lz.mean())
              for name, t in (("mnist_attention", table2), ("quick", quick))}
    # Table 2 model: ~83 nats on these digits; quick: ~121
    assert bounds["mnist_attention"] < 95 < bounds["quick"], bounds


def test_old_config_dicts_mean_grey():
    old = {k: v for k, v in DRAWConfig(H=9, W=8).to_dict().items() if k != "channels"}
    assert DRAWConfig.from_dict(old).channels == 1
    assert DRAWConfig.from_dict(DRAWConfig(channels=3).to_dict()).channels == 3


# ---------------------------------------------------------------------- the model interface
def test_draw_offers_the_model_interface_of_models_py():
    from draw_np.models import model_class
    assert model_class("draw") is DRAW and DRAW.kind == "draw"
    assert DRAW.config_class is DRAWConfig
    assert DRAW.param_shapes(CONFIGS["attention"]) == param_shapes(CONFIGS["attention"])
    model = randomised_model(CONFIGS["attention"])
    x, eps = batch_and_noise(CONFIGS["attention"], n=3)
    _, _, terms = model.loss_and_grads(x, eps, return_terms=True)
    metrics = model.training_metrics(terms)
    assert set(metrics) == {"Lx", "Lz"} and all(type(v) is float for v in metrics.values())
    assert metrics["Lx"] == pytest.approx(float(terms.Lx.mean()))
    assert metrics["Lz"] == pytest.approx(float(terms.Lz.mean()))


class CountingArray(np.ndarray):
    """An ndarray that records every matrix product it takes part in (matmul is a ufunc)."""
    flops = []

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = lambda a: a.view(np.ndarray) if isinstance(a, CountingArray) else a
        inputs = [plain(a) for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(plain(o) for o in out)
        if ufunc is np.matmul and method == "__call__":
            a, b = inputs
            stack = np.broadcast_shapes(a.shape[:-2], b.shape[:-2] if b.ndim > 1 else ())
            cols = b.shape[-1] if b.ndim > 1 else 1
            CountingArray.flops.append(2 * math.prod(stack) * a.shape[-2] * a.shape[-1] * cols
                                       if a.ndim > 1 else 0)
        result = getattr(ufunc, method)(*inputs, **kwargs)
        return out[0] if out is not None and len(out) == 1 else _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))


def _unwrap(tree):
    if isinstance(tree, CountingArray):
        return tree.view(np.ndarray)
    if isinstance(tree, (list, tuple)):
        return type(tree)(_unwrap(t) for t in tree)
    if isinstance(tree, dict):
        return {k: _unwrap(v) for k, v in tree.items()}
    return tree


def _wrap(result):
    """Results of every operation on a CountingArray are CountingArrays again."""
    if isinstance(result, tuple):
        return tuple(_wrap(r) for r in result)
    return result.view(CountingArray) if type(result) is np.ndarray else result


@pytest.mark.parametrize("config", [
    CONFIGS["attention"], CONFIGS["no-attention"], COLOUR["C3-attention"],
    COLOUR["C2-no-attention"], dataclasses.replace(CONFIGS["attention-N1"], T=19)],
    ids=["attention", "no-attention", "C3", "C2-no-attention", "T19"])
def test_matmul_shapes_count_the_products_a_step_really_makes(config, monkeypatch):
    """Count the FLOPs of every product one training step performs, with arrays that record
    them, and compare with what the model says about itself."""
    ascontiguousarray = np.ascontiguousarray  # does not dispatch on its argument: made to
    monkeypatch.setattr(np, "ascontiguousarray",
                        lambda a, *args, **kwargs: _wrap(ascontiguousarray(a, *args, **kwargs)))
    model = randomised_model(config)
    n = 3
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (n, config.channels, config.H, config.W))
    eps = rng.standard_normal((config.T, n, config.z_size))
    model.params = {k: v.view(CountingArray) for k, v in model.params.items()}
    CountingArray.flops = []
    model.loss_and_grads(x, eps)
    counted = sum(CountingArray.flops)
    claimed = sum(2 * rows * inner * cols * count
                  for _, rows, inner, cols, count in model.matmul_shapes(n))
    assert counted == claimed


# ------------------------------------------------------------------------------ robustness
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_eps_that_is_not_finite_is_refused(bad):
    config = CONFIGS["attention"]
    model = DRAW(config)
    eps = np.zeros((config.T, 2, config.z_size))
    eps[1, 0, 2] = bad
    with pytest.raises(ValueError, match="eps must be finite"):
        model.loss_and_grads(np.zeros((2, 7, 6)), eps)
    with pytest.raises(ValueError, match="eps must be finite"):
        model.generate(2, eps)


@pytest.mark.parametrize("seed", [1.5, "1", True, -1, None])
def test_bad_seed_is_refused_clearly(seed):
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        DRAW(CONFIGS["attention"], seed=seed)


def test_numpy_integers_are_accepted_where_ints_are():
    config = DRAWConfig(**{k: np.int64(v) for k, v in SMALL.items()}, read_n=np.int32(2),
                        write_n=np.int64(3))
    assert config == CONFIGS["attention"] and type(config.H) is int
    assert config.to_dict() == CONFIGS["attention"].to_dict()
    model = DRAW(config, seed=np.int64(3))
    assert model.generate(np.int64(2)).canvases.shape == (3, 2, 7, 6)
    assert len(model.matmul_shapes(np.int64(4))) > 0
    with pytest.raises(ValueError, match="T must be an integer >= 1, got True"):
        DRAWConfig(T=True)
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        model.generate(True)


@pytest.mark.parametrize("x", [np.zeros((2, 7, 6), dtype=complex),
                               np.zeros((2, 7, 6)).astype(str), np.zeros((2, 7, 6), dtype=object)])
def test_x_that_is_not_real_numbers_is_refused(x):
    with pytest.raises(ValueError, match="x must hold real numbers"):
        DRAW(CONFIGS["attention"]).loss_and_grads(x)


def test_generation_runs_the_training_steps_decoder():
    """generate is DRAW.decode applied T times from the learned start: the same half-step."""
    config = CONFIGS["attention"]
    model = randomised_model(config)
    eps = np.random.default_rng(0).standard_normal((config.T, 2, config.z_size))
    from draw_np.activations import sigmoid
    from draw_np.model import DecoderState
    start = model.initial_state(2)
    state = DecoderState(start.canvas, start.h_dec, start.cell_dec)
    for t in range(config.T):
        state, _ = model.decode(state, eps[t])
    np.testing.assert_array_equal(model.generate(2, eps).canvases[-1], sigmoid(state.canvas))
