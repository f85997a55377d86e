import sys

from dq.synth.cli import main

sys.exit(main())
