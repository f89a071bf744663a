"""The registry's components, one module each (or a small group): deploy/topology.py lists them."""
