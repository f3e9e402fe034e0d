"""The `feeds` command as an operator runs it: real processes, exit codes, stderr diagnostics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

FEEDS = Path(sys.executable).parent / "feeds"


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FEEDS), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_build_says_where_the_feeds_are_and_rebuild_changes_nothing(project: Path) -> None:
    first = run("build", cwd=project)
    assert first.returncode == 0, first.stderr
    assert f"Feeds are in {project / 'output'}/" in first.stdout
    assert (project / "output" / "international" / "atom.xml").is_file()
    second = run("build", cwd=project)
    assert second.returncode == 0
    assert "0 file(s) changed" in second.stdout


def test_build_runs_from_any_directory_like_cron(project: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = run("build", "-c", str(project / "config" / "feeds.toml"), cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    assert (project / "output" / "rss.xml").is_file()
    assert not (elsewhere / "output").exists() and not (elsewhere / "state").exists()


def test_broken_article_exits_1_naming_the_file_and_the_rest_publishes(project: Path) -> None:
    (project / "seeds" / "rusak.txt").write_bytes(b"Kampus\n")
    (project / "seeds" / "biner.txt").write_bytes(b"Kampus\x00\x01")
    result = run("build", cwd=project)
    assert result.returncode == 1
    assert "error: seeds/rusak.txt: no title line" in result.stderr
    assert "error: seeds/biner.txt: binary file" in result.stderr
    assert (project / "output" / "articles" / "000_4cab66b14d71472d.html").is_file()


def test_bad_config_exits_2_naming_the_key_and_writes_nothing(project: Path) -> None:
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace("items_per_feed = 50", 'items_per_feed = "many"'))
    result = run("build", cwd=project)
    assert result.returncode == 2
    assert "config/feeds.toml: site.items_per_feed: must be an integer" in result.stderr
    assert not (project / "output").exists() and not (project / "state").exists()


def test_base_url_without_scheme_exits_2(project: Path) -> None:
    toml = project / "config" / "feeds.toml"
    toml.write_text(toml.read_text().replace('"https://usmnews.example/"', '"usmnews.example"'))
    result = run("check", cwd=project)
    assert result.returncode == 2
    assert "site.base_url: must be an absolute http(s) URL" in result.stderr


def test_check_prints_diagnostics_and_writes_nothing(project: Path) -> None:
    (project / "seeds" / "baru.txt").write_text("Budaya\nJudul\n\nIsi.\n", encoding="utf-8")
    (project / "seeds" / "lama.txt").write_bytes("Kampus\nJudul caf\xe9\n\nIsi.\n".encode("cp1252"))
    result = run("check", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "notice: seeds/baru.txt: unknown section 'Budaya': created as 'budaya'" in result.stderr
    assert "warning: seeds/lama.txt: not valid UTF-8" in result.stderr
    assert "3 article(s) checked: 3 published, 0 held until later, 0 draft(s); 0 error(s)." in (
        result.stdout)
    assert not (project / "output").exists() and not (project / "state").exists()


def test_export_writes_one_feed_without_touching_output(project: Path) -> None:
    result = subprocess.run(
        [str(FEEDS), "export", "--feed", "international", "--format", "atom"],
        cwd=project, capture_output=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    parsed = feedparser.parse(result.stdout)
    assert parsed.feed.title == "USM News — International" and len(parsed.entries) == 1
    out = project / "all.json"
    assert run("export", "--feed", "all", "--format", "json", "-o", str(out),
               cwd=project).returncode == 0
    assert json.loads(out.read_bytes())["items"][0]["id"].endswith(":000_4cab66b14d71472d")
    assert not (project / "output").exists()


def test_export_of_a_tag_feed_and_of_an_unknown_feed(project: Path) -> None:
    (project / "seeds" / "t.txt").write_text("---\ntags: [wisuda]\n---\nKampus\nJudul\n\nIsi.\n",
                                             encoding="utf-8")
    os.utime(project / "seeds" / "t.txt", (1_770_000_000, 1_770_000_000))
    ok = run("export", "--feed", "tags/wisuda", "--format", "rss", cwd=project)
    assert ok.returncode == 0 and "<title>USM News — #wisuda</title>" in ok.stdout
    missing = run("export", "--feed", "nope", "--format", "rss", cwd=project)
    assert missing.returncode == 2 and "error: --feed: no feed 'nope'" in missing.stderr


def test_python_dash_m_feeds_is_the_same_command(project: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "feeds", "--version"], cwd=project,
                            capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0 and result.stdout.startswith("feeds ")


def test_no_command_is_a_usage_error(project: Path) -> None:
    assert run(cwd=project).returncode == 2
    assert run("frobnicate", cwd=project).returncode == 2


def test_missing_state_is_rebuilt_with_a_notice_and_ids_unchanged(project: Path) -> None:
    assert run("build", cwd=project).returncode == 0
    before = feedparser.parse((project / "output" / "atom.xml").read_bytes())
    for path in (project / "state").iterdir():
        path.unlink()
    result = run("build", cwd=project)
    assert result.returncode == 0
    assert "notice:" in result.stderr and "no state yet: built from seeds/" in result.stderr
    after = feedparser.parse((project / "output" / "atom.xml").read_bytes())
    assert [e.id for e in after.entries] == [e.id for e in before.entries]
    assert [e.published for e in after.entries] == [e.published for e in before.entries]


def test_corrupt_state_is_moved_aside_reported_and_rebuilt(project: Path) -> None:
    assert run("build", cwd=project).returncode == 0
    state = project / "state" / "feeds.sqlite"
    garbage = b"this is not a database " * 100
    state.write_bytes(garbage)
    for suffix in ("-wal", "-shm"):
        state.with_name(state.name + suffix).unlink(missing_ok=True)
    result = run("build", cwd=project)
    assert result.returncode == 0, result.stderr
    assert "cannot open the state database" in result.stderr
    assert "moved aside to feeds.sqlite.corrupt-" in result.stderr
    aside = [p for p in (project / "state").iterdir() if ".corrupt-" in p.name]
    assert len(aside) == 1 and aside[0].read_bytes() == garbage
    parsed = feedparser.parse((project / "output" / "atom.xml").read_bytes())
    assert parsed.entries[0].id.endswith(":000_4cab66b14d71472d")
    assert run("check", cwd=project).returncode == 0


def run_at(clock: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(FEEDS), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env={**os.environ, "SOURCE_DATE_EPOCH": clock})


def test_source_date_epoch_is_the_clock_of_a_build(project: Path) -> None:
    assert run_at("1780000000", "build", cwd=project).returncode == 0
    seed = project / "seeds" / "000_4cab66b14d71472d.txt"
    seed.write_text(seed.read_text(encoding="utf-8") + "\nParagraf tambahan.\n",
                    encoding="utf-8")
    assert run_at("1780003600", "build", cwd=project).returncode == 0
    parsed = feedparser.parse((project / "output" / "atom.xml").read_bytes())
    assert parsed.entries[0].updated == "2026-05-28T21:26:40+00:00"  # 1780003600, not now


def test_a_bad_source_date_epoch_exits_2_and_writes_nothing(project: Path) -> None:
    result = run_at("yesterday", "build", cwd=project)
    assert result.returncode == 2
    assert "error: SOURCE_DATE_EPOCH: not a number of seconds since 1970: 'yesterday'" in (
        result.stderr)
    assert not (project / "output").exists() and not (project / "state").exists()


@pytest.mark.parametrize("command", [["build"], ["build", "--pull"], ["pull", "--all"], ["check"],
                                     ["export", "--feed", "all", "--format", "rss"], ["sources"],
                                     ["run"], ["serve"]])
@pytest.mark.parametrize(("mistake", "key"), [
    (('items_per_feed = 50', 'items_per_feed = "many"'), "site.items_per_feed"),
    (('base_url = "https://', 'base_url = "'), "site.base_url"),
    (('rebuild_every = "5m"', 'rebuild_every = "often"'), "schedule.rebuild_every"),
    (('[websub]', '[[upstream]]\nname = "x"\nurl = "ftp://x/"\nsection = "kampus"\n[websub]'),
     "upstream 'x'.url"),
])
def test_every_command_exits_2_on_a_bad_config_and_writes_nothing(
    project: Path, command: list[str], mistake: tuple[str, str], key: str
) -> None:
    toml = project / "config" / "feeds.toml"
    text = toml.read_text()
    assert mistake[0] in text
    toml.write_text(text.replace(mistake[0], mistake[1], 1))
    result = run(*command, cwd=project)
    assert result.returncode == 2, result.stderr
    assert f"error: config/feeds.toml: {key}:" in result.stderr  # as the operator named it
    assert sorted(p.name for p in project.iterdir()) == ["config", "seeds"]
