"""draw_np.data.derived on a toy data set made here: any seeded derivation plugs in the same way.

The toy set is noise drawn from a seed, the shape of what cluttered or two-digit MNIST will be:
``make`` draws it, ``check`` checks its structure, a :class:`Pinned` entry records its hashes.
"""
import hashlib
import warnings

import numpy as np
import pytest

from draw_np.data import DataError
from draw_np.data.derived import Pinned, load_derived


def sha256(a):
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def noise(seed, rng=np.random.default_rng):
    return {"images": (rng(seed).random((3, 4, 5)) < 0.5).astype(np.uint8)}


def check(arrays, where):
    if arrays.get("images") is None or arrays["images"].shape != (3, 4, 5):
        raise DataError(f"{where} has no (3, 4, 5) images")


def load(path, seed, pinned=(), make=None, calls=None):
    def default_make():
        if calls is not None:
            calls.append(seed)
        return noise(seed), {"seed": seed}
    return load_derived(path, make or default_make, requires={"seed": seed}, check=check,
                        pinned=pinned, what="toy noise", label="toy", log=lambda m: None)


PIN = Pinned({"seed": 1}, {"images": sha256(noise(1)["images"])}, "NumPy 0.0 (the test's)")


def test_made_once_then_read_from_the_cache(tmp_path):
    calls = []
    first = load(tmp_path / "toy.npz", 1, [PIN], calls=calls)
    again = load(tmp_path / "toy.npz", 1, [PIN], calls=calls)
    np.testing.assert_array_equal(first["images"], again["images"])
    assert calls == [1]


def test_another_draw_of_a_pinned_recipe_is_refused(tmp_path):
    other = lambda: (noise([1, 5]), {"seed": 1})          # same recipe, other bits
    with pytest.raises(DataError, match=r"sha256 of images.*NumPy 0\.0") as caught:
        load(tmp_path / "toy.npz", 1, [PIN], make=other)
    assert "\n" not in str(caught.value)
    assert not (tmp_path / "toy.npz").exists()


def test_an_unpinned_recipe_is_not_checked_against_the_pin(tmp_path):
    assert load(tmp_path / "toy.npz", 2, [PIN])["images"].shape == (3, 4, 5)


def test_an_edited_cache_is_remade(tmp_path):
    path, calls = tmp_path / "toy.npz", []
    first = load(path, 1, [PIN], calls=calls)
    with np.load(path) as npz:
        stored = {k: npz[k] for k in npz.files}
    stored["images"] = 1 - stored["images"]
    np.savez(path, **stored)
    with pytest.warns(RuntimeWarning, match="no longer match their recorded sha256"):
        again = load(path, 1, [PIN], calls=calls)
    np.testing.assert_array_equal(first["images"], again["images"])
    assert calls == [1, 1]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                   # the remade file is trusted again
        load(path, 1, [PIN], calls=calls)
    assert calls == [1, 1]
