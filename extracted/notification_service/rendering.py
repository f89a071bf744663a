"""Templates per event type and locale, rendered with Django's template engine.

HTML bodies are rendered with autoescaping (a name such as `<b>` reaches the mail as `&lt;b&gt;`); the
subject and the text part (also the push and SMS text) are plain text, rendered without it, and a subject
is one line. Templates live in templates/notifications/<locale>/<name>.{subject.txt,txt,html}.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from django.template import Context, Engine

TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def _engine(autoescape: bool) -> Engine:
    return Engine(dirs=[str(TEMPLATES)], autoescape=autoescape, debug=False, string_if_invalid="")


def render(name: str, locale: str, context: dict[str, Any], *, shop_url: str = "") -> Rendered:
    base = f"notifications/{locale}/{name}"
    values = {**context, "locale": locale, "shop_url": shop_url}
    subject = _engine(False).get_template(f"{base}.subject.txt").render(Context(values, autoescape=False))
    subject = " ".join(subject.split())[:200]
    text = _engine(False).get_template(f"{base}.txt").render(Context(values, autoescape=False)).strip()
    html = _engine(True).get_template(f"{base}.html").render(Context({**values, "subject": subject}))
    return Rendered(subject=subject, text=text, html=html)
