"""The editor's experience, as an editor runs it: the per-article report, `feeds status`,
`-q`, `feeds preview`, held articles on /healthz, and what `feeds pull` says.

The folder of `editors_project` is the acceptance of the editor's build: three good articles,
a draft, an embargoed one, the three draft typos and synonyms, a section typo, and the names
that must *not* count as typos.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import feedparser
import httpx
import pytest

from tests.helpers import free_port, snapshot
from tests.httpserver import FeedServer, Reply

FEEDS = Path(sys.executable).parent / "feeds"
SEEDS = {
    "satu.txt": "Kampus\nWisuda Ratusan Lulusan\nUniversitas menggelar wisuda pada Sabtu pagi.\n",
    "dua.txt": "Ekonomi\nHarga Beras Turun\nHarga beras di pasar Semarang turun pekan ini.\n",
    "tiga.txt": "---\nby: Budi\n---\nOlahraga\nTim Futsal Juara\nTim futsal menjuarai liga.\n",
    "draf.txt": "---\ndraft: true\n---\nKampus\nRencana Seminar\nSeminar akan digelar.\n",
    "nanti.txt": "---\ndate: 2027-02-01 08:00\n---\nKampus\nPengumuman Beasiswa\nDibuka.\n",
    "drfat.txt": "---\ndrfat: true\n---\nKampus\nDraf Salah Ketik\nIsi draf.\n",
    "huruf.txt": "---\nDraft: True\n---\nKampus\nDraf Huruf Besar\nIsi draf.\n",
    "jekyll.txt": "---\npublished: false\n---\nKampus\nDraf Jekyll\nIsi draf.\n",
    "olahrgaa.txt": "Olahrgaa\nSalah Ketik Rubrik\nIsi berita.\n",
    "esports.txt": "Esports\nTurnamen Esports Kampus\nIsi berita.\n",
    "nasional2.txt": "Nasional2\nRubrik Nasional Dua\nIsi berita.\n",
    "seru.txt": "Nasional!\nBerita Nasional Seru\nIsi berita.\n",
}
NOW = "1796083200"  # 2026-12-01 00:00 UTC: nanti.txt (2027-02-01) is in the future
EXPECTED = {
    "satu.txt": "published", "dua.txt": "published", "tiga.txt": "published",
    "esports.txt": "published", "nasional2.txt": "published", "seru.txt": "published",
    "draf.txt": "draft", "huruf.txt": "draft", "jekyll.txt": "draft",
    "nanti.txt": "held", "drfat.txt": "error", "olahrgaa.txt": "error",
}


def run(project: Path, *args: str, clock: str | None = NOW
        ) -> subprocess.CompletedProcess[str]:
    """`feeds ARGS` at the fixed clock (None: the wall clock)."""
    env = {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}
    if clock is not None:
        env["SOURCE_DATE_EPOCH"] = clock
    return subprocess.run([str(FEEDS), *args], cwd=project, capture_output=True, text=True,
                          timeout=120, check=False, env=env)


@pytest.fixture
def editors_project(project: Path) -> Path:
    folder = project / "seeds"
    for old in folder.iterdir():
        old.unlink()
    for name, text in SEEDS.items():
        (folder / name).write_text(text, encoding="utf-8")
    return project


def test_the_editors_build(editors_project: Path) -> None:
    result = run(editors_project, "build")
    print(result.stdout, result.stderr, sep="\n")  # pasted in the closing note of issue 14
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    report = {line.split("  ")[1]: line.split("  ")[0] for line in lines if "  seeds/" in line}
    assert report == {
        "seeds/satu.txt": "published", "seeds/dua.txt": "published",
        "seeds/tiga.txt": "published", "seeds/esports.txt": "published",
        "seeds/nasional2.txt": "published", "seeds/seru.txt": "published",
        "seeds/draf.txt": "draft", "seeds/huruf.txt": "draft", "seeds/jekyll.txt": "draft",
        "seeds/nanti.txt": "held until 2027-02-01 08:00 WIB",
        "seeds/drfat.txt": "error (nothing published)",
        "seeds/olahrgaa.txt": "error (nothing published)",
    }
    assert 'published  seeds/satu.txt  "Wisuda Ratusan Lulusan"' in lines
    assert "articles: 6 published, 1 held until later, 3 drafts, 2 errors" in lines
    assert "the next held article goes out at 2027-02-01 08:00 WIB" in lines
    assert lines[-1].endswith("`feeds serve`, then open http://127.0.0.1:8080/")
    # Diagnostics stay on stderr, and the typos are held with "did you mean".
    assert "seeds/" not in result.stdout.replace("  seeds/", "")
    assert ("error: seeds/drfat.txt: header line 2: unknown key 'drfat': did you mean "
            "'draft'?") in result.stderr
    assert ("error: seeds/olahrgaa.txt: line 1: unknown section 'Olahrgaa': did you mean "
            "'Olahraga'?") in result.stderr
    assert "warning: seeds/tiga.txt: unknown header key 'by' (ignored)" in result.stderr
    output = editors_project / "output"
    assert not list(output.rglob("*olahrgaa*"))
    assert (output / "esports" / "rss.xml").is_file()
    assert (output / "nasional2" / "rss.xml").is_file()
    nasional = feedparser.parse((output / "nasional" / "atom.xml").read_bytes())
    assert [e.title for e in nasional.entries] == ["Berita Nasional Seru"]
    everything = feedparser.parse((output / "atom.xml").read_bytes())
    assert sorted(e.title for e in everything.entries) == sorted([
        "Wisuda Ratusan Lulusan", "Harga Beras Turun", "Tim Futsal Juara",
        "Turnamen Esports Kampus", "Rubrik Nasional Dua", "Berita Nasional Seru"])


def test_status_json_lists_every_file_and_writes_nothing(editors_project: Path) -> None:
    run(editors_project, "build")
    before = snapshot(editors_project)
    result = run(editors_project, "status", "--json")
    assert snapshot(editors_project) == before
    assert result.returncode == 1  # two articles are in error
    states = json.loads(result.stdout)
    assert [s["path"] for s in states] == sorted(f"seeds/{name}" for name in SEEDS)
    for state in states:
        assert set(state) == {"path", "id", "status", "section", "title", "published",
                              "updated", "held_until", "message"}
    by_path = {s["path"].removeprefix("seeds/"): s for s in states}
    assert {name: s["status"] for name, s in by_path.items()} == EXPECTED
    assert by_path["nanti.txt"]["held_until"] == "2027-02-01T01:00:00+00:00"
    assert by_path["seru.txt"]["section"] == "Nasional"
    assert by_path["satu.txt"]["id"] == "tag:usmnews.example,2026:satu"
    assert "did you mean 'Olahraga'?" in by_path["olahrgaa.txt"]["message"]
    text = run(editors_project, "status")
    assert "held until 2027-02-01 08:00 WIB  seeds/nanti.txt" in text.stdout
    assert "12 article(s): 3 draft, 2 error, 1 held, 6 published" in text.stdout


def test_status_never_makes_or_migrates_a_state(project: Path) -> None:
    result = run(project, "status")
    assert result.returncode == 0, result.stderr
    assert "none yet" in result.stdout
    assert not (project / "state").exists() and not (project / "output").exists()


def test_quiet_build_says_only_news(editors_project: Path) -> None:
    run(editors_project, "build")
    second = run(editors_project, "build", "-q")
    assert (second.stdout, second.stderr) == ("", "")
    # A broken file edited again is news; the one left alone is not repeated.
    (editors_project / "seeds" / "olahrgaa.txt").write_text(
        "Olahrgaa\nSalah Ketik Rubrik Lagi\nIsi.\n", encoding="utf-8")
    third = run(editors_project, "build", "-q")
    assert third.stdout == ""
    assert third.stderr.count("\n") == 1 and "seeds/olahrgaa.txt" in third.stderr
    quiet_check = run(editors_project, "check", "-q")
    assert (quiet_check.stdout, quiet_check.stderr) == ("", "")


def test_check_lists_drafts_held_and_errors(editors_project: Path) -> None:
    before = snapshot(editors_project)
    result = run(editors_project, "check")
    assert snapshot(editors_project) == before
    assert result.returncode == 1
    assert "draft  seeds/jekyll.txt  \"Draf Jekyll\"" in result.stdout
    assert "held until 2027-02-01 08:00 WIB  seeds/nanti.txt" in result.stdout
    assert "error (nothing published)  seeds/olahrgaa.txt" in result.stdout
    assert "12 article(s) checked: 6 published, 1 held until later, 3 draft(s); 2 error(s)." \
        in result.stdout


def test_report_says_updated_removed_and_kept(editors_project: Path) -> None:
    run(editors_project, "build")
    seeds = editors_project / "seeds"
    seeds.joinpath("satu.txt").write_text(SEEDS["satu.txt"] + "Paragraf tambahan.\n",
                                          encoding="utf-8")
    seeds.joinpath("dua.txt").unlink()
    seeds.joinpath("tiga.txt").write_text("Olahrgaa\nTim Futsal Juara\nIsi.\n", encoding="utf-8")
    seeds.joinpath("draf.txt").write_text(SEEDS["draf.txt"].replace("true", "false"),
                                          encoding="utf-8")
    result = run(editors_project, "build")
    lines = result.stdout.splitlines()
    assert 'updated  seeds/satu.txt  "Wisuda Ratusan Lulusan"' in lines
    assert "removed  seeds/dua.txt" in lines
    assert 'published  seeds/draf.txt  "Rencana Seminar"' in lines
    assert "error (previous version stays online)  seeds/tiga.txt" in lines
    assert "the published version stays online until then" in result.stderr
    assert "articles: 1 published, 1 updated, 1 errors, 1 removed" in lines
    # The last good version of tiga.txt is still served.
    olahraga = feedparser.parse((editors_project / "output" / "olahraga" / "atom.xml")
                                .read_bytes())
    assert [e.title for e in olahraga.entries] == ["Tim Futsal Juara"]


def test_report_stops_at_fifty_lines(project: Path) -> None:
    for i in range(60):
        (project / "seeds" / f"massal-{i:02}.txt").write_text(
            f"Kampus\nBerita Massal {i}\nIsi {i}.\n", encoding="utf-8")
    result = run(project, "build")
    lines = result.stdout.splitlines()
    assert sum(1 for line in lines if "  seeds/" in line) == 50
    assert "… and 11 more: `feeds status` lists every article" in lines  # 60 + the seed
    assert "articles: 61 published" in lines


def test_preview_of_a_draft_opens_as_a_file_and_touches_nothing(
    editors_project: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run(editors_project, "build")
    before = snapshot(editors_project)
    out = tmp_path_factory.mktemp("preview")
    result = run(editors_project, "preview", "seeds/draf.txt", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert snapshot(editors_project) == before
    assert 'draft  seeds/draf.txt  "Rencana Seminar"' in result.stdout
    page = (out / "index.html").read_text(encoding="utf-8")
    assert f"preview: {(out / 'index.html').as_uri()}" in result.stdout
    assert "<style>" in page and "Seminar akan digelar." in page
    links = re.findall(r'(?:href|src)="([^"]*)"', page)
    assert links and all(link.startswith("https://usmnews.example/") for link in links)
    held = run(editors_project, "preview", "seeds/nanti.txt")
    assert held.returncode == 0
    assert "held until 2027-02-01 08:00 WIB" in held.stdout
    folder = Path(held.stdout.split("preview: file://")[1].strip()).parent
    assert not folder.is_relative_to(editors_project) and (folder / "index.html").is_file()
    broken = run(editors_project, "preview", "seeds/olahrgaa.txt")
    assert broken.returncode == 1 and "did you mean 'Olahraga'?" in broken.stderr
    assert snapshot(editors_project) == before


def test_healthz_lists_held_articles_without_503(editors_project: Path) -> None:
    run(editors_project, "build", clock=None)  # the server's clock: now
    port = free_port()
    server = subprocess.Popen([str(FEEDS), "serve", "--bind", f"127.0.0.1:{port}"],
                              cwd=editors_project, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        from tests.test_daemon import wait_for

        def answered() -> bool:
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            except httpx.HTTPError:
                return False
            return True

        wait_for(answered, 20, "the server")
        reply = httpx.get(f"http://127.0.0.1:{port}/healthz")
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert reply.status_code == 200, reply.text
    held = {item["path"]: item for item in reply.json()["held"]}
    assert set(held) == {"seeds/nanti.txt", "seeds/drfat.txt", "seeds/olahrgaa.txt"}
    assert held["seeds/nanti.txt"]["held_until"] == "2027-02-01T01:00:00+00:00"
    assert "did you mean" in held["seeds/olahrgaa.txt"]["message"]


RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Antara</title>
<link>https://www.antaranews.com/</link><description>x</description>
<item><title>Berita Hulu</title><link>https://www.antaranews.com/berita/1</link>
<guid>a1</guid><pubDate>Mon, 30 Nov 2026 10:00:00 +0000</pubDate>
<description>Isi berita hulu.</description></item></channel></rss>"""


def test_pull_says_when_the_next_source_is_due_and_when_entries_go_out(project: Path) -> None:
    with FeedServer() as upstream:
        upstream.routes["/feed"] = lambda seen: Reply(200, RSS)
        toml = project / "config" / "feeds.toml"
        toml.write_text(toml.read_text(encoding="utf-8") + (
            f'\n[[upstream]]\nname = "antara"\noutlet = "Antara"\nurl = "{upstream.url("/feed")}"'
            '\nsection = "Nasional"\nevery = "2h"\n'), encoding="utf-8")
        text = toml.read_text(encoding="utf-8")
        toml.write_text(text.replace("allow_private_networks = false",
                                     "allow_private_networks = true"), encoding="utf-8")
        first = run(project, "pull")
        assert first.returncode == 0, first.stderr
        assert "1 new entries" in first.stdout
        assert "published by the next build" in first.stdout
        second = run(project, "pull")
        assert second.returncode == 0
        assert re.search(r"no source is due: the next is 'antara', at 2026-12-01 09:\d\d WIB; "
                         r"`feeds pull --all` pulls every source now", second.stdout), \
            second.stdout
        quiet = run(project, "pull", "-q")
        assert (quiet.stdout, quiet.stderr) == ("", "")
