"""``python -m dq.synth ARGS`` is ``dq synth ARGS``."""

import sys

from dq.cli import main

sys.exit(main(["synth", *sys.argv[1:]]))
