"""The typed settings store on real files: the flat format of earlier versions, merging with
other writers, reloading their edits, and what happens when the file cannot be written."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.store import ChatSettings
from app.workspace.settings import (
    DEFAULT_QUICK_HOTKEY,
    THEMES,
    ModelDefaults,
    Preferences,
    QuickAccess,
    SettingsStore,
    WindowState,
    from_flat,
    to_flat,
)

Seen = list[tuple[Preferences, frozenset[str]]]

EARLIER_FILE: dict[str, Any] = {
    "default_model": "phi4-mini",
    "theme": "dark",
    "host_url": "http://192.168.1.20:11434",
    "window_geometry": "AdnQywADAAAAAAAAAAAAAA==",
    "splitter_sizes": [280, 920],
    "last_chat": 42,
    "quick_model": "phi4-mini-reasoning",
    "keep_in_tray": True,
    "start_minimised": True,
    "quick_hotkey": "Ctrl+Shift+P",
    "model_defaults": {
        "phi4": {
            "num_ctx": 16384,
            "temperature": 0.3,
            "seed": 7,
            "think": None,
            "keep_alive": "10m",
        },
        "phi4-mini-reasoning": {
            "num_ctx": 4096,
            "temperature": None,
            "seed": None,
            "think": True,
            "keep_alive": None,
        },
    },
    "written_by_a_newer_phidesk": {"kept": [1, 2, 3]},
}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data), encoding="utf-8")


def read_json(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def listen(store: SettingsStore) -> Seen:
    seen: Seen = []
    store.subscribe(lambda prefs, sections: seen.append((prefs, sections)))
    return seen


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    return tmp_path / "settings.json"


def test_a_flat_file_of_an_earlier_version_loads_every_key(settings_file: Path) -> None:
    write_json(settings_file, EARLIER_FILE)
    prefs = SettingsStore(settings_file).current
    assert prefs == Preferences(
        default_model="phi4-mini",
        theme="dark",
        host_url="http://192.168.1.20:11434",
        window=WindowState(
            geometry="AdnQywADAAAAAAAAAAAAAA==", splitter_sizes=(280, 920), last_chat=42
        ),
        quick=QuickAccess(
            model="phi4-mini-reasoning",
            keep_in_tray=True,
            start_minimised=True,
            hotkey="Ctrl+Shift+P",
        ),
        model_defaults={
            "phi4": ModelDefaults(num_ctx=16384, temperature=0.3, seed=7, keep_alive="10m"),
            "phi4-mini-reasoning": ModelDefaults(num_ctx=4096, think=True),
        },
    )
    assert prefs.defaults_for("phi4") == ChatSettings(
        num_ctx=16384, temperature=0.3, seed=7, keep_alive="10m"
    )
    assert prefs.defaults_for("never-used") == ChatSettings()


def test_a_missing_file_gives_the_defaults(settings_file: Path) -> None:
    prefs = SettingsStore(settings_file).current
    assert prefs == Preferences()
    assert prefs.quick.hotkey == DEFAULT_QUICK_HOTKEY
    assert not settings_file.exists()


def test_keys_phidesk_does_not_know_are_kept_on_save(settings_file: Path) -> None:
    write_json(settings_file, EARLIER_FILE)
    store = SettingsStore(settings_file)
    store.set(theme="light")
    on_disk = read_json(settings_file)
    assert on_disk["written_by_a_newer_phidesk"] == {"kept": [1, 2, 3]}
    assert on_disk["theme"] == "light"
    # Everything else is byte-for-byte the value it had.
    assert {k: v for k, v in on_disk.items() if k != "theme"} == {
        k: v for k, v in EARLIER_FILE.items() if k != "theme"
    }


def test_values_of_the_wrong_type_fall_back_to_the_defaults(settings_file: Path) -> None:
    write_json(
        settings_file,
        {
            "default_model": 5,
            "theme": "purple",
            "host_url": ["not", "a", "url"],
            "window_geometry": 12,
            "splitter_sizes": [300, "wide", True, 500],
            "last_chat": "7",
            "quick_model": None,
            "keep_in_tray": "yes",
            "start_minimised": 1,
            "quick_hotkey": False,
            "model_defaults": {
                "phi4": {"num_ctx": "big", "temperature": True, "seed": 1.5, "think": "on"},
                "phi4-mini": "not an object",
                "phi4-reasoning": {"temperature": 1, "keep_alive": 300},
            },
        },
    )
    prefs = SettingsStore(settings_file).current
    assert prefs == Preferences(
        window=WindowState(splitter_sizes=(300, 500)),
        model_defaults={
            "phi4": ModelDefaults(),
            "phi4-reasoning": ModelDefaults(temperature=1.0),
        },
    )


def test_the_stall_timeout_is_kept_and_a_bad_one_falls_back_to_300(settings_file: Path) -> None:
    assert Preferences().stall_timeout == 300
    store = SettingsStore(settings_file)
    seen = listen(store)
    store.set(stall_timeout=45)
    assert seen[-1][1] == frozenset({"stall_timeout"})
    assert read_json(settings_file)["stall_timeout"] == 45
    assert SettingsStore(settings_file).current.stall_timeout == 45
    for bad in (0, -5, "60", True, 1.5, None):
        write_json(settings_file, {"stall_timeout": bad})
        assert SettingsStore(settings_file).current.stall_timeout == 300, bad


@pytest.mark.parametrize("content", ["[1, 2, 3]", "{not json", ""])
def test_a_file_that_is_not_a_settings_object_gives_the_defaults(
    settings_file: Path, content: str
) -> None:
    settings_file.write_text(content, encoding="utf-8")
    assert SettingsStore(settings_file).current == Preferences()


def test_update_saves_and_tells_listeners_exactly_which_sections_changed(
    settings_file: Path,
) -> None:
    write_json(settings_file, EARLIER_FILE)
    store = SettingsStore(settings_file)
    seen = listen(store)

    after = store.update(
        lambda p: replace(
            p,
            theme="light",
            window=replace(p.window, last_chat=3),
            model_defaults={**p.model_defaults, "phi4-mini": ModelDefaults(num_ctx=2048)},
        )
    )

    assert seen == [(after, frozenset({"theme", "window", "model_defaults"}))]
    assert store.current == after
    on_disk = read_json(settings_file)
    assert on_disk["theme"] == "light"
    assert on_disk["last_chat"] == 3
    assert on_disk["model_defaults"]["phi4-mini"]["num_ctx"] == 2048
    # Read back by a fresh store, the file gives the same preferences.
    assert SettingsStore(settings_file).current == after
    # The save replaced the file whole: no temporary file is left beside it.
    assert sorted(p.name for p in settings_file.parent.iterdir()) == ["settings.json"]


def test_an_update_that_changes_nothing_neither_writes_nor_notifies(settings_file: Path) -> None:
    store = SettingsStore(settings_file)
    seen = listen(store)
    store.set(theme="system")
    assert seen == []
    assert not settings_file.exists()


def test_an_unsubscribed_listener_hears_nothing_more(settings_file: Path) -> None:
    store = SettingsStore(settings_file)
    seen: Seen = []
    unsubscribe = store.subscribe(lambda prefs, sections: seen.append((prefs, sections)))
    store.set(theme="dark")
    unsubscribe()
    store.set(theme="light")
    assert [sections for _, sections in seen] == [frozenset({"theme"})]


def test_a_failing_listener_does_not_stop_the_others(settings_file: Path) -> None:
    store = SettingsStore(settings_file)

    def broken(_prefs: Preferences, _sections: frozenset[str]) -> None:
        raise RuntimeError("listener bug")

    store.subscribe(broken)
    seen = listen(store)
    store.set(default_model="phi4")
    assert [sections for _, sections in seen] == [frozenset({"default_model"})]
    assert read_json(settings_file)["default_model"] == "phi4"


def test_a_save_merges_with_what_another_writer_put_on_disk(settings_file: Path) -> None:
    write_json(settings_file, EARLIER_FILE)
    mine = SettingsStore(settings_file)
    seen = listen(mine)
    # Another process (the CLI, a second window) changes the quick prompt's model on disk.
    other = SettingsStore(settings_file)
    other.update(lambda p: replace(p, quick=replace(p.quick, model="phi4")))

    after = mine.set(theme="light")

    on_disk = read_json(settings_file)
    assert on_disk["theme"] == "light"  # this store's change
    assert on_disk["quick_model"] == "phi4"  # the other writer's change survives
    # This store now sees the other writer's change too, and says so.
    assert after.quick.model == "phi4"
    assert mine.current == after
    assert seen == [(after, frozenset({"theme", "quick"}))]


def test_a_save_keeps_an_unknown_key_another_writer_added(settings_file: Path) -> None:
    write_json(settings_file, {"theme": "dark"})
    store = SettingsStore(settings_file)
    data = read_json(settings_file)
    data["added_later"] = "by a plugin"
    write_json(settings_file, data)
    store.set(default_model="phi4")
    assert read_json(settings_file) == {
        "theme": "dark",
        "default_model": "phi4",
        "added_later": "by a plugin",
    }


def test_reload_if_changed_picks_up_an_external_edit_and_notifies(settings_file: Path) -> None:
    write_json(settings_file, EARLIER_FILE)
    store = SettingsStore(settings_file)
    seen = listen(store)
    assert store.reload_if_changed() == frozenset()

    data = read_json(settings_file)
    data["theme"] = "light"
    data["keep_in_tray"] = False
    write_json(settings_file, data)

    changed = store.reload_if_changed()
    assert changed == frozenset({"theme", "quick"})
    assert store.current.theme == "light"
    assert store.current.quick.keep_in_tray is False
    assert seen == [(store.current, changed)]
    # Nothing new on disk: nothing to tell.
    assert store.reload_if_changed() == frozenset()
    assert len(seen) == 1


def test_reload_after_an_own_save_reports_nothing(settings_file: Path) -> None:
    store = SettingsStore(settings_file)
    seen = listen(store)
    store.set(theme="dark")
    assert store.reload_if_changed() == frozenset()
    assert len(seen) == 1


def test_another_stores_save_is_picked_up_by_reload(settings_file: Path) -> None:
    write_json(settings_file, {"theme": "dark"})
    mine = SettingsStore(settings_file)
    SettingsStore(settings_file).set(default_model="phi4-mini")
    assert mine.reload_if_changed() == frozenset({"default_model"})
    assert mine.current.default_model == "phi4-mini"


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
def test_the_file_is_readable_by_its_owner_only(settings_file: Path) -> None:
    write_json(settings_file, EARLIER_FILE)
    settings_file.chmod(0o644)
    store = SettingsStore(settings_file)
    store.set(host_url="http://10.0.0.2:11434")
    assert stat.S_IMODE(settings_file.stat().st_mode) == 0o600


def _check_write_failure(store: SettingsStore, seen: Seen, error: type[OSError]) -> None:
    with pytest.raises(error):
        store.set(theme="dark")
    # The choice still holds for this run, and every front end heard of it.
    assert store.current.theme == "dark"
    assert seen == [(store.current, frozenset({"theme"}))]


@pytest.mark.skipif(os.name != "posix", reason="directory permissions are POSIX")
def test_a_read_only_directory_fails_the_save_but_the_change_holds(tmp_path: Path) -> None:
    directory = tmp_path / "config"
    directory.mkdir()
    path = directory / "settings.json"
    write_json(path, {"theme": "light", "keep": 1})
    store = SettingsStore(path)
    seen = listen(store)
    directory.chmod(0o500)
    try:
        if os.access(directory, os.W_OK):
            pytest.skip("this user may write to read-only directories (root)")
        _check_write_failure(store, seen, PermissionError)
        assert read_json(path) == {"theme": "light", "keep": 1}
    finally:
        directory.chmod(0o700)


def test_a_directory_that_is_gone_fails_the_save_but_the_change_holds(tmp_path: Path) -> None:
    """The same promise where permissions do not stop the writer (root): the folder of the
    settings file was replaced by a plain file, so no file can be created there."""
    directory = tmp_path / "config"
    directory.mkdir()
    path = directory / "settings.json"
    write_json(path, {"theme": "light"})
    store = SettingsStore(path)
    seen = listen(store)
    directory.rename(tmp_path / "config.moved")
    directory.write_text("not a folder", encoding="utf-8")
    _check_write_failure(store, seen, NotADirectoryError)


# --- the flat format round trip --------------------------------------------------------------

texts = st.text(max_size=20)
optional_ints = st.none() | st.integers(min_value=-(2**53), max_value=2**53)
model_defaults = st.builds(
    ModelDefaults,
    num_ctx=optional_ints,
    temperature=st.none() | st.floats(allow_nan=False, allow_infinity=False),
    seed=optional_ints,
    think=st.none() | st.booleans(),
    keep_alive=st.none() | texts,
)
preferences = st.builds(
    Preferences,
    default_model=texts,
    theme=st.sampled_from(THEMES),
    host_url=texts,
    window=st.builds(
        WindowState,
        geometry=texts,
        splitter_sizes=st.lists(st.integers(0, 10_000), max_size=4).map(tuple),
        last_chat=optional_ints,
    ),
    quick=st.builds(
        QuickAccess,
        model=texts,
        keep_in_tray=st.booleans(),
        start_minimised=st.booleans(),
        hotkey=texts,
    ),
    model_defaults=st.dictionaries(texts, model_defaults, max_size=3),
    stall_timeout=st.integers(min_value=1, max_value=10**6),
)


@given(preferences)
def test_the_flat_format_round_trips(prefs: Preferences) -> None:
    flat = to_flat(prefs)
    assert from_flat(flat) == prefs
    # Through JSON too, as the file holds it.
    assert from_flat(json.loads(json.dumps(flat))) == prefs
