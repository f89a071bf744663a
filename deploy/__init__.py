"""Production shape: the registry of every process (topology.py) and what is generated from it
(docker-compose.yml, the kustomize base, Prometheus and Grafana provisioning), plus the jobs the images run
(bootstrap, backup, probe). Run `python -m deploy --help`."""

# How tests/test_commands_convention.py drives `python -m deploy` into each failure (CONVENTIONS.md).
CLI_EXAMPLES = {"bad_argument": ["--no-such-option"]}
