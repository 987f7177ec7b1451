"""The time-to-quality figure: what it draws from training logs, and its errors."""
import json

import numpy as np
import pytest

from draw_np import cli
from draw_np.plot.quality import ANCHORS, plot_time_to_quality


def write_log(path, bounds, with_cpu=True):
    lines = [dict(kind="step", epoch=1, step=1, loss=300.0, Lx=290.0, Lz=10.0, cpu_s=180.0)]
    for epoch, bound in enumerate(bounds, start=1):
        record = dict(kind="epoch", epoch=epoch, step=10 * epoch, train_loss=bound + 1,
                      valid_bound=bound, valid_Lx=bound - 5, valid_Lz=5.0)
        if with_cpu:
            record["cpu_s"] = 1800.0 * epoch
        lines.append(record)
    path.write_text("".join(json.dumps(r) + "\n" for r in lines))
    return path


def test_each_run_is_a_curve_against_cpu_hours_and_epochs(tmp_path):
    a = write_log(tmp_path / "a.jsonl", [150.0, 120.0, 100.0])
    b = write_log(tmp_path / "b.jsonl", [160.0, 130.0], with_cpu=False)
    fig = plot_time_to_quality({"run a": a, "old run": b})
    by_time, by_epoch = fig.axes
    curves = {line.get_label(): line for line in by_time.get_lines()}
    np.testing.assert_allclose(curves["run a"].get_xdata(), [0.5, 1.0, 1.5])  # CPU hours
    np.testing.assert_allclose(curves["run a"].get_ydata(), [150, 120, 100])
    assert "old run" not in curves  # no CPU times in its log: drawn against epochs only
    by_epoch_curves = {line.get_label(): line for line in by_epoch.get_lines()}
    np.testing.assert_allclose(by_epoch_curves["old run"].get_xdata(), [1, 2])
    anchored = sorted(line.get_ydata()[0] for line in by_epoch.get_lines()
                      if line.get_label().startswith(("paper", "first")))
    assert anchored == sorted(bound for bound, _, _ in ANCHORS)


def test_other_data_sets_have_no_mnist_anchors_and_show_their_own_range(tmp_path, capsys):
    log = write_log(tmp_path / "log.jsonl", [650.0, 450.0, 300.0, 250.0])
    fig = plot_time_to_quality({"two digits": log}, dataset="two-digit")
    by_time, by_epoch = fig.axes
    assert [line.get_label() for line in by_epoch.get_lines()] == ["two digits"]
    low, high = by_time.get_ylim()
    assert low < 250 and 450 < high < 650     # the first epoch's bound is off the scale
    assert "two-digit" in fig.texts[0].get_text()
    with_steps = plot_time_to_quality({"two digits": log}, dataset="two-digit", steps=True)
    by_time, by_epoch = with_steps.axes
    step_line = [line for line in by_time.get_lines() if not line.get_label().startswith("two")]
    np.testing.assert_allclose(step_line[0].get_xydata(), [[0.05, 300.0]])   # 180 CPU-s
    np.testing.assert_allclose(by_epoch.get_lines()[1].get_xydata(), [[0.1, 300.0]])  # step 1 of 10
    out = tmp_path / "quality.png"
    assert cli.main(["plot", "quality", "--log", str(log), "--dataset", "two-digit",
                     "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_quality_command_and_its_errors(tmp_path, capsys):
    log = write_log(tmp_path / "log.jsonl", [140.0, 110.0])
    out = tmp_path / "quality.png"
    assert cli.main(["plot", "quality", "--log", str(log), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert cli.main(["plot", "quality", "--log", str(log), "--log", str(log), "--label", "x",
                     "--out", str(out)]) == 2
    assert "give one --label per --log (2), got 1" in capsys.readouterr().err
    empty = tmp_path / "steps_only.jsonl"
    empty.write_text(json.dumps(dict(kind="step", epoch=1, step=1, loss=1.0, Lx=1.0, Lz=0.0))
                     + "\n")
    assert cli.main(["plot", "quality", "--log", str(empty), "--out", str(out)]) == 2
    assert "has no epoch records yet" in capsys.readouterr().err


def test_no_logs_is_an_error():
    with pytest.raises(ValueError, match="name at least one training log"):
        plot_time_to_quality({})
