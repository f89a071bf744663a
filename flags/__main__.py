import sys

from flags.cli import main

sys.exit(main())
