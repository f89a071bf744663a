"""Extracted services (one package each) and their shared chassis in `chassis`."""
