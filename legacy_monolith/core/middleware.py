"""Request id propagation, a body-size guard and HEAD bodies; one copy, in chassis.middleware."""

from chassis.middleware import BodySizeLimitMiddleware, HeadResponseMiddleware, RequestIdMiddleware

__all__ = ["BodySizeLimitMiddleware", "HeadResponseMiddleware", "RequestIdMiddleware"]
