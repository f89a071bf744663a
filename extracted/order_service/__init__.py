"""The Order service: cart, shipping quotes, coupons, checkout as an orchestrated saga, order history and
cancellation, extracted from the monolith (its /api/v1 contract reproduced, /api/v2 asynchronous). Run it
with `python -m extracted.order_service <command>`."""
