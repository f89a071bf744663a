"""`python -m strangler_proxy`: the fast gateway runner (see strangler_proxy/server/)."""

import sys

from strangler_proxy.server import main

if __name__ == "__main__":
    sys.exit(main())
