"""Every template renders in every locale with sample data; HTML is autoescaped, subjects are one line."""

from __future__ import annotations

import pytest

from contracts.notifications import LOCALES
from extracted.notification_service.catalog import RULES, SAMPLES
from extracted.notification_service.rendering import render

TEMPLATES = sorted({rule.template for rule in RULES.values()})


def test_every_rule_has_sample_data():
    assert set(TEMPLATES) == set(SAMPLES)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_in_every_locale(name, locale):
    rendered = render(name, locale, SAMPLES[name], shop_url="https://shop.example")
    assert rendered.subject
    assert "\n" not in rendered.subject
    assert rendered.text
    assert "{{" not in rendered.text
    assert "{%" not in rendered.text
    assert f'lang="{locale}"' in rendered.html
    assert "https://shop.example" in rendered.html
    assert "{{" not in rendered.html


def test_html_is_autoescaped_and_text_is_not():
    rendered = render("order_confirmed", "en", SAMPLES["order_confirmed"])
    assert "Ana &lt;b&gt;" in rendered.html
    assert "Mouse &amp; Pad" in rendered.html
    assert "<b>" not in rendered.html
    assert rendered.text.startswith("Hi Ana <b>,")


def test_the_locales_differ():
    en = render("password_reset", "en", SAMPLES["password_reset"])
    pt = render("password_reset", "pt-BR", SAMPLES["password_reset"])
    assert en.subject == "Reset your TechStore password"
    assert pt.subject == "Redefina sua senha da TechStore"
    assert "https://techstore.example/reset?t=abc&amp;u=1" in pt.html  # escaped inside the attribute
