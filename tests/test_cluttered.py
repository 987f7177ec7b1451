"""Cluttered MNIST: the recipe (an independent loop), exactness, fixed and regenerated splits."""
import numpy as np
import pytest

from draw_np.data import cluttered
from draw_np.data.cluttered import (CROP, DIGIT, DISTRACTORS, SIDE, Placements, draw_placements,
                                    load_splits, render)
from draw_np.data.dataset import load_dataset
from draw_np.errors import DataError

from .helpers import replace_mnist

SIZES = {"train": 30, "valid": 12, "test": 10}


def made_up_bytes(n, seed):
    """Made-up 'digits': sparse random bytes, 28 x 28 (never the network)."""
    rng = np.random.default_rng(seed)
    return ((rng.random((n, DIGIT, DIGIT)) < 0.3) * rng.integers(1, 256, (n, DIGIT, DIGIT))
            ).astype(np.uint8)


@pytest.fixture
def fake_mnist(monkeypatch):
    """Replace the MNIST loaders with small made-up digits; returns their bytes and labels."""
    digits = {split: made_up_bytes(n, i) for i, (split, n) in enumerate(SIZES.items())}
    labels = {split: np.random.default_rng(10 + i).integers(0, 10, n)
              for i, (split, n) in enumerate(SIZES.items())}
    replace_mnist(monkeypatch, digits, labels)
    return digits, labels


def reference_image(digits, target, p: Placements, i):
    """Image i of the recipe, one piece at a time, in floats: the spec read literally."""
    canvas = np.zeros((SIDE, SIDE))
    for d in range(DISTRACTORS):
        (cy, cx), (ay, ax) = p.crop[i, d], p.at[i, d]
        canvas[ay:ay + CROP, ax:ax + CROP] += digits[p.digit[i, d], cy:cy + CROP, cx:cx + CROP] / 255
    ty, tx = p.target_at[i]
    canvas[ty:ty + DIGIT, tx:tx + DIGIT] += digits[target] / 255
    return np.clip(canvas, 0, 1)


def test_render_is_the_recipe_exactly():
    digits = made_up_bytes(20, 0)
    p = draw_placements(np.random.default_rng(1), 6, len(digits))
    targets = np.array([3, 0, 19, 3, 7, 11])
    images = render(digits, targets, p)
    assert images.shape == (6, SIDE, SIDE) and images.dtype == np.float32
    for i in range(6):
        np.testing.assert_allclose(images[i], reference_image(digits, targets[i], p, i),
                                   rtol=0, atol=1e-6)
    # every pixel is a byte / 255, decoded as load_mnist decodes MNIST
    np.testing.assert_array_equal(np.rint(images * 255).astype(np.float32) / 255, images)


def test_the_target_digit_is_there_and_clipping_only_adds():
    digits = made_up_bytes(5, 2)
    p = draw_placements(np.random.default_rng(3), 5, len(digits))
    images = render(digits, np.arange(5), p)
    assert images.min() >= 0 and images.max() <= 1
    for i, (ty, tx) in enumerate(p.target_at):
        window = images[i, ty:ty + DIGIT, tx:tx + DIGIT]
        assert (window >= digits[i] / np.float32(255)).all()


def test_eight_distractor_crops_of_eight_by_eight():
    """Digits of one-byte ink everywhere and a blank target: no clipping, so the total ink is
    8 crops of 64 pixels, and every crop lies where its placement says."""
    digits = np.ones((4, DIGIT, DIGIT), dtype=np.uint8)
    digits[0] = 0                                                  # the target: blank
    p = draw_placements(np.random.default_rng(4), 3, len(digits))
    p = p._replace(digit=np.maximum(p.digit, 1))                   # distractors: ink
    images = render(digits, np.zeros(3, dtype=int), p)
    np.testing.assert_allclose(images.sum(axis=(1, 2)) * 255, DISTRACTORS * CROP * CROP,
                               rtol=1e-5)
    for i in range(3):
        for ay, ax in p.at[i]:
            assert (images[i, ay:ay + CROP, ax:ax + CROP] > 0).all()


