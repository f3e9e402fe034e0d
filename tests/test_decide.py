"""The rules of publishing, one test per rule: plain values in, a decision out (no build, no store,
no files, no clock)."""

from __future__ import annotations

from dataclasses import replace

from feeds.entries import Times, reconcile_times, upstream_times
from feeds.publish.decide import MAX_SHIFT, Facts, Seconds, decide, first_seen, may_unpublish, owner
from feeds.store import EntryRecord

NOW = 1_772_352_000  # 2026-03-01T08:00:00Z
WRITTEN = NOW - 86_400
FACTS = Facts(key="berita", origin="seeds:berita.txt", digest="h1", draft=False, date=None,
              updated=None, rendered=Times(WRITTEN, WRITTEN, WRITTEN), has_page=True)
STORED = EntryRecord(key="berita", origin="seeds:berita.txt", hash="h1", first_seen=WRITTEN,
                     published=WRITTEN, updated=WRITTEN, live=True, section="kampus", tags=())


# --- the first file to claim an id keeps it ---------------------------------------------


def test_a_file_claiming_a_free_id_may_have_it() -> None:
    assert owner("b.txt", claimed_here=None, stored=None, stored_still_claims=False) is None


def test_the_file_that_claimed_an_id_earlier_in_this_build_keeps_it() -> None:
    assert owner("b.txt", claimed_here="a.txt", stored=None, stored_still_claims=False) == "a.txt"


def test_the_file_that_owned_an_id_in_an_earlier_build_keeps_it_while_it_claims_it() -> None:
    assert owner("b.txt", claimed_here=None, stored="a.txt", stored_still_claims=True) == "a.txt"


def test_an_id_given_up_by_its_owner_goes_to_the_next_claimant() -> None:
    assert owner("b.txt", claimed_here=None, stored="a.txt", stored_still_claims=False) is None


def test_a_file_does_not_compete_with_itself() -> None:
    assert owner("a.txt", claimed_here="a.txt", stored="a.txt", stored_still_claims=True) is None


# --- first seen: the file's time, never in the future, one second each -------------------


def test_first_seen_is_the_file_time() -> None:
    assert first_seen(WRITTEN, NOW) == WRITTEN


def test_first_seen_is_never_in_the_future() -> None:
    assert first_seen(NOW + 3600, NOW) == NOW  # a skewed clock must not hold an article back


def test_a_burst_of_files_in_one_second_gets_distinct_seconds_going_back() -> None:
    seconds = Seconds(taken=lambda second: False)
    assert [seconds.unique(WRITTEN) for _ in range(4)] == [WRITTEN, WRITTEN - 1, WRITTEN - 2,
                                                           WRITTEN - 3]


def test_seconds_the_state_has_already_given_are_skipped() -> None:
    stored = {WRITTEN, WRITTEN - 1}
    seconds = Seconds(taken=stored.__contains__)
    assert seconds.unique(WRITTEN) == WRITTEN - 2


def test_beyond_an_hour_of_shift_equal_seconds_are_kept() -> None:
    seconds = Seconds(taken=lambda second: second > WRITTEN - MAX_SHIFT - 5)
    assert seconds.unique(WRITTEN) == WRITTEN


# --- updated moves only with the content hash ---------------------------------------------


def test_a_new_article_is_published_and_updated_when_first_seen() -> None:
    assert reconcile_times(None, None, None, "h1", WRITTEN, NOW) == Times(WRITTEN, WRITTEN,
                                                                         WRITTEN)


def test_the_same_text_keeps_its_times_whatever_the_file_time_says() -> None:
    assert reconcile_times(STORED, None, None, "h1", NOW - 60, NOW) == Times(WRITTEN, WRITTEN,
                                                                            WRITTEN)


def test_a_changed_text_keeps_its_publication_and_gets_updated_now() -> None:
    assert reconcile_times(STORED, None, None, "h2", NOW - 60, NOW) == Times(WRITTEN, WRITTEN, NOW)


def test_header_dates_win_and_updated_is_never_before_published() -> None:
    assert reconcile_times(None, WRITTEN, WRITTEN - 99, "h1", NOW, NOW) == Times(NOW, WRITTEN,
                                                                               WRITTEN)


def test_an_upstream_item_keeps_its_first_publication_and_clamps_future_dates() -> None:
    assert upstream_times(None, NOW + 999, None, "h1", NOW) == Times(NOW, NOW, NOW)
    assert upstream_times(STORED, NOW - 5, None, "h1", NOW) == Times(WRITTEN, WRITTEN, WRITTEN)
    assert upstream_times(STORED, None, None, "h2", NOW) == Times(WRITTEN, WRITTEN, NOW)
    assert upstream_times(None, WRITTEN, WRITTEN - 10, "h1", NOW).updated == WRITTEN


# --- what is published, held, drafted, and what happens to the page -----------------------


def test_a_new_article_is_published_with_the_page_it_was_rendered_with() -> None:
    decision = decide(FACTS, None, WRITTEN, NOW, full=False)
    assert decision.live and not decision.unchanged
    assert (decision.page, decision.outcome) == ("use", "published")


def test_an_unchanged_article_renders_nothing() -> None:
    decision = decide(FACTS, STORED, WRITTEN, NOW, full=False)
    assert decision.unchanged and (decision.page, decision.outcome) == ("none", "unchanged")


def test_a_full_build_renders_unchanged_articles_again() -> None:
    assert decide(FACTS, STORED, WRITTEN, NOW, full=True).page == "use"


def test_an_edit_renders_the_page_again_with_the_new_updated_time() -> None:
    decision = decide(replace(FACTS, digest="h2"), STORED, WRITTEN, NOW, full=False)
    assert decision.times.updated == NOW
    assert (decision.page, decision.outcome) == ("render", "updated")


def test_a_draft_is_not_live_and_its_page_goes() -> None:
    decision = decide(replace(FACTS, draft=True), STORED, WRITTEN, NOW, full=False)
    assert not decision.live and (decision.page, decision.outcome) == ("remove", "draft")


def test_an_article_dated_in_the_future_is_held_back_without_a_page() -> None:
    decision = decide(replace(FACTS, date=NOW + 3600), None, WRITTEN, NOW, full=False)
    assert decision.live and decision.times.published == NOW + 3600
    assert (decision.page, decision.outcome) == ("remove", "held")


def test_an_article_that_lives_elsewhere_has_no_page() -> None:
    assert decide(replace(FACTS, has_page=False), None, WRITTEN, NOW, full=False).page == "none"


def test_a_draft_published_again_counts_as_published() -> None:
    drafted = replace(STORED, live=False)
    assert decide(FACTS, drafted, WRITTEN, NOW, full=False).outcome == "published"


def test_moving_to_another_file_changes_the_entry() -> None:
    moved = replace(FACTS, origin="seeds:pindah/berita.txt")
    assert not decide(moved, STORED, WRITTEN, NOW, full=False).unchanged


# --- only the owning file takes an entry down ----------------------------------------------


def test_an_entry_leaves_the_feeds_only_when_its_own_file_says_so() -> None:
    assert may_unpublish(STORED, "seeds:berita.txt")
    assert not may_unpublish(STORED, "seeds:lain.txt")
    assert not may_unpublish(None, "seeds:berita.txt")
