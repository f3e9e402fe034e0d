"""The 8 sample articles against their expected parse, and the reference seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from feeds import config
from feeds.errors import ArticleError
from feeds.model import Article, BulletList, Heading, NumberedList, Paragraph
from feeds.sources.article import Rules, parse

ROOT = Path(__file__).parent.parent
SAMPLES = Path(__file__).parent / "fixtures" / "samples"
SHARED = Path(__file__).resolve().parents[2] / "shared"
EXPECTED: dict[str, dict[str, Any]] = json.loads(
    (SAMPLES / "expected.json").read_text(encoding="utf-8")
)
SEED = ROOT / "seeds" / "000_4cab66b14d71472d.txt"

# Every field of expected.json this test compares; a new field must be compared too.
COMPARED = {
    "ok", "section", "section_slug", "title", "lang", "dateline_city", "dateline_outlet",
    "attribution", "headings", "paragraphs", "bullets", "numbered", "draft", "tags",
    "contains_text", "id_from",
}


def texts(article: Article) -> list[str]:
    """Every piece of text of the body: paragraphs, headings, list items (with labels)."""
    found: list[str] = []
    for block in article.blocks:
        if isinstance(block, Paragraph | Heading):
            found.append(block.text)
        else:
            for item in block.items:
                found.append(item.text)
                if item.label is not None:
                    found.append(f"{item.label}: {item.text}")
    return found


def count_items(article: Article, kind: type[BulletList | NumberedList]) -> int:
    return sum(len(b.items) for b in article.blocks if isinstance(b, kind))


def test_every_sample_has_an_expectation() -> None:
    assert sorted(p.name for p in SAMPLES.glob("*.txt")) == sorted(EXPECTED)
    assert len(EXPECTED) == 8


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample(rules: Rules, name: str) -> None:
    expected = EXPECTED[name]
    assert set(expected) <= COMPARED, f"expected.json has fields this test ignores: {name}"
    data = (SAMPLES / name).read_bytes()
    if not expected["ok"]:
        with pytest.raises(ArticleError):
            parse(name, data, rules)
        return
    article, diagnostics = parse(name, data, rules)
    assert diagnostics == []

    assert article.section.name == expected["section"]
    assert article.section.slug == expected["section_slug"]
    assert article.title == expected["title"]
    assert article.lang == expected["lang"]
    if expected["dateline_city"] is None and expected["dateline_outlet"] is None:
        assert article.dateline is None
    else:
        assert article.dateline is not None
        assert article.dateline.city == expected["dateline_city"]
        assert article.dateline.outlet == expected["dateline_outlet"]
    if expected["attribution"] is None:
        assert article.attribution is None
    else:
        assert article.attribution is not None
        assert article.attribution.name == expected["attribution"]
    assert [b.text for b in article.blocks if isinstance(b, Heading)] == expected["headings"]
    assert sum(isinstance(b, Paragraph) for b in article.blocks) == expected["paragraphs"]
    assert count_items(article, BulletList) == expected["bullets"]
    assert count_items(article, NumberedList) == expected["numbered"]
    assert article.draft is expected["draft"]
    assert [t.name for t in article.tags] == expected["tags"]
    body = texts(article)
    for snippet in expected["contains_text"]:
        assert any(snippet in text for text in body), snippet
    if expected["id_from"] == "filename":
        assert article.key == Path(name).stem
        assert article.key_from_header is False
    else:
        assert article.key == expected["id_from"]


@pytest.mark.shared
def test_fixture_samples_match_shared() -> None:
    shared = SHARED / "samples"
    if not shared.is_dir():
        pytest.skip(f"{shared} is absent")
    ours = sorted(p.name for p in SAMPLES.iterdir() if p.is_file())
    theirs = sorted(p.name for p in shared.iterdir() if p.is_file())
    assert ours == theirs
    for name in theirs:
        assert (SAMPLES / name).read_bytes() == (shared / name).read_bytes(), name


def test_reference_seed(rules: Rules) -> None:
    cfg, _ = config.load(ROOT / "config" / "feeds.toml")
    detik = next(o for o in cfg.outlets if o.name == "detik.com")
    article, diagnostics = parse(SEED.name, SEED.read_bytes(), rules)
    assert diagnostics == []

    assert (article.section.slug, article.section.name) == ("international", "International")
    assert article.title == (
        "Sinyal Rekonsiliasi: Presiden Interim Venezuela Buka Pintu Kerja Sama Bilateral "
        "dengan Amerika Serikat"
    )
    assert article.key == "000_4cab66b14d71472d"
    assert article.dateline is not None
    assert (article.dateline.city, article.dateline.outlet) == ("Semarang", "usmnews")
    assert article.attribution is not None
    assert article.attribution.name == "detik.com"
    assert article.attribution.url == "https://www.detik.com/" == detik.url
    assert [b.text for b in article.blocks if isinstance(b, Heading)] == [
        "Penurunan Tensi dan Diplomasi Baru",
        "Motivasi di Balik Langkah Pragmatis",
        "Harapan bagi Kawasan Amerika Latin",
    ]
    lists = [b for b in article.blocks if isinstance(b, BulletList | NumberedList)]
    assert len(lists) == 1
    assert isinstance(lists[0], BulletList)
    assert [item.label for item in lists[0].items] == [
        "Restorasi Hubungan Diplomatik",
        "Revitalisasi Sektor Energi",
        "Bantuan Kemanusiaan dan Pembangunan",
    ]
    assert article.lead is not None
    assert article.lead.startswith("Semarang (usmnews) – Dikutip dari detik.com, ")
