"""Where a sign-in comes from (issue 19): the settings, then the system keyring, then a kept
session, else asked at the terminal (and offered to the keyring); with nobody to ask, exit 2
naming the variables; a refused password asked again, up to three tries, and a hint that
names where the credentials came from. In-process: a scripted console plays the person."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import keyring
import pytest
from keyrings import MemoryKeyring, NoKeyring
from playwright.sync_api import Browser
from pydantic import SecretStr
from rich.console import Console
from support import (
    PASSWORD,
    SECRET,
    altrady_ips,
    bittrex_seed,
    codes,
    ipbind_here,
    settings_for,
    write_allocation,
)

from assistant import signin
from assistant.errors import BadInput, ExitCode, Interrupted, SignInRefused
from assistant.human import TerminalHuman
from assistant.logs import redactor
from assistant.opening import credentials_of
from assistant.output import ConsoleReporter
from assistant.runner import load_allocation
from assistant.settings import BaseIpbindSettings, load_settings
from fixtures.mockex import MockExchanges
from flows.types import Credentials

IPS = altrady_ips(3)


class Person(Console):
    """A terminal whose person types `answers`, in order; what was asked is in `asked`."""

    def __init__(self, *answers: str) -> None:
        super().__init__(file=io.StringIO(), width=200, highlight=False)
        self.answers = list(answers)
        self.asked: list[tuple[str, bool]] = []

    def input(self, prompt: Any = "", *, password: bool = False, **_: Any) -> str:
        self.asked.append((str(prompt), password))
        if not self.answers:
            raise EOFError
        return self.answers.pop(0)

    @property
    def said(self) -> str:
        out = self.file.getvalue()  # type: ignore[attr-defined]
        return " ".join(out.split())


@pytest.fixture(autouse=True)
def told_afresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signin, "_told_no_keyring", False)


@pytest.fixture
def memory() -> Iterator[MemoryKeyring]:
    kept = MemoryKeyring()
    keyring.set_keyring(kept)
    try:
        yield kept
    finally:
        keyring.set_keyring(NoKeyring())


def settings(tmp_path: Path, **exchanges: dict[str, Any]) -> BaseIpbindSettings:
    return load_settings(**exchanges, artifacts_dir=tmp_path / "runs", _env_file=None)


def complete(
    s: BaseIpbindSettings, person: Console, *exchanges: str, ask: bool = True, **kw: Any
) -> BaseIpbindSettings:
    return signin.complete(s, exchanges or ["kraken"], person, ask=ask, terminal=ask, **kw)


def test_the_settings_come_first_and_nothing_is_asked(
    tmp_path: Path, memory: MemoryKeyring
) -> None:
    memory.set_password("ipbind", "kraken.password", "from-the-keyring")
    person = Person()
    s = complete(settings(tmp_path, kraken={"username": "me", "password": PASSWORD}), person)

    conf = s.exchange("kraken")
    assert conf.password is not None and conf.password.get_secret_value() == PASSWORD
    assert signin.source_of(conf) == "settings"
    assert person.asked == []


def test_the_keyring_fills_what_the_settings_lack(tmp_path: Path, memory: MemoryKeyring) -> None:
    for field, value in (
        ("username", "kept-me"),
        ("password", "kept-pass"),
        ("totp_secret", SECRET),
    ):
        memory.set_password("ipbind", f"kraken.{field}", value)
    person = Person()
    s = complete(settings(tmp_path, kraken={"username": "set-me"}), person)

    conf = s.exchange("kraken")
    assert conf.username == "set-me"  # the settings' own value wins
    assert conf.password is not None and conf.password.get_secret_value() == "kept-pass"
    assert conf.totp() is not None
    assert signin.source_of(conf) == "keyring"
    assert person.asked == []
    assert "kept-pass" in redactor.values()


def test_a_kept_session_stands_in_for_a_sign_in(tmp_path: Path) -> None:
    s = settings(tmp_path)
    session = s.state_home / "sessions" / "kraken.json"
    session.parent.mkdir(parents=True)
    session.write_text("{}", encoding="utf-8")

    person = Person()
    assert complete(s, person, ask=False).exchange("kraken").password is None  # no exit 2
    assert person.asked == []


def taken(s: BaseIpbindSettings, exchange: str = "kraken") -> None:
    """The exchange takes the sign-in (what `Flow.signed_in` does once it has)."""
    credentials = credentials_of(s, exchange)
    assert credentials is not None and credentials.accepted is not None
    credentials.accepted()


def test_typed_at_the_terminal_hidden_then_kept_in_the_keyring_when_asked(
    tmp_path: Path, memory: MemoryKeyring
) -> None:
    person = Person("me@example.com", "typed-Passw0rd", SECRET, "y")
    s = complete(settings(tmp_path), person)

    conf = s.exchange("kraken")
    assert conf.username == "me@example.com" and signin.source_of(conf) == "typed"
    assert conf.password is not None and conf.password.get_secret_value() == "typed-Passw0rd"
    assert [hidden for _, hidden in person.asked] == [False, True, True]
    assert memory.entries == {}  # not offered before the exchange has taken it
    taken(s)
    taken(s)  # signed in once more in the same run: asked once
    assert [hidden for _, hidden in person.asked] == [False, True, True, False]
    assert (
        "Kraken took the sign-in you typed. Keep the password and authenticator"
        in (person.asked[-1][0])
    )
    assert "[y/N]" in person.asked[-1][0] and "test keyring" in person.asked[-1][0]
    assert memory.entries == {
        ("ipbind", "kraken.username"): "me@example.com",
        ("ipbind", "kraken.password"): "typed-Passw0rd",
        ("ipbind", "kraken.totp_secret"): SECRET,
    }
    assert "typed-Passw0rd" in redactor.values() and SECRET in redactor.values()
    assert "ipbind logout kraken" in person.said

    # The next run finds it there, and asks nothing.
    again = Person()
    later = complete(settings(tmp_path), again, ask=False)
    assert signin.source_of(later.exchange("kraken")) == "keyring" and again.asked == []


def test_declined_it_is_kept_nowhere_and_a_session_is_offered_instead(
    tmp_path: Path, memory: MemoryKeyring
) -> None:
    person = Person("me", "typed-Passw0rd", "", "n")  # no TOTP secret: codes asked later
    s = complete(settings(tmp_path), person)
    taken(s)

    assert s.exchange("kraken").totp_secret is None and memory.entries == {}
    assert "ipbind login kraken" in person.said


def test_no_keyring_backend_is_told_once_and_the_run_carries_on(tmp_path: Path) -> None:
    person = Person("me", "pass-one", "", "me", "pass-two", "")
    s = complete(settings(tmp_path), person, "kraken", "bittrex")
    taken(s, "kraken")
    taken(s, "bittrex")

    assert s.exchange("bittrex").password is not None
    assert person.said.count("No system keyring is available here") == 1
    assert not any("[y/N]" in prompt for prompt, _ in person.asked)  # nothing to offer


def test_a_bad_totp_secret_is_asked_again(tmp_path: Path) -> None:
    person = Person("me", "pass-one", "not base32!", SECRET)
    conf = complete(settings(tmp_path), person).exchange("kraken")
    assert conf.totp() is not None
    assert "not valid Base32" in person.said and "not base32!" not in person.said


def test_with_nobody_to_ask_exit_2_names_every_variable_to_set(tmp_path: Path) -> None:
    with pytest.raises(BadInput) as no_terminal:
        complete(settings(tmp_path, kraken={"username": "me"}), Person(), "kraken", ask=False)
    message = no_terminal.value.message
    assert "IPBIND_KRAKEN__PASSWORD" in message and "IPBIND_KRAKEN__TOTP_SECRET" in message
    assert "IPBIND_KRAKEN__USERNAME" not in message  # it is set
    assert no_terminal.value.exit_code == ExitCode.BAD_INPUT

    # --yes or --json at a terminal: nothing asked; codes still can be, so no TOTP secret named.
    person = Person()
    with pytest.raises(BadInput) as told:
        signin.complete(settings(tmp_path), ["kraken"], person, ask=False, terminal=True)
    assert "IPBIND_KRAKEN__USERNAME, IPBIND_KRAKEN__PASSWORD" in told.value.message
    assert "TOTP" not in told.value.message and person.asked == []


def test_plan_with_no_terminal_and_no_sign_in_exits_2_before_any_browser(tmp_path: Path) -> None:
    file = write_allocation(
        tmp_path / "a.toml",
        [{"exchange": "kraken", "name": "K", "key": "Altrady main", "ips": altrady_ips()}],
    )
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "IPBIND_CONFIG": str(tmp_path / "c")}
    result = ipbind_here("plan", str(file), env=env)

    assert result.returncode == ExitCode.BAD_INPUT, result.stdout + result.stderr
    said = " ".join((result.stdout + result.stderr).split())
    assert "IPBIND_KRAKEN__USERNAME" in said and "IPBIND_KRAKEN__PASSWORD" in said
    # Every problem at once: the file's TEST-NET addresses against the real site too.
    assert "are documentation addresses (TEST-NET), accepted only against a local" in said
    assert not (tmp_path / "runs").exists()  # stopped before the run's folder


def test_logout_forgets_the_keyrings_entries(tmp_path: Path, memory: MemoryKeyring) -> None:
    memory.set_password("ipbind", "kraken.username", "me")
    memory.set_password("ipbind", "kraken.password", "kept-pass")
    memory.set_password("ipbind", "binance.password", "other")
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "IPBIND_CONFIG": str(tmp_path / "c")}

    result = ipbind_here("logout", "kraken", env=env)

    assert result.returncode == ExitCode.OK
    assert "Forgot the Kraken sign-in kept in the system keyring" in result.stdout
    assert memory.entries == {("ipbind", "binance.password"): "other"}


def test_ctrl_c_at_the_question_is_an_interruption(tmp_path: Path) -> None:
    with pytest.raises(Interrupted):
        complete(settings(tmp_path), Person())  # end of input at the first question


def test_the_hint_names_where_the_credentials_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    assert "you typed" in signin.check_for("kraken", "typed")
    assert "IPBIND" not in signin.check_for("kraken", "typed")
    assert "system keyring" in signin.check_for("kraken", "keyring")
    assert "ipbind logout kraken" in signin.check_for("kraken", "keyring")
    # From the settings: the variables that were set, and only those.
    monkeypatch.delenv("IPBIND_KRAKEN__USERNAME", raising=False)
    monkeypatch.delenv("IPBIND_KRAKEN__PASSWORD", raising=False)
    assert "IPBIND" not in signin.check_for("kraken", "settings")
    monkeypatch.setenv("IPBIND_KRAKEN__PASSWORD", "x")
    assert signin.check_for("kraken", "settings") == "Check IPBIND_KRAKEN__PASSWORD."


def test_asked_again_at_the_terminal_and_the_keyrings_replaced_when_asked(
    memory: MemoryKeyring, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = Credentials("me", SecretStr("old-pass"), source="keyring")
    person = Person("", "new-Passw0rd", "y")  # Enter keeps the username shown
    reporter = ConsoleReporter(person)
    human = TerminalHuman(reporter, headless=True)
    monkeypatch.setattr("assistant.human.interactive", lambda: True)

    again = human.sign_in_again("kraken", refused, "Kraken refused the sign-in (Wrong)", 2)

    assert again is not None and again.username == "me" and again.source == "typed"
    assert again.password.get_secret_value() == "new-Passw0rd"
    assert again.check is not None and "you typed" in again.check
    assert "Kraken refused the sign-in (Wrong). Type the Kraken sign-in again (2 tries left)" in (
        person.said
    )
    assert person.asked[0] == ("Kraken e-mail or username [me]: ", False)
    assert person.asked[1][1] is True  # the password hidden
    # Not offered for the keyring until the exchange has taken it: a typo is never kept.
    assert len(person.asked) == 2
    assert ("ipbind", "kraken.password") not in memory.entries
    assert again.accepted is not None
    again.accepted()  # the flow, once the exchange took the new password
    assert "Kraken took the new password. Replace the one kept" in person.asked[2][0]
    assert memory.entries[("ipbind", "kraken.password")] == "new-Passw0rd"
    monkeypatch.setattr("assistant.human.interactive", lambda: False)
    assert human.sign_in_again("kraken", refused, "refused", 2) is None  # nobody to ask


# -- a refused password, against the mock ----------------------------------------------------


class Retyping:
    """The person who, asked again after a refused sign-in, types `passwords` in turn."""

    def __init__(self, *passwords: str) -> None:
        self.passwords = list(passwords)
        self.asked: list[tuple[str, int]] = []
        self.taken: list[str] = []  # the passwords the exchange took (`accepted` called)

    def sign_in_again(
        self, exchange: str, refused: Credentials | None, why: str, tries_left: int
    ) -> Credentials | None:
        self.asked.append((why, tries_left))
        assert refused is not None
        password = self.passwords.pop(0)
        return Credentials(
            refused.username,
            SecretStr(password),
            source="typed",
            check=signin.check_for(exchange, "typed"),
            accepted=lambda: self.taken.append(password),
        )

    def hand_off(self, page: Any, message: str, done: Any) -> None:
        raise AssertionError(message)

    def signed_in(self, ask: Any) -> None:
        ask()


def plan(s: BaseIpbindSettings, tmp_path: Path, browser: Browser, person: Any) -> Any:
    from assistant.engine import Engine

    file = write_allocation(
        tmp_path / "a.toml", [{"exchange": "bittrex", "name": "B", "key": "B", "ips": IPS}]
    )
    engine = Engine(s, load_allocation(file, allow_count=True), ConsoleReporter(Person()), person)
    [result] = engine.run("plan", lambda plans: True, browser).results
    return result


def test_a_wrong_password_is_asked_again_and_the_right_one_goes_on(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    mock.reset("bittrex", bittrex_seed())
    person = Retyping("still-wrong", PASSWORD)
    s = settings_for(mock, "bittrex", tmp_path, password="not-the-password", signed_in=False)

    result = plan(s, tmp_path, browser, person)

    assert result.error is None, result.error
    assert [left for _, left in person.asked] == [2, 1]
    assert person.taken == [PASSWORD]  # told of the one taken, not of the refused one
    assert "Bittrex Global refused the sign-in (" in person.asked[0][0]
    assert len(mock.state("bittrex")["sign_ins"]) == 1
    assert len(codes(mock, "bittrex", "login-2fa")) == 1  # no code spent on a refused try


def test_a_typed_sign_in_is_offered_to_the_keyring_only_once_the_exchange_took_it(
    mock: MockExchanges,
    browser: Browser,
    tmp_path: Path,
    memory: MemoryKeyring,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """At the terminal: a typo'd password (refused by the exchange: never offered), typed
    again when asked, taken: that one is offered, and kept on "y"."""
    mock.reset("bittrex", bittrex_seed())
    monkeypatch.setattr("assistant.human.interactive", lambda: True)
    user = next(iter(mock.site("bittrex").accounts.values()))
    person = Person("typoed-Passw0rd", "", PASSWORD, "y")  # Enter keeps the username
    s = settings_for(mock, "bittrex", tmp_path, signed_in=False)
    s = s.model_copy(
        update={"bittrex": s.exchange("bittrex").model_copy(update={"password": None})}
    )
    s = complete(s, person, "bittrex")
    assert len(person.asked) == 1 and memory.entries == {}  # the password only, not offered

    result = plan(s, tmp_path, browser, TerminalHuman(ConsoleReporter(person), headless=True))

    assert result.error is None, result.error
    assert "Bittrex Global refused the sign-in" in person.said
    [offer] = [prompt for prompt, _ in person.asked if "[y/N]" in prompt]
    assert "Bittrex Global took the sign-in you typed. Keep the password" in offer
    assert memory.entries == {
        ("ipbind", "bittrex.username"): user.username,
        ("ipbind", "bittrex.password"): PASSWORD,
    }
    assert len(mock.state("bittrex")["sign_ins"]) == 1


def test_three_refusals_stop_with_a_hint_naming_what_was_typed(
    mock: MockExchanges, browser: Browser, tmp_path: Path
) -> None:
    mock.reset("bittrex", bittrex_seed())
    person = Retyping("wrong-two", "wrong-three", "never-asked")
    s = settings_for(mock, "bittrex", tmp_path, password="not-the-password", signed_in=False)

    result = plan(s, tmp_path, browser, person)

    assert isinstance(result.error, SignInRefused), result.error
    assert len(person.asked) == 2  # three tries in all
    assert result.error.hint is not None and "you typed" in result.error.hint
    assert "IPBIND" not in result.error.hint
    assert mock.state("bittrex")["sign_ins"] == []


def test_in_a_parallel_run_the_question_goes_through_the_desk() -> None:
    """A worker's refused sign-in is asked from the run's own thread, one question at a time."""
    import threading

    from assistant.parallel import Desk, OneAtATime

    person = Retyping(PASSWORD)
    desk = Desk(on_stop=lambda: None)
    human = OneAtATime(person, desk)  # type: ignore[arg-type]
    refused = Credentials("me", SecretStr("wrong"))
    answers: list[Credentials | None] = []
    worker = threading.Thread(
        target=lambda: answers.append(human.sign_in_again("kraken", refused, "refused", 2))
    )
    worker.start()
    while not answers:
        desk.serve(0.05)
    worker.join()

    [again] = answers
    assert again is not None and again.password.get_secret_value() == PASSWORD
    assert person.asked == [("refused", 2)]
