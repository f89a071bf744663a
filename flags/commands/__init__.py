"""One module per `flags` command: a plain function that does the work and returns a result object.
The parsers (flags/cli.py, and the Django command over it) only call these and render what they return."""
