"""The human-readable table of a benchmark result."""
from __future__ import annotations


def format_seconds(s: float) -> str:
    if s >= 100:
        return f"{s / 60:.1f} min"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.0f} us"


def format_bytes(b: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(b) < 1024 or unit == "GiB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024


def format_report(r: dict) -> str:
    """The human-readable table of a :func:`benchmark_step` result."""
    m, f, lim, step = r["machine"], r["flops"], r["limit"], r["step"]
    G = 1e9
    model = ", ".join(f"{k}={v}" for k, v in r["config"].items())
    where = m["cpu"] + f", {m.get('usable_cores', m['cores'])} cores"
    if "gpu" in m:
        where = f"{m['gpu'].get('name', 'GPU')} (CuPy {m['gpu'].get('cupy')}); host " + where
    lines = [
        f"draw_np bench: preset {r['preset']} ({r['kind']}: {model}), batch {r['batch_size']}, "
        f"{r['dtype']}, {r['backend']} backend",
        f"machine: {where}, load average {m.get('load_1min_before', '?')} before, "
        f"{m.get('load_1min', '?')} after",
        f"software: Python {m['python']}, NumPy {m['numpy']}, BLAS {m['blas']}, "
        f"{m['blas_threads']} BLAS thread(s)"
        + "".join(f", {k}={v}" for k, v in m.get("thread_env", {}).items()),
        "",
        f"training step (loss_and_grads + clip + Adam), {r['repeats']} steps after "
        f"{r['warmup']} warm-up:",
        f"  median {format_seconds(step['median_s'])}   min {format_seconds(step['min_s'])}   "
        f"max {format_seconds(step['max_s'])}   IQR {format_seconds(step['iqr_s'])}",
    ]
    if r["forward"]:
        lines.append(f"  forward pass alone (loss_terms): median "
                     f"{format_seconds(r['forward']['median_s'])}"
                     f"  ({r['forward']['median_s'] / step['median_s']:.0%} of a step)")
    lines += [
        f"  one epoch ({r['steps_per_epoch']} steps of {r['batch_size']}): "
        f"{format_seconds(r['epoch_s'])}",
    ]
    c = r.get("compare")
    if c:
        lines += [
            "",
            f"against PyTorch {c['torch_version']} (eager autograd, draw_np/torch_reference.py), "
            f"{len(c['torch']['samples_s'])} steps each, alternating; torch threads "
            f"{c['torch_threads']}, BLAS threads {c['blas_threads']}:",
            f"  draw_np median {format_seconds(c['draw_np']['median_s'])}   torch median "
            f"{format_seconds(c['torch']['median_s'])}   ratio {c['ratio']:.2f}",
        ]
    lines += ["", "floating-point work in the matrix products of one step (forward + backward), "
                  "as the model reports them:"]
    for layer, flops in f["layers"].items():
        lines.append(f"  {layer:<16} {flops / G:8.3f} GFLOP  {flops / f['matmul']:6.1%}")
    lines.append(f"  {'all':<16} {f['matmul'] / G:8.3f} GFLOP")
    lines += [
        "",
        f"matrix-multiply throughput on the step's shapes ({lim['dtype']}, median of "
        f"{lim['repeats']}):",
        f"  {'product':<26}{'shape':<30}{'calls':>6}{'per call':>11}{'GFLOP/s':>9}",
    ]
    for row in lim["shapes"]:
        if not row["small"]:
            lines.append(f"  {row['label']:<26}{row['shape']:<30}{row['calls']:>6}"
                         f"{format_seconds(row['seconds_per_call']):>11}{row['gflops']:>9.1f}")
    lines.append(f"  weighted throughput {lim['gflops']:.1f} GFLOP/s -> limit "
                 f"{format_seconds(lim['limit_s'])} per step for {lim['matmul_flops'] / G:.2f} "
                 f"GFLOP")
    if lim["small_s"]:
        lines.append(f"  small products ({lim['small_flops'] / G:.3f} GFLOP, timed as stacks): "
                     f"{format_seconds(lim['small_s'])} per step, "
                     f"{lim['small_gflops']:.1f} GFLOP/s")
    lines += [
        "",
        f"achieved: {r['achieved_gflops']:.1f} GFLOP/s = {r['fraction_of_limit']:.1%} of the limit "
        f"(a step takes {1 / r['fraction_of_limit']:.1f}x the limit)",
        "",
        "memory:",
        f"  peak of one step      {format_bytes(r['memory']['step_peak_bytes'])}  "
        f"({r['memory']['method']})",
        f"  parameters + Adam     {format_bytes(r['memory']['params_and_adam_bytes'])}  "
        f"(parameters alone {format_bytes(r['memory']['params_bytes'])})",
    ]
    kept = r["memory"].get("caches")
    if kept:
        lines.append(f"  kept for the backward pass, all {r['config']['T']} steps: "
                     f"{format_bytes(kept['total'])} ({format_bytes(kept['per_step'])} a step)")
        for label, nbytes in kept["parts"].items():
            lines.append(f"    {format_bytes(nbytes):>10}  {label}")
    faults = r["memory"].get("page_faults_per_step")
    if faults is not None:
        kept = "kept for reuse" if r["memory"]["freed_memory_kept"] else "returned to the OS"
        lines.append(f"  page faults per step  {faults:,.0f}  (freed memory {kept}: "
                     f"draw_np/memory.py)")
    if r.get("profile"):
        lines += ["", "profile of one step (cProfile, by own time):",
                  f"  {'own time':>9} {'share':>6} {'calls':>7}  function"]
        for row in r["profile"]:
            lines.append(f"  {format_seconds(row['tottime_s']):>9} {row['share']:>6.1%} "
                         f"{row['calls']:>7}  {row['function']}")
    for w in r["warnings"]:
        lines += ["", f"warning: {w}"]
    return "\n".join(lines)
