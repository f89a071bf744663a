"""Request id propagation, a body-size guard and HEAD bodies; one copy, in extracted.common.middleware."""

from extracted.common.middleware import BodySizeLimitMiddleware, HeadResponseMiddleware, RequestIdMiddleware

__all__ = ["BodySizeLimitMiddleware", "HeadResponseMiddleware", "RequestIdMiddleware"]
