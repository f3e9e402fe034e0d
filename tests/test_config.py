"""Config validation: every error names the file and the key; unknown keys warn."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from feeds import config
from feeds.errors import ConfigError
from tests.helpers import ROOT

MINIMAL = '[site]\ntitle = "T"\nbase_url = "https://example.org/news"\n'


def load(tmp_path: Path, text: str, folder: str = "config") -> config.Config:
    path = tmp_path / folder / "feeds.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    cfg, _ = config.load(path)
    return cfg


def error_of(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return str(info.value)


def test_defaults_and_relative_paths_resolve_against_the_project(tmp_path: Path) -> None:
    cfg = load(tmp_path, MINIMAL)
    assert cfg.site.base_url == "https://example.org/news/"
    assert cfg.site.items_per_feed == 50 and cfg.site.language == "id"
    assert cfg.paths.seeds == tmp_path / "seeds"
    assert cfg.paths.state == tmp_path / "state" / "feeds.sqlite"
    assert cfg.rebuild_every == 300


def test_paths_resolve_against_the_config_folder_when_it_is_not_named_config(
    tmp_path: Path,
) -> None:
    cfg = load(tmp_path, MINIMAL, folder="etc")
    assert cfg.paths.output == tmp_path / "etc" / "output"


def test_the_bundled_config_is_valid_and_complete(real_config: config.Config) -> None:
    assert [s.slug for s in real_config.sections] == [
        "international", "nasional", "kampus", "ekonomi", "olahraga", "teknologi"
    ]
    names = {o.name for o in real_config.outlets}
    assert {"detik.com", "Kompas.com", "Antara", "CNN Indonesia", "Tempo.co"} <= names


UPSTREAM_MISTAKES = [
    ('url = "file:///etc/passwd"\n', "upstream 'u'.url:"),
    ('url = "antaranews.com/rss"\n', "upstream 'u'.url:"),
    ('url = "https://x/"\nevery = "sometimes"\n', "upstream 'u'.every:"),
    ('url = "https://x/"\nevery = 30\n', "upstream 'u'.every:"),
    ('url = "https://x/"\ncontent = "everything"\n', "upstream 'u'.content:"),
    ('url = "https://x/"\ninclude = "banjir"\n', "upstream 'u'.include:"),
    ('url = "https://x/"\n[upstream.headers]\nCookie = "x"\n',
     "upstream 'u'.headers: unknown key in [[upstream]]"),
    ("", "upstream 'u'.url: is required"),
]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('[site]\ntitle = "T"\n', "site.base_url: is required"),
        ('[site]\ntitle = "T"\nbase_url = "example.org"\n', "site.base_url: must be an absolute"),
        (MINIMAL.replace('"T"', "3"), "site.title: must be a string, not an integer"),
        (MINIMAL + 'items_per_feed = 0\n', "site.items_per_feed: must be between 1 and 1000"),
        (MINIMAL + 'items_per_feed = true\n', "site.items_per_feed: must be an integer"),
        (MINIMAL + 'timezone = "Mars/Base"\n', "site.timezone: 'Mars/Base' is not a known"),
        (MINIMAL + 'language = "indonesian language"\n', "site.language:"),
        (MINIMAL + 'id_prefix = "no prefix"\n', "site.id_prefix: must be an absolute IRI"),
        (MINIMAL + '[schedule]\nrebuild_every = "soon"\n', "schedule.rebuild_every: must be a"),
        (MINIMAL + '[schedule]\nrebuild_every = "0m"\n', "schedule.rebuild_every: must be long"),
        (MINIMAL + '[serve]\nbind = "localhost"\n', "serve.bind: must be HOST:PORT"),
        (MINIMAL + '[paths]\nstate = "output/state.sqlite"\n', "paths.state: must not be inside"),
        (MINIMAL + '[[sections]]\nname = "A"\nslug = "../x"\n', "sections 'A'.slug:"),
        (MINIMAL + '[[sections]]\nname = "A"\nslug = "all"\n',
         "sections 'A'.slug: 'all' is reserved"),
        (MINIMAL + '[[sections]]\nname = "A"\nslug = "kampus\\n"\n',
         "sections 'A'.slug: 'kampus\\n' is not a usable slug"),
        (MINIMAL + 'language = "id\\n"\n', "site.language:"),
        (MINIMAL + '[[sections]]\nname = "A"\n[[sections]]\nname = "a"\n',
         "sections 'a'.slug: 'a' is used by two sections ('A' and 'a')"),
        (MINIMAL + '[[sections]]\nname = "A"\n[[sections]]\nname = "B"\naliases = ["a"]\n',
         "sections 'B'.aliases: 'a' already names section 'a'"),
        (MINIMAL + '[outlets."x.com"]\nurl = "ftp://x.com/"\n', 'outlets."x.com".url:'),
        (MINIMAL + '[[sections]]\nname = "A"\n[[upstream]]\nname = "u"\nurl = "https://x/"\n'
         'section = "a"\nevry = "5m"\n',
         "upstream 'u'.evry: unknown key in [[upstream]]: did you mean 'every'?"),
        (MINIMAL + '[[sections]]\nname = "A"\n[[upstream]]\nname = "u"\nurl = "https://x/"\n'
         'section = "b"\n', "upstream 'u'.section: 'b' is not a configured section"),
        (MINIMAL + '[[sections]]\nname = "A"\n[[upstream]]\nname = "u"\nurl = "https://x/"\n'
         'section = "a"\nevery = "10s"\n', "upstream 'u'.every: 10s is below the floor"),
        ("[site\n", "not valid TOML"),
        *((MINIMAL + '[[sections]]\nname = "A"\n[[upstream]]\nname = "u"\nsection = "a"\n' + bad,
           message) for bad, message in UPSTREAM_MISTAKES),
        (MINIMAL + '[fetch]\ntimeout = -1\n', "fetch.timeout:"),
        (MINIMAL + '[fetch]\nmax_bytes = "a lot"\n', "fetch.max_bytes:"),
        (MINIMAL + '[websub]\nhub = "not a url"\n', "websub.hub:"),
        (MINIMAL + '[fetch]\nallow_private_networks = "yes"\n',
         "fetch.allow_private_networks: must be true or false"),
    ],
)
def test_bad_values_name_the_file_and_key(tmp_path: Path, extra: str, message: str) -> None:
    text = error_of(tmp_path, extra)
    assert text.startswith(str(tmp_path / "config" / "feeds.toml") + ": ")
    assert message in text


def test_unknown_keys_are_warnings(tmp_path: Path) -> None:
    path = tmp_path / "config" / "feeds.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL + 'colour = "blue"\n[extras]\na = 1\n', encoding="utf-8")
    _, notes = config.load(path)
    assert [str(n) for n in notes] == [
        f"warning: {path}: unknown key extras (ignored)",
        f"warning: {path}: unknown key site.colour (ignored)",
    ]


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.toml")


def test_a_section_named_all_does_not_take_the_all_sections_feed(tmp_path: Path) -> None:
    path = tmp_path / "config" / "feeds.toml"
    path.parent.mkdir()
    path.write_text(MINIMAL + '[[sections]]\nname = "All"\n', encoding="utf-8")
    cfg, _ = config.load(path)
    assert [s.slug for s in cfg.sections] == ["all-1"]


def test_a_config_error_lists_its_problems_and_joins_them_in_its_message() -> None:
    error = ConfigError.listing("feeds.toml", ["site.title: is required", "fetch.timeout: no"])
    assert error.problems == ("site.title: is required", "fetch.timeout: no")
    assert error.message == "site.title: is required; fetch.timeout: no"  # for one-line callers
    assert str(error) == f"feeds.toml: {error.message}"
    again = pickle.loads(pickle.dumps(error))
    assert (again.where, again.message, again.problems) == (
        error.where, error.message, error.problems)
    assert ConfigError("feeds.toml", "config file not found").problems == (
        "config file not found",)


# --- every mistake of a file in one run ---------------------------------------------

SECTIONS = MINIMAL + (
    '[[sections]]\nslug = "nasional"\nname = "Nasional"\naliases = ["Dalam Negeri", "National"]\n'
    '[[sections]]\nslug = "olahraga"\nname = "Olahraga"\naliases = ["Olah Raga", "Sports"]\n'
)


def source(**keys: str) -> str:
    """An [[upstream]] table named antara-terkini: `keys` (TOML values) over good defaults."""
    values = {"name": '"antara-terkini"', "url": '"https://www.antaranews.com/rss/terkini.xml"',
              "section": '"nasional"', **keys}
    return "[[upstream]]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())


def problems_of(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert info.value.message == "; ".join(info.value.problems)
    return list(info.value.problems)


def keys_of(problems: list[str]) -> list[str]:
    return [problem.partition(": ")[0] for problem in problems]


THREE_MISTAKES = (
    SECTIONS.replace('base_url = "https://example.org/news"', 'base_url = "example.org"')
    + '[schedule]\nrebuild_every = "often"\n'
    + source(url='"antaranews.com/rss"')
)


def test_three_mistakes_in_three_tables_are_all_reported_in_one_run(tmp_path: Path) -> None:
    assert keys_of(problems_of(tmp_path, THREE_MISTAKES)) == [
        "site.base_url", "upstream 'antara-terkini'.url", "schedule.rebuild_every"]


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        ('[site]\ntitle = ""\nbase_url = "https://x/"\nitems_per_feed = 0\n'
         'languages = ["?", "!"]\n',
         ["site.title", "site.languages", "site.languages", "site.items_per_feed"]),
        (SECTIONS + source(url='"ftp://x/"', every="true", content='"all"', exlude="[]",
                           extra="1"),
         [f"upstream 'antara-terkini'.{key}" for key in ("exlude", "extra", "every", "content",
                                                         "url")]),
        (SECTIONS + source() + source(),  # each source's own problems, nothing more
         ["upstream 'antara-terkini'.name"]),
    ],
)
def test_mistakes_in_one_table_are_all_reported(
    tmp_path: Path, text: str, keys: list[str]
) -> None:
    assert keys_of(problems_of(tmp_path, text)) == keys


@pytest.mark.parametrize(
    ("text", "keys"),
    [
        # Not a feeds config at all, most likely: say that, and nothing about the rest.
        ('[fetch]\ntimeout = -1\n[[upstream]]\nurl = "x"\n', ["site"]),
        ('site = "USM News"\n[fetch]\ntimeout = -1\n', ["site"]),
        # A broken section list: a source's section is not looked up in it.
        (MINIMAL + '[[sections]]\nname = "A"\nslug = "all"\n' + source(section='"a"'),
         ["sections 'A'.slug"]),
        ('sections = "Nasional"\n' + MINIMAL + source(), ["sections"]),
        (SECTIONS + '[[sections]]\nname = "Ekonomi"\nslug = 3\n' + source(section='"x"'),
         ["sections 'Ekonomi'.slug"]),
        # A floor that is not a duration is not compared with.
        (SECTIONS + source(every='"1s"') + '[fetch]\nmin_every = "often"\n',
         ["fetch.min_every"]),
        ("fetch = 3\n" + SECTIONS + source(every='"1s"'), ["fetch"]),
        # Stand-ins for bad paths are not compared with each other.
        (MINIMAL + '[paths]\noutput = 3\nstate = ""\n', ["paths.output", "paths.state"]),
    ],
)
def test_a_mistake_that_makes_later_checks_meaningless_is_reported_alone(
    tmp_path: Path, text: str, keys: list[str]
) -> None:
    assert keys_of(problems_of(tmp_path, text)) == keys


FEEDS = Path(sys.executable).parent / "feeds"


def test_feeds_check_prints_one_error_line_per_mistake_and_exits_2(project: Path) -> None:
    toml = project / "config" / "feeds.toml"
    text = toml.read_text(encoding="utf-8")
    for good, bad in (("items_per_feed = 50", "items_per_feed = 0"),
                      ('rebuild_every = "5m"', 'rebuild_every = "often"')):
        assert good in text
        text = text.replace(good, bad, 1)
    toml.write_text(text + "\n" + source(url='"antaranews.com/rss"'), encoding="utf-8")
    result = subprocess.run([str(FEEDS), "check"], cwd=project, capture_output=True, text=True,
                            timeout=120, check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert [line.partition(": ")[2].partition(": ")[0] for line in errors] == [
        "config/feeds.toml"] * 3
    assert keys_of([line.split(": ", 2)[2] for line in errors]) == [
        "site.items_per_feed", "upstream 'antara-terkini'.url", "schedule.rebuild_every"]
    assert sorted(p.name for p in project.iterdir()) == ["config", "seeds"]


# --- errors name the source or section, and the key to change -------------------------


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (SECTIONS + source(url='"antaranews.com/rss"'),
         "upstream 'antara-terkini'.url: must be an absolute http(s) URL"),
        (SECTIONS + source(exlude='["banjir"]'),
         "upstream 'antara-terkini'.exlude: unknown key in [[upstream]]: "
         "did you mean 'exclude'?"),
        (SECTIONS + source(Every='"1h"'),
         "upstream 'antara-terkini'.Every: unknown key in [[upstream]]: did you mean 'every'?"),
        (SECTIONS + source(name='"antara-terkini"') + source(),
         "upstream 'antara-terkini'.name: 'antara-terkini' is used by two sources: give each "
         "its own name"),
        # Without a usable name, the source is named by its place.
        (SECTIONS + source(name='""'), "upstream[0].name: must not be empty"),
        (SECTIONS + source(name="7"), "upstream[0].name: must be a string, not an integer"),
        (SECTIONS + '[[sections]]\nname = "Kampus"\nslug = "Kampus"\n',
         "sections 'Kampus'.slug: 'Kampus' is not a usable slug"),
        (SECTIONS + '[[sections]]\nslug = "kampus"\n', "sections[2].name: is required"),
    ],
)
def test_errors_name_the_source_or_section_and_the_key(
    tmp_path: Path, text: str, problem: str
) -> None:
    found = problems_of(tmp_path, text)
    assert any(p.startswith(problem) for p in found), found


@pytest.mark.parametrize(
    ("floor", "every", "problem"),
    [
        ("", '"1m"', "1m is below the floor of 5m set by fetch.min_every: change the source's "
                     "every to 5m or more, or lower fetch.min_every"),
        ('min_every = "1h"\n', "1800", "30m is below the floor of 1h set by fetch.min_every"),
        ('min_every = 90\n', '"1m"', "1m is below the floor of 90s set by fetch.min_every: "
                                    "change the source's every to 90s or more"),
    ],
)
def test_an_every_below_the_floor_shows_both_values_and_names_fetch_min_every(
    tmp_path: Path, floor: str, every: str, problem: str
) -> None:
    text = SECTIONS + source(every=every) + "[fetch]\n" + floor
    [found] = problems_of(tmp_path, text)
    assert found.startswith(f"upstream 'antara-terkini'.every: {problem}")


# --- [[upstream]] section: a name, slug or alias, as in an article's section line -------


@pytest.mark.parametrize(
    ("written", "slug"),
    [
        ("nasional", "nasional"),  # the slug, as before
        ("Nasional", "nasional"),  # the name
        ("Dalam Negeri", "nasional"),  # an alias
        ("dalam  NEGERI", "nasional"),  # case and spaces fold as in articles
        ("Olah-Raga", "olahraga"),  # punctuation separates words
        ("Sports", "olahraga"),
    ],
)
def test_an_upstream_section_by_name_slug_or_alias_is_stored_as_its_slug(
    tmp_path: Path, written: str, slug: str
) -> None:
    cfg = load(tmp_path, SECTIONS + source(section=f'"{written}"'))
    assert cfg.upstream[0].section == slug


def test_the_bundled_sections_are_found_by_name_and_alias(tmp_path: Path) -> None:
    bundled = (ROOT / "config" / "feeds.toml").read_text(encoding="utf-8")
    for written in ("Nasional", "Dalam Negeri", "Kampus USM", "Sains dan Teknologi"):
        cfg = load(tmp_path, bundled + source(section=f'"{written}"'))
        assert [(s.name, s.section) for s in cfg.upstream] == [
            ("antara-terkini", next(c.slug for c in cfg.sections
                                     if written in (c.name, *c.aliases)))]


@pytest.mark.parametrize(
    ("written", "advice"),
    [
        ("Nasionl", "did you mean 'Nasional'? Write the slug, name or an alias of one of: "
                    "nasional, olahraga"),
        ("nasioanl", "did you mean 'Nasional'?"),  # a typo of the slug suggests the name
        ("Dalam Negri", "did you mean 'Dalam Negeri' (section 'Nasional')?"),
        ("Budaya", "write the slug, name or an alias of one of: nasional, olahraga (or add it "
                   "to [[sections]])"),
        ("Nasional2", "write the slug"),  # other digits: another name, not a typo
    ],
)
def test_an_unknown_upstream_section_names_the_source_lists_the_sections_and_suggests(
    tmp_path: Path, written: str, advice: str
) -> None:
    [problem] = problems_of(tmp_path, SECTIONS + source(section=f'"{written}"'))
    assert problem.startswith(
        f"upstream 'antara-terkini'.section: {written!r} is not a configured section: {advice}")


def test_an_upstream_section_without_any_sections_says_to_add_one(tmp_path: Path) -> None:
    assert problems_of(tmp_path, MINIMAL + source(section='"Nasional"')) == [
        "upstream 'antara-terkini'.section: 'Nasional' is not a configured section (none is): "
        "add it to [[sections]]"]


@pytest.mark.parametrize(("url", "shown"), [
    ("postgresql://u:secret@h/db", "postgresql://u:***@h/db"),
    ("postgresql://u@h/db?password=secret&sslmode=require",
     "postgresql://u@h/db?password=***&sslmode=require"),
    ("postgresql://h/db?sslmode=x&PASSWORD=secret", "postgresql://h/db?sslmode=x&PASSWORD=***"),
    ("postgresql://u:p@h", "postgresql://u:***@h"),
    ("postgresql://h/db", "postgresql://h/db"),
    ("s3://bucket/prefix/", "s3://bucket/prefix/"),
])
def test_a_password_is_never_shown_in_the_user_info_or_the_query(url: str, shown: str) -> None:
    assert config.redact(url) == shown
