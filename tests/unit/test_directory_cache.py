"""shared.storage.directory_cache without a database: what is kept, for how long, and when nothing is."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import base_settings

from shared.storage import directory_cache
from shared.storage.db import Database
from shared.storage.directory_cache import DirectoryCache
from tests.ports import reserve_port


@pytest.fixture
def cache(tmp_path: Path) -> DirectoryCache[str]:
    """A cache whose database is nowhere: these tests never let it connect."""
    url = f"postgresql+psycopg://postgres@127.0.0.1:{reserve_port()}/nowhere"
    db = Database(base_settings(tmp_path, database_url=url))
    made: DirectoryCache[str] = DirectoryCache(db)
    made.forget_all(following=True)  # as after a LISTEN
    return made


def test_a_stored_answer_is_found_until_it_expires(cache: DirectoryCache[str], monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr(directory_cache.time, "monotonic", lambda: now[0])
    cache.store("a@example.com", "answer", cache.generation)
    now[0] += directory_cache.ENTRY_SECONDS - 0.1
    assert cache.lookup("a@example.com") == "answer"
    now[0] += 0.2
    assert cache.lookup("a@example.com") is None
    cache.store("a@example.com", "renewed", cache.generation)
    assert cache.lookup("a@example.com") == "renewed"


def test_an_answer_read_before_a_change_is_not_kept(cache: DirectoryCache[str]) -> None:
    read_at = cache.generation
    cache.forget_all(following=True)  # a notification arrived while the query ran
    cache.store("a@example.com", "old answer", read_at)
    assert cache.lookup("a@example.com") is None
    cache.store("a@example.com", "new answer", cache.generation)
    assert cache.lookup("a@example.com") == "new answer"


def test_a_notification_forgets_everything(cache: DirectoryCache[str]) -> None:
    for name in ("a", "b"):
        cache.store(f"{name}@example.com", name, cache.generation)
    cache.forget_all(following=True)
    assert [cache.lookup(f"{name}@example.com") for name in ("a", "b")] == [None, None]


def test_the_longest_kept_entry_makes_room(cache: DirectoryCache[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(directory_cache, "MAX_ENTRIES", 3)
    for name in ("a", "b", "c", "a", "d"):  # "a" stored again: kept longest is now "b"
        cache.store(name, name, cache.generation)
    assert [cache.lookup(name) for name in ("a", "b", "c", "d")] == ["a", None, "c", "d"]


def test_nothing_is_kept_while_changes_cannot_be_heard(cache: DirectoryCache[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The database refuses the LISTEN connection: the cache turns itself off and stays off."""
    monkeypatch.setattr(directory_cache, "RECONNECT_SECONDS", (60.0, 60.0))
    cache.store("before@example.com", "kept while following", cache.generation)

    async def follow_briefly() -> None:
        following = asyncio.create_task(cache.follow_changes())
        for _ in range(200):
            await asyncio.sleep(0.01)
            if cache.lookup("before@example.com") is None:
                break
        following.cancel()
        with pytest.raises(asyncio.CancelledError):
            await following

    asyncio.run(follow_briefly())
    assert cache.lookup("before@example.com") is None
    cache.store("after@example.com", "answer", cache.generation)
    assert cache.lookup("after@example.com") is None
