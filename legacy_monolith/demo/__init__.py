"""The scripted TechStore demo: real processes, a real shopping journey over HTTP."""
