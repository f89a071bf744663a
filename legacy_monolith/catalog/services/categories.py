"""Category writes."""

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from legacy_monolith.core.errors import ApplicationError, ConflictError

from ..models import Category


@transaction.atomic
def category_create(*, name: str, slug: str = "", parent_id: int | None = None) -> Category:
    """Create a category; the slug (default: slugified name) is unique, so a replay answers 409."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise ApplicationError(
            "invalid_name", "A category name is 1 to 120 characters", extra={"field": "name"}
        )
    slug = slug or slugify(name)[:140]
    if not slug or len(slug) > 140 or slug != slugify(slug):
        raise ApplicationError(
            "invalid_slug",
            "A slug is 1 to 140 lowercase letters, digits and hyphens",
            extra={"field": "slug"},
        )
    parent = None
    if parent_id is not None:
        parent = Category.objects.filter(pk=parent_id).first()
        if parent is None:
            raise ApplicationError(
                "category_not_found", f"Parent category {parent_id} does not exist", extra={"id": parent_id}
            )
    if Category.objects.filter(slug=slug).exists():
        raise ConflictError("category_exists", f"A category with slug {slug!r} exists", extra={"slug": slug})
    try:
        with transaction.atomic():
            return Category.objects.create(name=name, slug=slug, parent=parent)
    except IntegrityError as exc:  # a concurrent create won the race for the slug
        raise ConflictError(
            "category_exists", f"A category with slug {slug!r} exists", extra={"slug": slug}
        ) from exc
