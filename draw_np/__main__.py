"""Entry point of ``python -m draw_np``."""
import sys

try:
    from draw_np.cli import main
except KeyboardInterrupt:  # Ctrl-C in the first milliseconds, while Python imports the CLI
    sys.exit(130)

sys.exit(main())
