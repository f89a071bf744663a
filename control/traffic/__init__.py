"""Traffic record and replay (`manage.py traffic record|replay`): a route's real traffic, recorded by the
gateway (strangler_proxy/recorder.py) into mitmproxy's flow format, replayed against a candidate upstream
and, with --compare, judged by the shadow comparator into the same report as live shadow mode."""
