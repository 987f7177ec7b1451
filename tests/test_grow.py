"""Growing a trained model's read or write glimpse or its LSTMs: the larger model computes
exactly what the smaller one did (the same loss, the same gradients), and the new glimpse points
and units can learn."""
from dataclasses import replace

import numpy as np
import pytest

from draw_np.classifier import AttentionClassifier, ClassifierConfig
from draw_np.attention import attention_params_forward
from draw_np.grow import at_own_scale, check_growable, grow_lstms, grow_read, grow_write
from draw_np.model import DRAW, DRAWConfig


def trained_looking(model, seed):
    """The model with every parameter moved off its initial value, so that the glimpses sit
    in different places at different steps and every weight matters."""
    rng = np.random.default_rng(seed)
    for a in model.params.values():
        a += 0.3 * rng.standard_normal(a.shape)
    return model


def grown(model, read_n=None, write_n=None):
    """``model`` with a ``read_n`` x ``read_n`` read and a ``write_n`` x ``write_n`` write
    (each its own when None), grown from its parameters."""
    c = model.config
    read_n = read_n or c.read_n
    params = grow_read(model.params, c, read_n, model.read_input)
    changes = dict(read_n=read_n)
    if write_n:
        params, changes["write_n"] = grow_write(params, c, write_n), write_n
    bigger = type(model)(replace(c, **changes), dtype="float64")
    for name, a in params.items():
        bigger.params[name][...] = a
    return bigger


def read_split(small, new_n):
    """name -> a function that splits the grown model's read input (or its gradient) into
    what the smaller read's rows became (the central block, then the rows after the read) and
    the new points' rows (the rest zeroed)."""
    c = small.config
    rows = c.read_size // c.read_n ** 2 * new_n ** 2
    edge = (new_n - c.read_n) // 2
    block = slice(edge, edge + c.read_n)

    def split(W):
        read = W[:rows].reshape(-1, new_n, new_n, W.shape[1])
        new_points = read.copy()
        new_points[:, block, block] = 0
        return np.concatenate([read[:, block, block].reshape(-1, W.shape[1]), W[rows:]]), new_points
    return {small.read_input: split}


def write_split(small, new_n):
    """name -> a function that splits the grown write's weights (or their gradient), whose
    columns (or entries) are laid out as (C, N, N), into the central block and the new points
    (the rest zeroed)."""
    c = small.config
    edge = (new_n - c.write_n) // 2
    block = slice(edge, edge + c.write_n)

    def split(a):
        patch = a.reshape(-1, c.channels, new_n, new_n)
        new_points = patch.copy()
        new_points[:, :, block, block] = 0
        return patch[:, :, block, block], new_points
    return {"write.W": split, "write.b": split}


def assert_same_function(small, big, loss_and_grads, splits):
    """The same loss and gradients; each grown weight (``splits``: name -> split) has the
    smaller model's gradient in its old places and a gradient at its new points."""
    loss, grads = loss_and_grads(small)
    big_loss, big_grads = loss_and_grads(big)
    assert big_loss == pytest.approx(loss, rel=1e-12)
    for name, g in grads.items():
        if name not in splits:
            np.testing.assert_allclose(big_grads[name], g, rtol=1e-9, atol=1e-12, err_msg=name)
    for name, split in splits.items():
        copied, new_points = split(big_grads[name])
        np.testing.assert_allclose(copied.reshape(grads[name].shape), grads[name], rtol=1e-9,
                                   atol=1e-12, err_msg=name)
        # The new points are read or written, and their weights get a gradient: they can learn.
        assert np.abs(new_points).max() > 1e-6, name


