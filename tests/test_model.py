"""The whole DRAW model: gradients of the full unroll, consistency, and bad input."""
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
