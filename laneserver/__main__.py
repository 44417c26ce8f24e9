import sys

from laneserver.cli import main

sys.exit(main())
