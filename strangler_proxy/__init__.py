"""The strangler gateway: mitmproxy addons (tracing, edge identity, routing, ...) and the route table."""
