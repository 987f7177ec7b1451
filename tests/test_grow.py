"""Growing a trained model's read glimpse: the larger read computes exactly what the smaller one
did (the same loss, the same gradients), and the new glimpse points can learn."""
from dataclasses import replace

import numpy as np
import pytest

from draw_np.classifier import AttentionClassifier, ClassifierConfig
from draw_np.grow import check_growable, grow_read
from draw_np.model import DRAW, DRAWConfig


def trained_looking(model, seed):
    """The model with every parameter moved off its initial value, so that the glimpses sit
    in different places at different steps and every weight matters."""
    rng = np.random.default_rng(seed)
    for a in model.params.values():
        a += 0.3 * rng.standard_normal(a.shape)
    return model


def grown(model, new_n):
    """``model`` with a ``new_n`` x ``new_n`` read, grown from its parameters."""
    config = replace(model.config, read_n=new_n)
    bigger = type(model)(config, dtype="float64")
    params = grow_read(model.params, model.config, new_n, model.read_input)
    for name, a in params.items():
        bigger.params[name][...] = a
    return bigger


def split_read_input(small, new_n, W):
    """``W``, the grown model's read input (or its gradient), as the rows that take the read,
    shaped (P, new_n, new_n, columns), and the rows after them; and the slice of the grid
    where the smaller read's rows were copied to."""
    c = small.config
    rows = c.read_size // c.read_n ** 2 * new_n ** 2
    edge = (new_n - c.read_n) // 2
    return W[:rows].reshape(-1, new_n, new_n, W.shape[1]), W[rows:], slice(edge, edge + c.read_n)


def assert_same_function(small, big, loss_and_grads):
    loss, grads = loss_and_grads(small)
    big_loss, big_grads = loss_and_grads(big)
    assert big_loss == pytest.approx(loss, rel=1e-12)
    for name, g in grads.items():
        if name != small.read_input:
            np.testing.assert_allclose(big_grads[name], g, rtol=1e-9, atol=1e-12, err_msg=name)
    read, rest, block = split_read_input(small, big.config.read_n, big_grads[small.read_input])
    copied = np.concatenate([read[:, block, block].reshape(-1, read.shape[-1]), rest])
    np.testing.assert_allclose(copied, grads[small.read_input], rtol=1e-9, atol=1e-12)
    # The new points are read, and their weights get a gradient: the larger glimpse can learn.
    new_points = read.copy()
    new_points[:, block, block] = 0
    assert np.abs(new_points).max() > 1e-6


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
    big = grown(small, new_n)
    rng = np.random.default_rng(3)
    shape = (5, H, W) if channels == 1 else (5, channels, H, W)
    x = (rng.random(shape) < 0.4).astype(np.float64)
    eps = rng.standard_normal((config.T, 5, config.z_size))
    assert_same_function(small, big, lambda m: m.loss_and_grads(x, eps))
    np.testing.assert_allclose(big.reconstruct(x, eps).canvases,
                               small.reconstruct(x, eps).canvases, rtol=1e-10, atol=1e-13)


def test_a_grown_classifier_has_the_loss_and_gradients_of_the_one_it_grew_from():
    config = ClassifierConfig(H=15, W=14, T=3, size=6, read_n=2, classes=4)
    small = trained_looking(AttentionClassifier(config, seed=1, dtype="float64"), seed=2)
    big = grown(small, 8)
    rng = np.random.default_rng(3)
    x, labels = rng.random((6, 15, 14)), rng.integers(0, 4, 6)
    assert_same_function(small, big, lambda m: m.loss_and_grads(x, labels))
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


@pytest.mark.parametrize("old_n, new_n, message", [
    (4, 2, "can grow but not shrink: 4 x 4 there, 2 x 2 here"),
    (2, 5, "grows only by an even number of points"),
    (1, 3, "a 1 x 1 read has no stride"),
])
def test_a_growth_that_cannot_be_exact_is_refused(old_n, new_n, message):
    with pytest.raises(ValueError, match=message):
        check_growable(old_n, new_n)
