"""The benchmark command: its FLOP count means what it says, and its report is well-formed.

No timing thresholds here: speed is measured by ``python -m draw_np bench``, not asserted.
"""
import argparse
import json

import numpy as np
import pytest

from draw_np import backend, bench
from draw_np.model import DRAW, DRAWConfig
from draw_np.presets import preset

TINY = preset("tiny")[0]
ENCODER, DECODER, CANVAS = list(bench.CACHE_PARTS)[:3]


def test_encoder_lstm_count_by_hand():
    # Encoder: u = [r_t, h^dec_{t-1}, h^enc_{t-1}] of 2·2² + 32 + 32 = 72 columns, a = u W with
    # W: (72, 4·32). Three products of 2·n·72·128 each (x W, da Wᵀ, uᵀ da) at each of T steps.
    n, T = 50, TINY.T
    flops = bench.count_step_flops(DRAW(TINY), n)
    assert flops["layers"]["enc"] == 3 * 2 * n * 72 * 128 * T
    assert flops["layers"]["dec"] == 3 * 2 * n * (4 + 32) * 128 * T


def test_the_count_is_the_models_own_and_linear_in_batch():
    model = DRAW(TINY)
    one, two = bench.count_step_flops(model, 7), bench.count_step_flops(model, 14)
    assert one["matmul"] == sum(2 * r * i * c * k for _, r, i, c, k in model.matmul_shapes(7))
    assert sum(one["layers"].values()) == one["matmul"]
    assert sum(p["flops"] for p in one["products"]) == one["matmul"]
    assert two["matmul"] == 2 * one["matmul"]


def test_no_attention_has_no_attention_products():
    config = DRAWConfig(H=5, W=7, T=3, enc_size=6, dec_size=4, z_size=2, attention=False)
    flops = bench.count_step_flops(DRAW(config), 3)
    assert not {"read", "read_attn", "write_attn"} & set(flops["layers"])
    # the write head maps the decoder state to a whole canvas: (n, 4) @ (4, 35), three products
    assert flops["layers"]["write"] == 3 * 3 * 2 * 3 * 4 * 35


class OtherModel:
    """Not a DRAW: bench needs nothing from a model but its matmul_shapes to count and limit."""

    def matmul_shapes(self, n):
        return [("lstm.forward", n, 300, 400, 3), ("lstm.grad_weight", 300, 3 * n, 400, 1),
                ("read.patch", 2, 28, 2, 50)]


def test_matmul_limit_times_every_product_the_model_reports():
    limit = bench.matmul_limit(OtherModel(), 10, "float32", repeats=1)
    assert [row["label"] for row in limit["shapes"]] == ["lstm.forward", "lstm.grad_weight",
                                                         "read.patch"]
    assert [row["small"] for row in limit["shapes"]] == [False, False, True]
    assert limit["matmul_flops"] == bench.count_step_flops(OtherModel(), 10)["matmul"]
    assert limit["small_flops"] == 2 * 2 * 28 * 2 * 50
    assert limit["limit_s"] == pytest.approx(limit["matmul_flops"] / (limit["gflops"] * 1e9))


def test_a_gpu_limit_made_of_launches_is_called_that():
    """On the H200 the paper step's dense products took 15-20 us a call: kernel launches, not
    arithmetic. bench must say the fraction then measures launches; products long enough to
    time the arithmetic get no such warning."""
    from draw_np.bench.machine import gpu_launch_warnings

    def limit(*seconds):
        return {"shapes": [dict(small=False, seconds_per_call=s) for s in seconds]
                + [dict(small=True, seconds_per_call=1e-3)]}

    launched = gpu_launch_warnings(limit(18e-6, 20e-6, 15e-6))
    assert len(launched) == 1 and "launch" in launched[0] and "takes 18 us a call" in launched[0]
    assert gpu_launch_warnings(limit(2e-3, 5e-3, 1e-4)) == []


def test_a_classifier_config_gets_labels():
    class Config:
        image_shape, classes = (3, 5, 7), 10
    images, labels = bench.synthetic_batch(Config(), 40, "float32", backend.Random(0))
    assert images.shape == (40, 3, 5, 7) and set(np.unique(images)) <= {0.0, 1.0}
    assert labels.dtype == np.int64 and labels.min() >= 0 and labels.max() < 10
    assert len(np.unique(labels)) > 1
    (grey,) = bench.synthetic_batch(TINY, 4, "float64", backend.Random(0))
    assert grey.shape == (4, 28, 28) and grey.dtype == np.float64


def test_benchmark_step_tiny(backend):
    r = bench.benchmark_step("tiny", repeats=2, warmup=1)
    step = r["step"]
    assert len(step["samples_s"]) == 2
    assert 0 < step["min_s"] <= step["median_s"] <= step["max_s"]
    assert step["iqr_s"] >= 0
    assert r["forward"]["median_s"] > 0
    assert r["fraction_of_limit"] > 0
    assert r["achieved_gflops"] > 0
    assert r["memory"]["step_peak_bytes"] > 0
    assert r["memory"]["params_and_adam_bytes"] == 3 * r["memory"]["params_bytes"]
    assert r["steps_per_epoch"] == 1000  # 50,000 images in batches of 50
    assert r["backend"] == r["machine"]["backend"]
    kept = r["memory"]["caches"]
    assert 0 < kept["total"] <= r["memory"]["step_peak_bytes"]  # the caches are part of the peak
    assert "kept for the backward pass" in bench.format_report(r)  # the human table renders


