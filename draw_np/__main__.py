"""Entry point of ``python -m draw_np``."""
import sys

from draw_np.cli import main

sys.exit(main())
