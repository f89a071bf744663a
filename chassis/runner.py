"""`python -m extracted.<svc> <django command>`: each service's __main__.py calls `main(settings_module)`.

Besides Django's own commands (migrate, runserver, ...), the chassis adds `serve` (gunicorn),
`relay_outbox` and `consume`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(settings_module: str, argv: Sequence[str] | None = None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = settings_module
    from django.core.management import execute_from_command_line

    execute_from_command_line(list(sys.argv if argv is None else argv))
