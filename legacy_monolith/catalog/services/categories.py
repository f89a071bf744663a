"""Category writes."""

from django.db import IntegrityError, transaction

from chassis import catalog_rules as rules

from ..models import Category


@transaction.atomic
def category_create(*, name: str, slug: str = "", parent_id: int | None = None) -> Category:
    """Create a category; the slug (default: slugified name) is unique, so a replay answers 409."""
    name, slug = rules.clean_category(name, slug)
    parent = None
    if parent_id is not None:
        parent = Category.objects.filter(pk=parent_id).first()
        if parent is None:
            raise rules.category_not_found(parent_id, parent=True)
    if Category.objects.filter(slug=slug).exists():
        raise rules.category_exists(slug)
    try:
        with transaction.atomic():
            return Category.objects.create(name=name, slug=slug, parent=parent)
    except IntegrityError as exc:  # a concurrent create won the race for the slug
        raise rules.category_exists(slug) from exc