def assert_same_draw(small, big, splits):
    """:func:`assert_same_function` for two DRAWs on random binary images, and the same
    canvases at every step."""
    c = small.config
    rng = np.random.default_rng(3)
    shape = (5, c.H, c.W) if c.channels == 1 else (5, c.channels, c.H, c.W)
    x = (rng.random(shape) < 0.4).astype(np.float64)
    eps = rng.standard_normal((c.T, 5, c.z_size))
    assert_same_function(small, big, lambda m: m.loss_and_grads(x, eps), splits)
    np.testing.assert_allclose(big.reconstruct(x, eps).canvases,
                               small.reconstruct(x, eps).canvases, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("H, W, old_n, new_n, channels", [
    (10, 9, 2, 4, 1),     # non-square, even
    (12, 12, 2, 6, 1),    # the campaign's kind of growth, by more than one ring
    (11, 13, 3, 5, 3),    # odd, colour
])
def test_a_grown_draw_has_the_loss_and_gradients_of_the_one_it_grew_from(H, W, old_n, new_n,
                                                                         channels):
    config = DRAWConfig(H=H, W=W, T=4, enc_size=7, dec_size=6, z_size=3, read_n=old_n,
                        write_n=3, channels=channels)
    small = trained_looking(DRAW(config, seed=1, dtype="float64"), seed=2)
    assert_same_draw(small, grown(small, read_n=new_n), read_split(small, new_n))


def test_a_grown_classifier_has_the_loss_and_gradients_of_the_one_it_grew_from():
    config = ClassifierConfig(H=15, W=14, T=3, size=6, read_n=2, classes=4)
    small = trained_looking(AttentionClassifier(config, seed=1, dtype="float64"), seed=2)
    big = grown(small, read_n=8)
    rng = np.random.default_rng(3)
    x, labels = rng.random((6, 15, 14)), rng.integers(0, 4, 6)
    assert_same_function(small, big, lambda m: m.loss_and_grads(x, labels), read_split(small, 8))
    np.testing.assert_allclose(big.logits(x), small.logits(x), rtol=1e-10)


def test_growing_keeps_the_stride_and_leaves_the_checkpoint_alone():
    small = trained_looking(DRAW(DRAWConfig(H=12, W=12, T=2, enc_size=4, dec_size=4,
                                            z_size=2, read_n=2, write_n=2), dtype="float64"), 0)
    before = {k: a.copy() for k, a in small.params.items()}
    params = grow_read(small.params, small.config, 12, "enc.W")
    assert params["read_attn.b"][3] - before["read_attn.b"][3] == pytest.approx(np.log(11))
    assert params["enc.W"].shape == (2 * 144 + 8, 16)
    for name, a in small.params.items():
        np.testing.assert_array_equal(a, before[name], err_msg=name)
    assert grow_read(small.params, small.config, 2, "enc.W").keys() == small.params.keys()


@pytest.mark.parametrize("old_n, new_n, glimpse, message", [
    (4, 2, "read", "the read glimpse can grow but not shrink: 4 x 4 there, 2 x 2 here"),
    (2, 5, "read", "grows only by an even number of points"),
    (1, 3, "read", "a 1 x 1 read has no stride"),
    (5, 3, "write", "the write glimpse can grow but not shrink"),
    (3, 4, "write", "a 3 x 3 write grows only by an even number of points"),
])
def test_a_growth_that_cannot_be_exact_is_refused(old_n, new_n, glimpse, message):
    with pytest.raises(ValueError, match=message):
        check_growable(old_n, new_n, glimpse)


@pytest.mark.parametrize("H, W, old_n, new_n, channels", [
    (10, 9, 3, 5, 1),     # non-square, odd (the campaign's kind: 5 x 5 to 9 x 9)
    (12, 12, 2, 6, 1),    # even, by more than one ring
    (11, 13, 3, 7, 3),    # colour: C patches, each grown on its own
])
def test_a_draw_with_a_grown_write_has_the_loss_and_gradients_it_grew_from(H, W, old_n, new_n,
                                                                           channels):
    config = DRAWConfig(H=H, W=W, T=4, enc_size=7, dec_size=6, z_size=3, read_n=2,
                        write_n=old_n, channels=channels)
    small = trained_looking(DRAW(config, seed=1, dtype="float64"), seed=2)
    assert_same_draw(small, grown(small, write_n=new_n), write_split(small, new_n))


def test_growing_the_write_keeps_its_stride_and_zeroes_only_the_new_points():
    small = trained_looking(DRAW(DRAWConfig(H=12, W=12, T=2, enc_size=4, dec_size=4,
                                            z_size=2, read_n=2, write_n=5), dtype="float64"), 0)
    before = {k: a.copy() for k, a in small.params.items()}
    params = grow_write(small.params, small.config, 9)
    assert params["write_attn.b"][3] - before["write_attn.b"][3] == pytest.approx(np.log(2))
    assert params["write.W"].shape == (4, 81) and params["write.b"].shape == (81,)
    patch = params["write.W"].reshape(4, 9, 9)
    np.testing.assert_array_equal(patch[:, 2:7, 2:7], before["write.W"].reshape(4, 5, 5))
    assert np.count_nonzero(patch) == 4 * 25
    for name, a in small.params.items():
        np.testing.assert_array_equal(a, before[name], err_msg=name)


def lstm_old_places(name, a, config, enc_size, dec_size):
    """What the smaller model's parameter ``name`` became in the grown one's ``a`` (or its
    gradient): the old units' rows and gate columns."""
    c, R, Z = config, config.read_size, config.z_size

    def old_gates(a, old, new):   # the last axis: four gate blocks of ``new`` units each
        return a.reshape(a.shape[:-1] + (4, new))[..., :old].reshape(a.shape[:-1] + (4 * old,))
    if name == "enc.W":
        rows = np.r_[0:R + c.dec_size, R + dec_size:R + dec_size + c.enc_size]
        return old_gates(a[rows], c.enc_size, enc_size)
    if name == "dec.W":
        return old_gates(a[:Z + c.dec_size], c.dec_size, dec_size)
    if name in ("enc.b", "dec.b"):
        old, new = (c.enc_size, enc_size) if name == "enc.b" else (c.dec_size, dec_size)
        return old_gates(a, old, new)
    if name in ("mu.W", "logsigma.W", "h0_enc"):
        return a[:c.enc_size]
    if name in ("read_attn.W", "write_attn.W", "write.W", "h0_dec"):
        return a[:c.dec_size]
    return a


@pytest.mark.parametrize("enc_size, dec_size, channels", [
    (10, 9, 1),     # both LSTMs
    (7, 8, 3),      # the decoder only, colour
    (11, 6, 1),     # the encoder only
])
def test_a_draw_with_grown_lstms_has_the_loss_and_gradients_it_grew_from(enc_size, dec_size,
                                                                         channels):
    config = DRAWConfig(H=10, W=9, T=4, enc_size=7, dec_size=6, z_size=3, read_n=2, write_n=3,
                        channels=channels)
    small = trained_looking(DRAW(config, seed=1, dtype="float64"), seed=2)
    before = {k: a.copy() for k, a in small.params.items()}
    params = grow_lstms(small.params, config, enc_size, dec_size, np.random.default_rng(0))
    big = DRAW(replace(config, enc_size=enc_size, dec_size=dec_size), dtype="float64")
    for name, a in params.items():
        big.params[name][...] = a
    rng = np.random.default_rng(3)
    shape = (5, 10, 9) if channels == 1 else (5, channels, 10, 9)
    x = (rng.random(shape) < 0.4).astype(np.float64)
    eps = rng.standard_normal((config.T, 5, config.z_size))
    loss, grads = small.loss_and_grads(x, eps)
    big_loss, big_grads = big.loss_and_grads(x, eps)
    assert big_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(big.reconstruct(x, eps).canvases,
                               small.reconstruct(x, eps).canvases, rtol=1e-10, atol=1e-13)
    for name, g in grads.items():
        np.testing.assert_allclose(lstm_old_places(name, big_grads[name], config, enc_size,
                                                   dec_size), g, rtol=1e-9, atol=1e-12,
                                   err_msg=name)
    for name, a in small.params.items():     # the checkpoint's arrays are left alone
        np.testing.assert_array_equal(a, before[name], err_msg=name)
    # The new units' h is 0 at every step, so their outgoing weights get no gradient yet; of
    # their gates only the candidate g's weights do (i, f and o meet g = 0 or cell = 0), and
    # that starts them.
    for name, old, new in (("enc", 7, enc_size), ("dec", 6, dec_size)):
        if new == old:
            continue
        gates = big_grads[name + ".W"].reshape(-1, 4, new)[:, :, old:]
        assert np.abs(gates[:, :3]).max() == 0 and np.abs(gates[:, 3]).max() > 1e-6, name
    if enc_size > 7:
        assert np.abs(big_grads["mu.W"][7:]).max() == 0
    if dec_size > 6:
        assert np.abs(big_grads["write.W"][6:]).max() == 0
        assert np.abs(params["write.W"][6:]).max() > 0     # small and random, not zero


def test_lstms_cannot_shrink():
    config = DRAWConfig(H=10, W=9, T=2, enc_size=7, dec_size=6, z_size=3, read_n=2, write_n=3)
    params = DRAW(config).params
    with pytest.raises(ValueError, match="the encoder LSTM can grow but not shrink: 7 units "
                                         "there, 5 here"):
        grow_lstms(params, config, 5, 6, np.random.default_rng(0))
    assert grow_lstms(params, config, 7, 6, np.random.default_rng(0)).keys() == params.keys()


def test_at_own_scale_moves_every_glimpse_by_the_offset_and_keeps_its_scale():
    """On 16 x 13 images the glimpses of a 10 x 9 model sit where they sat, moved by the old
    image's offset (3, 2), with the same stride, σ² and γ (eqs. 22-24); c0 is the old one in
    the centre and its smallest value around it."""
    config = DRAWConfig(H=10, W=9, T=2, enc_size=5, dec_size=6, z_size=2, read_n=2, write_n=3)
    small = trained_looking(DRAW(config, seed=1, dtype="float64"), seed=2)
    params = at_own_scale(small.params, config, 16, 13)
    h = np.random.default_rng(4).standard_normal((7, 6))
    for head, n in (("read_attn", 2), ("write_attn", 3)):
        old, _ = attention_params_forward(h, small.params[head + ".W"],
                                          small.params[head + ".b"], n, 10, 9)
        new, _ = attention_params_forward(h, params[head + ".W"], params[head + ".b"], n, 16, 13)
        np.testing.assert_allclose(new.gx, old.gx + 2, rtol=1e-12)
        np.testing.assert_allclose(new.gy, old.gy + 3, rtol=1e-12)
        for field in ("delta", "sigma2", "gamma"):
            np.testing.assert_allclose(getattr(new, field), getattr(old, field), rtol=1e-12)
    c0 = params["c0"]
    np.testing.assert_array_equal(c0[3:13, 2:11], small.params["c0"])
    outside = np.ones(c0.shape, bool)
    outside[3:13, 2:11] = False
    assert (c0[outside] == small.params["c0"].min()).all()
    assert at_own_scale(small.params, config, 10, 9).keys() == small.params.keys()


def test_at_own_scale_draws_the_same_where_the_glimpses_stay_inside_the_old_image():
    """Meaning: glimpses that never reach past the old image's edge see and draw exactly what
    they did, so the model on an image padded with background costs what it cost on the image
    plus the padding's pixels, each −log(1 − σ(min c0))."""
    config = DRAWConfig(H=8, W=8, T=3, enc_size=5, dec_size=6, z_size=2, read_n=2, write_n=3)
    small = trained_looking(DRAW(config, seed=1, dtype="float64"), seed=2)
    for head in ("read_attn", "write_attn"):       # σ² 0.1, 2.5 pixels or more from the edge
        small.params[head + ".W"][...] = 0
        small.params[head + ".b"][...] = [0, 0, np.log(0.1), np.log(2 / 7), 0]
    params = at_own_scale(small.params, config, 14, 12)
    big = DRAW(replace(config, H=14, W=12), dtype="float64")
    for name, a in params.items():
        big.params[name][...] = a
    rng = np.random.default_rng(3)
    x = (rng.random((5, 8, 8)) < 0.3).astype(float)
    padded = np.zeros((5, 14, 12))
    padded[:, 3:11, 2:10] = x
    eps = rng.standard_normal((config.T, 5, config.z_size))
    border = (14 * 12 - 8 * 8) * np.logaddexp(0, small.params["c0"].min())
    assert big.loss_and_grads(padded, eps)[0] == pytest.approx(
        small.loss_and_grads(x, eps)[0] + border, rel=1e-9)


@pytest.mark.parametrize("height, width, message", [
    (8, 12, "only on a larger image: 10 x 9 there, 8 x 12 here"),
    (13, 13, "larger by an even number of pixels each way, not 13 x 13"),
])
def test_at_own_scale_refuses_what_it_cannot_centre(height, width, message):
    config = DRAWConfig(H=10, W=9, T=2, enc_size=5, dec_size=6, z_size=2, read_n=2, write_n=3)
    with pytest.raises(ValueError, match=message):
        at_own_scale(DRAW(config).params, config, height, width)
    plain = DRAWConfig(H=10, W=9, T=2, enc_size=5, dec_size=6, z_size=2, attention=False)
    with pytest.raises(ValueError, match="only a model with attention"):
        at_own_scale(DRAW(plain).params, plain, 12, 11)
