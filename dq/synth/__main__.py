import sys

from dq.cli.synth import main

sys.exit(main())
