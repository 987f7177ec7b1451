"""Where the loaders' progress messages go: a ``Log`` callable, by default one line on stderr."""
from __future__ import annotations

import sys
from typing import Callable

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
