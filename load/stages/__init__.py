"""One locustfile per stage of the migration; `python -m load --stage N` runs stages/stageN_*.py."""
