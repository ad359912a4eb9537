"""NEWSDESK_NER picks the entity extractor used by the pipeline's extraction."""

from __future__ import annotations

import pytest

from extractors import extract_article
from extractors.entities import get_extractor
from newsdesk.errors import ConfigError, NotAnArticle
from newsdesk.settings import Settings

PAGE = """<html lang="en"><head><title>Port deal</title></head><body><article>
<h1>Port deal agreed</h1>
<p>Prime Minister Shinzo Abe met union leaders in Yokohama on Monday to discuss the deal.</p>
<p>“We will protect every job,” Abe said after the meeting with the union.</p>
<p>The agreement covers about 1,400 dockworkers at three terminals in the port city, and it
ties the pace at which automated cranes are introduced to retraining guarantees that the
operators will pay for over the next three years.</p>
<p>Union officials said the deal was the first of its kind in the country and that other ports
were watching closely, since similar automation plans are being drawn up in Kobe and Nagoya.</p>
</article></body></html>"""


def test_default_is_the_rule_extractor() -> None:
    assert Settings().ner == "rules"
    fields = extract_article(PAGE, "https://news.example/port")
    assert "Shinzo Abe" in {e.name for e in fields.entities if e.kind == "person"}


def test_unknown_extractor_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown entity extractor"):
        get_extractor("nonsense")


def test_a_missing_spacy_model_costs_the_entities_not_the_article() -> None:
    try:
        fields = extract_article(PAGE, "https://news.example/port", ner="spacy:no_such_model")
    except NotAnArticle:  # pragma: no cover - the article itself must survive
        pytest.fail("a bad NER setting must not lose the article")
    assert fields.entities == []
    assert fields.provenance["entities"].startswith("failed")