def test_cache_breakdown_counts_each_lstm_array_once():
    """Per step the encoder keeps u = [r, h_dec, h_enc] and six (n, size) arrays: the four
    gates, the previous cell and tanh(cell). Shared arrays (h^dec_t) are counted once overall."""
    config = DRAWConfig(H=5, W=4, T=3, enc_size=6, dec_size=5, z_size=2, read_n=2, write_n=2)
    model, n = DRAW(config, dtype="float64"), 7
    x = np.zeros((n, 5, 4))
    kept = bench.cache_breakdown(model, x, model.rng.normal((3, n, 2), "float64"))
    u_enc = config.read_size + config.dec_size + config.enc_size
    assert kept["parts"][ENCODER] == config.T * n * (u_enc + 6 * config.enc_size) * 8
    u_dec = config.z_size + config.dec_size
    assert kept["parts"][DECODER] == config.T * n * (u_dec + 6 * config.dec_size) * 8
    assert kept["parts"][CANVAS] == config.T * n * 5 * 4 * 8
    assert kept["total"] == sum(kept["parts"].values())


@pytest.mark.parametrize("kwargs, message", [
    (dict(repeats=0), "repeats"), (dict(warmup=-1), "warmup"), (dict(batch_size=0), "batch_size"),
    (dict(dtype="float16"), "dtype"), (dict(preset="huge"), "preset"),
    (dict(seed=-1), "seed must be an integer >= 0"), (dict(profile=-3), "profile"),
    (dict(batch_size=50_001), "at most the 50000 images"),
])
def test_bad_arguments_raise_value_error(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.benchmark_step(**{"preset": "tiny", **kwargs})


def _bench_parser():
    parser = argparse.ArgumentParser()
    bench.add_parser(parser.add_subparsers(dest="command"))
    return parser


def test_json_output_parses(capsys):
    args = _bench_parser().parse_args(["bench", "--preset", "tiny", "--repeats", "2",
                                       "--warmup", "1", "--json"])
    assert args.func(args) == 0
    result = json.loads(capsys.readouterr().out)
    for key in ("step", "forward", "flops", "limit", "achieved_gflops", "fraction_of_limit",
                "memory", "epoch_s", "machine"):
        assert key in result
    assert result["preset"] == "tiny" and result["batch_size"] == 50 and result["kind"] == "draw"
    assert result["compare"] is None and result["machine"]["blas_threads"] >= 1


def test_compare_torch_times_both_steps_on_the_blas_threads(capsys):
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    try:
        args = _bench_parser().parse_args(["bench", "--preset", "tiny", "--repeats", "2",
                                           "--warmup", "1", "--compare", "torch", "--json"])
        assert args.func(args) == 0
    finally:
        torch.set_num_threads(threads)
    c = json.loads(capsys.readouterr().out)["compare"]
    assert len(c["draw_np"]["samples_s"]) == len(c["torch"]["samples_s"]) == 2
    assert c["ratio"] == pytest.approx(c["draw_np"]["median_s"] / c["torch"]["median_s"])
    assert c["torch_threads"] == c["blas_threads"] == bench.blas_threads()


def test_compare_without_torch_says_how_to_install_it(capsys, monkeypatch):
    import builtins
    from draw_np import cli
    real_import = builtins.__import__

    def no_torch(name, *args, **kwargs):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("No module named 'torch'")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert cli.main(["bench", "--preset", "tiny", "--compare", "torch"]) == 2
    err = capsys.readouterr().err.strip()
    assert "pip install 'draw_np[compare]'" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("kwargs, message", [
    (dict(dtype="float64"), "float32"), (dict(compare="jax"), "compare must be one of"),
])
def test_a_comparison_that_cannot_run_is_refused_first(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.benchmark_step("tiny", **{"compare": "torch", **kwargs})


def test_cli_bad_repeats_exits_2(capsys):
    from draw_np import cli
    assert cli.main(["bench", "--preset", "tiny", "--repeats", "0"]) == 2
    err = capsys.readouterr().err
    assert "repeats" in err and len(err.strip().splitlines()) == 1


def test_cli_a_batch_beyond_the_memory_is_one_line(capsys, monkeypatch):
    from draw_np import cli
    from draw_np.bench import cli as bench_cli

    def out_of_memory(*args, **kwargs):
        raise MemoryError("Unable to allocate 292. GiB")
    monkeypatch.setattr(bench_cli, "benchmark_step", out_of_memory)
    assert cli.main(["bench", "--preset", "tiny", "--batch-size", "40000"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 40000" in err and "memory" in err and len(err.strip().splitlines()) == 1
