#!/usr/bin/env python
"""The TechStore monolith's manage.py; the toolkit's commands are installed here too."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "legacy_monolith.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
