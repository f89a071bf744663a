"""One module per `manage.py shadow` command: a plain function that does the work and returns a result."""
