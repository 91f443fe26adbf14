"""The journal of each apply in the state dir: what it planned, the key it began to change,
what each change came to; and what the next run makes of it (the end-to-end crash-and-rerun
cases are in test_interrupt.py)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from assistant.errors import UserActionNeeded
from assistant.journal import Journal, allocation_id
from assistant.outcome import KeyPlan, KeyResult, Target
from flows.base import KeyInfo

IPS = ["203.0.113.10", "203.0.113.11"]


def plan(exchange: str, key: str, current: list[str] | None = None) -> KeyPlan:
    current = current or []
    return KeyPlan(
        Target(exchange, key, ["A"], IPS),
        KeyInfo(key),
        current,
        [ip for ip in IPS if ip not in current],
    )


def test_a_run_cut_short_is_told_by_the_next_one(tmp_path: Path) -> None:
    main, extra, done = plan("kraken", "main"), plan("kraken", "extra"), plan("kraken", "x", IPS)
    journal = Journal(tmp_path / "state", "alloc1")
    journal.planned([main, extra, done])
    journal.changing(main)  # and then the machine went off

    unfinished = Journal(tmp_path / "state", "alloc1").last_unfinished()

    assert unfinished is not None
    assert unfinished.changing == ("kraken", "main")
    assert unfinished.not_finished == 1  # extra; x had nothing to do
    text = unfinished.text("apply")
    assert "was interrupted while changing kraken 'main' (1 more key not finished)" in text
    assert text.endswith("this run reads every key afresh and finishes it.")
    assert "`ipbind apply` finishes it" in unfinished.text("verify")
    assert Journal(tmp_path / "state", "another").last_unfinished() is None


def test_a_run_that_ended_leaves_nothing_to_tell_and_its_journal_is_private(
    tmp_path: Path,
) -> None:
    main = plan("kraken", "main")
    journal = Journal(tmp_path / "state", "alloc1")
    journal.planned([main])
    journal.changing(main)
    failed = UserActionNeeded("Kraken: 'main': the site said no")
    journal.result(KeyResult(main, "failed", [], error=failed))

    assert Journal(tmp_path / "state", "alloc1").last_unfinished() is None
    assert journal.path is not None
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(journal.path.parent.stat().st_mode) == 0o700
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    assert [r["event"] for r in records] == ["plan", "change", "result"]
    assert records[0]["keys"] == [
        {"exchange": "kraken", "key": "main", "add": IPS, "remove": [], "create": False}
    ]
    assert records[2]["status"] == "failed" and records[2]["missing"] == IPS
    assert records[2]["error"] == "Kraken: 'main': the site said no"


def test_an_interrupted_key_and_a_line_cut_short_count_as_unfinished(tmp_path: Path) -> None:
    main = plan("bittrex", "account allow list")
    journal = Journal(tmp_path / "state", "alloc1")
    journal.planned([main])
    journal.changing(main)
    journal.result(KeyResult(main, "interrupted", [IPS[0]]))
    assert journal.path is not None
    with journal.path.open("a") as out:
        out.write('{"at": "2026-11-25T12:00:00", "event": "res')  # killed while writing

    unfinished = Journal(tmp_path / "state", "alloc1").last_unfinished()

    assert unfinished is not None and unfinished.changing == ("bittrex", "account allow list")


def test_the_same_allocation_is_known_by_its_keys_and_addresses() -> None:
    one = {"kraken": [Target("kraken", "main", ["A"], IPS)]}
    same = {"kraken": [Target("kraken", "main", ["B"], list(reversed(IPS)))]}
    other = {"kraken": [Target("kraken", "main", ["A"], IPS[:1])]}

    assert allocation_id(one) == allocation_id(same)  # the account's name is not the job
    assert allocation_id(one) != allocation_id(other)


def test_what_ipbind_added_is_remembered_per_key_by_any_of_its_names_until_removed(
    tmp_path: Path,
) -> None:
    first = KeyPlan(
        Target("binance", "Altrady main", ["A"], IPS), KeyInfo("Altrady main", "K1" * 9)
    )
    first.to_add = list(IPS)
    journal = Journal(tmp_path / "state", "alloc1")
    journal.result(KeyResult(first, "verified", ["198.51.100.9", *IPS]), "binance me")
    journal.result(KeyResult(first, "verified", IPS), None)  # not remembered: whose unknown

    later = Journal(tmp_path / "state", "alloc2")  # another file, naming the key by its API key
    assert later.added_before("binance me", {"K1" * 9}) == set(IPS)
    assert later.added_before("binance someone-else", {"Altrady main"}) == set()  # not theirs
    assert later.added_before("binance me", {"Altrady extra"}) == set()

    second = KeyPlan(Target("binance", "K1" * 9, ["A"], ["203.0.113.50"]), KeyInfo("Altrady main"))
    second.to_remove, second.to_add = [IPS[0]], ["203.0.113.50"]
    later.result(KeyResult(second, "verified", [IPS[1], "203.0.113.50"]), "binance me")
    assert later.added_before("binance me", {"Altrady main"}) == {IPS[1], "203.0.113.50"}
    kept = tmp_path / "state" / "journal" / "added.json"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    assert "198.51.100.9" not in kept.read_text()  # the person's own was never ipbind's
