"""Catalog HTTP API (/api/v1/catalog): DRF views plus their input/output serializers."""
