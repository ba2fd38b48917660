"""``python -m gradcam_core``: the command line (see :mod:`gradcam_core.cli`)."""
import sys

from gradcam_core.cli import main

if __name__ == "__main__":
    sys.exit(main())