def test_placements_are_uniform_over_the_whole_canvas():
    p = draw_placements(np.random.default_rng(5), 4000, 7)
    assert p.digit.min() == 0 and p.digit.max() == 6
    assert p.crop.min() == 0 and p.crop.max() == DIGIT - CROP
    assert p.at.min() == 0 and p.at.max() == SIDE - CROP
    assert p.target_at.min() == 0 and p.target_at.max() == SIDE - DIGIT
    # uniform: each of the 73 target rows is hit about 4000 / 73 = 55 times
    counts = np.bincount(p.target_at[:, 0], minlength=SIDE - DIGIT + 1)
    assert counts.min() > 25 and counts.max() < 95


def test_load_splits_shapes_ranges_labels(fake_mnist, tmp_path):
    digits, labels = fake_mnist
    data = load_dataset("cluttered", cache_dir=tmp_path, log=lambda s: None)
    assert data.name == "cluttered" and data.image_shape == (SIDE, SIDE) and not data.binary
    assert data.train.size == SIZES["train"]
    for split in ("valid", "test"):
        images, y = data.split(split)
        assert images.shape == (SIZES[split], SIDE, SIDE) and images.dtype == np.float32
        assert images.min() >= 0 and images.max() <= 1
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, labels[split])   # image i holds digit i of its split
    images, y = data.train.epoch(np.random.default_rng(0)).batch(np.array([4, 2, 9]), 0)
    assert images.shape == (3, SIDE, SIDE) and images.dtype == np.float32
    np.testing.assert_array_equal(y, labels["train"][[4, 2, 9]])


def test_fixed_sets_are_made_once_and_the_same_every_time(fake_mnist, tmp_path):
    quiet = dict(log=lambda s: None)
    first = load_splits(cache_dir=tmp_path / "a", **quiet)
    again = load_splits(cache_dir=tmp_path / "a", **quiet)       # from the cache
    elsewhere = load_splits(cache_dir=tmp_path / "b", **quiet)   # made afresh
    assert (tmp_path / "a" / "cluttered_mnist_seed0.npz").stat().st_size < 20_000
    for split in ("valid", "test"):
        for other in (again, elsewhere):
            np.testing.assert_array_equal(first.split(split)[0], other.split(split)[0])
    assert not np.array_equal(first.valid[0][:10], first.test[0][:10])


def test_training_images_are_new_every_epoch_and_exact_on_resume(fake_mnist, tmp_path):
    train = load_splits(cache_dir=tmp_path, log=lambda s: None).train
    indices = np.arange(10)
    state = np.random.default_rng(7).bit_generator.state

    def batch(b, state=state):
        rng = np.random.default_rng()
        rng.bit_generator.state = state
        return train.epoch(rng).batch(indices, b)[0]

    np.testing.assert_array_equal(batch(3), batch(3))       # a resume makes the same batch
    assert not np.array_equal(batch(3), batch(4))            # each batch its own placements
    later = np.random.default_rng(8).bit_generator.state
    assert not np.array_equal(batch(3), batch(3, later))     # each epoch new positions


def test_dynamic_binarisation_is_refused(fake_mnist, tmp_path):
    with pytest.raises(ValueError, match="never binarised"):
        load_splits(cache_dir=tmp_path, dynamic=True)


def test_digits_of_another_size_are_refused():
    with pytest.raises(DataError, match="28 x 28 digits"):
        cluttered.digit_bytes(np.zeros((3, 20, 20)))


def test_an_edited_cache_is_rebuilt(fake_mnist, tmp_path):
    first = load_splits(cache_dir=tmp_path, log=lambda s: None)
    path = tmp_path / "cluttered_mnist_seed0.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["valid_at"] = arrays["valid_at"].copy()
    arrays["valid_at"][0, 0] = (1, 1)
    np.savez(path, **arrays)
    with pytest.warns(RuntimeWarning, match="no longer match their recorded sha256"):
        rebuilt = load_splits(cache_dir=tmp_path, log=lambda s: None)
    np.testing.assert_array_equal(rebuilt.valid[0], first.valid[0])


def test_a_numpy_that_draws_other_placements_is_caught(fake_mnist, tmp_path, monkeypatch):
    recipe = {"seed": 0, "valid_digits": SIZES["valid"], "test_digits": SIZES["test"]}
    pin = cluttered._PINNED._replace(recipe=recipe,
                                     sha256={k: "0" * 64 for k in cluttered._PINNED.sha256})
    monkeypatch.setattr(cluttered, "_PINNED", pin)
    with pytest.raises(DataError, match="differs from the recorded one"):
        load_splits(cache_dir=tmp_path, log=lambda s: None)
