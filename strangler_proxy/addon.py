"""The gateway's one composition point: `mitmdump --mode reverse:<monolith> -s strangler_proxy/addon.py`."""

import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("strangler_proxy") is None:  # loaded by path as a mitmproxy script
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

addons: list = []
