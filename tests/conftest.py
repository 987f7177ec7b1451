"""Shared fixtures: one suite, run on every backend this machine has.

The ``backend`` fixture runs a test under NumPy and, where a GPU answers, under CuPy; without a
GPU the CuPy run is skipped with the reason. Hypothesis runs derandomised under CI so a red CI
can be reproduced exactly.
"""
import os

import pytest
from hypothesis import HealthCheck, settings

from draw_np import backend as B

settings.register_profile("dev", deadline=None, max_examples=25,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("ci", parent=settings.get_profile("dev"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(params=B.BACKENDS)
def backend(request):
    """Switch to the named backend for the test, and back to NumPy after it."""
    if request.param == "cupy" and not B.gpu_available():
        pytest.skip("cupy backend needs CuPy and a GPU")
    xp = B.set_backend(request.param)
    yield xp
    B.set_backend("numpy")
