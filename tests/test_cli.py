"""The command as a user runs it: real arguments, real exit codes, what it prints. Mostly in
this process (the CLI's own code path), where a child process would only add its start-up;
test_no_trap, test_doctor and the full tier run the installed command in child processes.
Bad input stops before any browser starts and changes nothing."""

from __future__ import annotations

import json
import os
import shlex
import stat
import sys
import threading
import tomllib
from pathlib import Path

import pexpect
import pyte
import pytest
import support
from playwright.sync_api import Browser
from support import (
    PASSWORD,
    SECRET,
    altrady_ips,
    binance_seed,
    ipbind,
    ipbind_here,
    keys_of,
    run_cli,
    settings_for,
    write_allocation,
)

from assistant.demo import DEMO_ALLOCATION, run_demo, serve_demo
from assistant.errors import ExitCode
from assistant.runner import Options, load_allocation, run
from assistant.settings import load_settings
from fixtures.mockex import MockExchanges

IPS = altrady_ips()


def env_for(mock: MockExchanges, tmp_path: Path, **extra: str) -> dict[str, str]:
    account = next(iter(mock.site("binance").accounts.values()))
    return {
        "IPBIND_BINANCE__USERNAME": account.username,
        "IPBIND_BINANCE__PASSWORD": account.password,
        "IPBIND_BINANCE__TOTP_SECRET": account.totp_secret,
        "IPBIND_BINANCE__TOTP_PERIOD": str(mock.site("binance").totp_period),
        "IPBIND_BINANCE__BASE_URL": mock.base_url("binance"),
        "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
        "IPBIND_CONFIG": str(tmp_path / "no-config.toml"),
        **extra,
    }


def one_account(tmp_path: Path, **fields) -> Path:
    account = {
        "exchange": "binance",
        "name": "My Binance",
        "key": "Altrady main",
        "ips": IPS,
        **fields,
    }
    return write_allocation(tmp_path / "allocation.toml", [account])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"exchange": "binanse"},
            "accounts[0] ('My Binance') exchange: unknown exchange 'binanse'",
        ),
        ({"ips": [*IPS[:19], "203.0.113.300"]}, "ips: '203.0.113.300' is not a valid IP address"),
        ({"ips": [*IPS[:19], IPS[0]]}, f"ips: {IPS[0]} is listed twice"),
        ({"ips": IPS[:19]}, "19 addresses, but Altrady allocates 20 per key"),
        ({"ips": [*IPS[:19], "127.0.0.1"]}, "127.0.0.1 is a loopback address"),
        ({"ips": [*IPS[:19], "169.254.1.1"]}, "169.254.1.1 is a link-local address"),
        ({"ips": [*IPS[:19], "224.0.0.5"]}, "224.0.0.5 is a multicast address"),
        ({"ips": [*IPS[:19], "0.0.0.0"]}, "0.0.0.0 is the unspecified address"),
        ({"ips": [*IPS[:19], "203.0.113.0/28"]}, "is a range (CIDR)"),
    ],
)
def test_bad_allocation_exits_2_naming_account_field_and_value(
    mock: MockExchanges, tmp_path: Path, fields: dict, expected: str
) -> None:
    before = mock.state("binance")["accounts"]
    result = ipbind_here(
        "apply", "--yes", str(one_account(tmp_path, **fields)), env=env_for(mock, tmp_path)
    )

    assert result.returncode == ExitCode.BAD_INPUT, result.stderr + result.stdout
    assert expected in result.stdout + result.stderr
    assert str(tmp_path / "allocation.toml") in result.stdout + result.stderr
    assert mock.state("binance")["accounts"] == before
    assert mock.state("binance")["sessions"] == 0  # no browser ever reached the site


def test_allow_count_accepts_a_shorter_list(mock: MockExchanges, tmp_path: Path) -> None:
    """Without --allow-count a list of 5 is refused; with it the file is taken, and the run
    goes on to the next check (here: a base URL that is refused, so no browser starts)."""
    file = str(one_account(tmp_path, ips=IPS[:5]))
    env = env_for(mock, tmp_path, IPBIND_BINANCE__BASE_URL="https://binance.com.example.org")
    short = "5 addresses, but Altrady allocates 20 per key"

    refused = ipbind_here("plan", file, env=env)
    taken = ipbind_here("plan", "--allow-count", file, env=env)

    assert refused.returncode == ExitCode.BAD_INPUT
    assert short in refused.stdout + refused.stderr
    assert taken.returncode == ExitCode.BAD_INPUT
    assert short not in taken.stdout + taken.stderr
    assert "IPBIND_BINANCE__BASE_URL" in taken.stdout + taken.stderr


def test_a_base_url_that_is_not_the_exchange_nor_loopback_is_refused(
    mock: MockExchanges, tmp_path: Path
) -> None:
    env = env_for(mock, tmp_path, IPBIND_BINANCE__BASE_URL="https://binance.com.example.org")
    result = ipbind_here("plan", str(one_account(tmp_path)), env=env)

    assert result.returncode == ExitCode.BAD_INPUT
    assert "IPBIND_BINANCE__BASE_URL" in result.stdout + result.stderr
    assert "credentials are only ever typed on those" in result.stdout + result.stderr


def test_documentation_addresses_are_refused_against_the_real_site(
    mock: MockExchanges, tmp_path: Path
) -> None:
    env = env_for(mock, tmp_path)
    del env["IPBIND_BINANCE__BASE_URL"]
    result = ipbind_here("plan", str(one_account(tmp_path)), env=env)

    assert result.returncode == ExitCode.BAD_INPUT
    assert "documentation addresses (TEST-NET)" in result.stdout + result.stderr


def test_invalid_totp_secret_is_refused_without_echoing_it(
    mock: MockExchanges, tmp_path: Path
) -> None:
    env = env_for(mock, tmp_path, IPBIND_BINANCE__TOTP_SECRET="not base32 at all!")
    result = ipbind_here("plan", str(one_account(tmp_path)), env=env)

    assert result.returncode == ExitCode.BAD_INPUT
    assert "IPBIND_BINANCE__TOTP_SECRET" in result.stdout + result.stderr
    assert "not base32 at all" not in result.stdout + result.stderr


def test_apply_without_a_terminal_needs_yes(mock: MockExchanges, tmp_path: Path) -> None:
    result = ipbind_here("apply", str(one_account(tmp_path)), env=env_for(mock, tmp_path))

    assert result.returncode == ExitCode.BAD_INPUT
    assert "--yes" in result.stdout + result.stderr
    assert mock.state("binance")["sessions"] == 0


def test_apply_json_reports_a_verified_key_in_a_stable_shape(
    mock: MockExchanges, tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    """`apply --yes --json`, by the CLI's code path in this process (the child processes of
    test_no_trap and test_doctor run the installed command itself)."""
    mock.reset("binance", binance_seed({"label": "Altrady main", "ips": ["198.51.100.9"]}))
    code = run(
        "apply",
        one_account(tmp_path),
        Options(yes=True, json_out=True),
        settings=settings_for(mock, "binance", tmp_path, pictures=True),
        chromium=browser,
    )
    result = capsys.readouterr()

    assert code == ExitCode.OK, result.err
    data = json.loads(result.out)  # stdout holds the JSON object and nothing else
    assert data["ok"] is True and data["exit_code"] == 0 and data["command"] == "apply"
    [key] = data["keys"]
    assert key["exchange"] == "binance" and key["key"] == "Altrady main"
    assert key["status"] == "verified" and key["verified"] is True
    assert key["added"] == IPS and key["kept"] == ["198.51.100.9"] and key["missing"] == []
    assert keys_of(mock, "binance")[0]["ips"] == ["198.51.100.9", *IPS]
    for secret in (PASSWORD, SECRET):
        assert secret not in result.out + result.err
    # The report with pictures: named in the JSON, and on stderr beside it.
    assert Path(data["report"]).is_file() and data["report"].endswith("report.html")
    assert f"Report (with pictures): {data['report']}" in result.err


def test_exchanges_lists_the_supported_exchanges() -> None:
    result = ipbind_here("exchanges")
    assert result.returncode == 0
    assert "binance" in result.stdout and "paste all" in result.stdout
    lines = {line.split(" · ")[0]: line for line in result.stdout.splitlines()}
    # every exchange with its mode, its limit and its status; profiles and assisted ones too
    assert "mode: one by one" in lines["id: kraken"]
    assert "mode: bulk" in lines["id: okx"] and "max IPs: 20" in lines["id: okx"]
    assert "max IPs: 6" in lines["id: cryptocom"] and "status: model *" in lines["id: cryptocom"]
    assert "mode: assisted" in lines["id: bitget"] and "status: by hand" in lines["id: bitget"]


def demo_said_so(out: str) -> None:
    assert "Summary" in out
    assert out.count("verified") >= 2
    assert "failed" not in out
    # It says it was a demo and points to real use, not to a step in Altrady.
    assert "That was a demo" in out and "ipbind apply FILE" in out
    assert "click Update" not in out


@pytest.mark.long
@pytest.mark.full  # `make demo` as it runs, in real time; the test below is its fast twin
def test_demo_at_a_terminal_ends_verified_with_a_clean_screen(tmp_path: Path) -> None:
    """At a 120-column terminal, its lanes working at once: each notice on lines of its
    own, no progress line left behind (a terminal emulator reads the screen)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IPBIND_")}
    env.update(
        COLUMNS="120",
        LINES="50",
        TERM="xterm-256color",
        IPBIND_ARTIFACTS_DIR=str(tmp_path / "runs"),
        IPBIND_CONFIG=str(tmp_path / "none.toml"),
    )
    child = pexpect.spawn(
        sys.executable,
        ["-m", "assistant", "demo"],
        env=env,
        encoding="utf-8",
        dimensions=(50, 120),
        timeout=300,
        cwd=str(tmp_path),
    )
    raw = child.read()
    child.close()
    screen = pyte.HistoryScreen(120, 50, history=5000)
    pyte.Stream(screen).feed(raw)
    rows = [*screen.history.top, *(screen.buffer[y] for y in range(screen.lines))]
    lines = ["".join(row[x].data for x in range(120)).rstrip() for row in rows]

    assert child.exitstatus == 0, "\n".join(lines)
    demo_said_so("\n".join(lines))
    notices = [line for line in lines if "playing you" in line]
    assert len(notices) == 3, lines  # huobi's two keys and bybit's new key: each one said
    assert all(line.startswith("demo, playing you:") for line in notices), notices
    assert not [line for line in lines if line.startswith(("Adding", "Signing", "Reading"))]


def two_of_the_demo(tmp_path: Path) -> Path:
    """The demo file's first binance and huobi accounts, their main keys alone."""
    accounts = tomllib.loads(DEMO_ALLOCATION.read_text())["accounts"]
    first = {a["exchange"]: a for a in reversed(accounts)}  # each exchange's first account
    two = [{**first[ex], "extra_keys": []} for ex in ("binance", "huobi")]
    return write_allocation(tmp_path / "demo.toml", two)


@pytest.mark.long
def test_the_demo_in_this_process_verifies_every_exchange_of_its_file(
    mock: MockExchanges, browser: Browser, tmp_path: Path, capsys, monkeypatch
) -> None:
    """The demo's own code (its mock sites, its stand-in for the person reading the e-mailed
    code) in this process: in the session's browser, on the tests' clock, on one key of two
    of the demo file's exchanges (the test above runs them all)."""
    monkeypatch.setenv("IPBIND_ARTIFACTS_DIR", str(tmp_path / "runs"))
    allocation = two_of_the_demo(tmp_path)
    exchanges = {a.exchange for a in load_allocation(allocation, allow_count=False).accounts}
    assert exchanges == {"binance", "huobi"}

    pictures = {"pictures": support.PICTURES}  # the demo's own settings take them otherwise
    code = run_demo(Options(yes=True, overrides=pictures), allocation, chromium=browser)

    out = capsys.readouterr().out
    assert code == ExitCode.OK, out
    demo_said_so(out)
    summary = out[out.index("Summary") :]
    assert all(exchange in summary for exchange in exchanges)


def test_bittrex_is_marked_as_stopped_in_the_list_and_before_a_real_site_run(
    tmp_path: Path, browser: Browser, capsys: pytest.CaptureFixture[str]
) -> None:
    assert "stopped trading on 2023-12-04" in ipbind_here("exchanges").stdout
    path = write_allocation(
        tmp_path / "b.toml",
        [
            {"exchange": "bittrex", "name": "B", "key": "main", "ips": ["8.8.4.4"]},
        ],
    )
    settings = load_settings(
        bittrex={"username": "someone", "password": PASSWORD, "totp_secret": SECRET},
        timeout=3,
        artifacts_dir=tmp_path / "runs",
        _env_file=None,
    )
    result = run_cli("plan", path, settings, browser, capsys, allow_count=True)

    assert "Bittrex Global: stopped trading on 2023-12-04" in result.out  # a warning
    assert result.code != ExitCode.OK  # no exchange is reachable from the tests


@pytest.mark.full  # a headed run; fast: the walkthrough
@pytest.mark.headed
@pytest.mark.skipif(
    not os.environ.get("DISPLAY"),
    reason="needs a display: `make test` runs the suite under xvfb-run",
)
@pytest.mark.long
def test_headed_apply_works_in_a_visible_browser(mock: MockExchanges, tmp_path: Path) -> None:
    result = ipbind(
        "--headed",
        "apply",
        "--yes",
        str(one_account(tmp_path)),
        env={**env_for(mock, tmp_path), "DISPLAY": os.environ["DISPLAY"]},
    )

    assert result.returncode == ExitCode.OK, result.stdout + result.stderr
    [sign_in] = mock.state("binance")["sign_ins"]
    assert "HeadlessChrome" not in sign_in["user_agent"]  # a real, visible browser
    assert keys_of(mock, "binance")[0]["ips"] == IPS


@pytest.mark.parametrize("verbose", [[], ["-v"]])
def test_an_error_goes_to_stderr_once_and_stdout_stays_clean(
    tmp_path: Path, verbose: list[str]
) -> None:
    dup = write_allocation(
        tmp_path / "dup.toml",
        [{"exchange": "binance", "name": "Mine", "key": "k", "ips": [*IPS[:19], IPS[0]]}],
    )
    env = {"IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"), "IPBIND_CONFIG": str(tmp_path / "c")}
    result = ipbind_here(*verbose, "plan", str(dup), env=env)

    assert result.returncode == ExitCode.BAD_INPUT
    assert result.stdout == "", result.stdout  # `plan dup.toml 2>/dev/null` shows nothing
    assert result.stderr.count(f"{IPS[0]} is listed twice") == 1, result.stderr
    assert "Error:" in result.stderr


def test_a_message_in_square_brackets_is_shown_as_written(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    result = ipbind_here("plan", str(empty), env={"IPBIND_CONFIG": str(tmp_path / "c")})

    assert result.returncode == ExitCode.BAD_INPUT
    assert "an [[accounts]] entry" in result.stderr, result.stderr  # not taken for markup


@pytest.mark.parametrize(
    ("args", "asked_by"),
    [
        (["assist", "{file}"], "`ipbind assist` opens a browser window"),
        (["demo", "--walkthrough"], "--walkthrough opens a browser window"),
        (["login", "binance"], "`ipbind login` with no password configured"),
    ],
)
def test_a_command_that_always_opens_a_window_says_it_needs_a_display(
    tmp_path: Path, args: list[str], asked_by: str
) -> None:
    """None of these was given --headed: the words are for what the person asked."""
    file = write_allocation(
        tmp_path / "bitget.toml",
        [{"exchange": "bitget", "name": "My Bitget", "key": "main", "ips": IPS}],
    )
    env = {
        "IPBIND_ARTIFACTS_DIR": str(tmp_path / "runs"),
        "IPBIND_CONFIG": str(tmp_path / "c"),
        "DISPLAY": "",
        "WAYLAND_DISPLAY": "",
    }
    result = ipbind_here(*[a.format(file=file) for a in args], env=env)
    out = result.stdout + result.stderr

    assert result.returncode == ExitCode.BROWSER, out
    assert asked_by in out and "needs a display" in out and "xvfb-run" in out, out
    assert "--headed" not in out, out
    assert "Report" not in out and "Traceback" not in out, out


def test_demo_serve_keeps_the_mock_sites_up_for_the_persons_own_commands(
    browser: Browser, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """`ipbind demo --serve` in a thread; the settings file it writes, sourced as the person
    would (here into this process's environment); the person's own `plan` of the demo file
    then reads every one of its exchanges from the served sites."""
    served: list[Path] = []
    up, stop = threading.Event(), threading.Event()
    options = Options(overrides={"artifacts_dir": tmp_path / "runs"})
    codes: list[ExitCode] = []

    def ready(env: Path) -> None:
        served.append(env)
        up.set()

    thread = threading.Thread(target=lambda: codes.append(serve_demo(options, stop, ready)))
    thread.start()
    try:
        assert up.wait(30)
        [env] = served
        assert stat.S_IMODE(env.stat().st_mode) == 0o600
        for line in env.read_text().splitlines():
            if line.startswith("export "):
                name, value = line.removeprefix("export ").split("=", 1)
                monkeypatch.setenv(name, shlex.split(value)[0])
        printed = capsys.readouterr().out
        assert f"source {env}" in printed and f"ipbind plan {DEMO_ALLOCATION}" in printed
        settings = load_settings(artifacts_dir=tmp_path / "runs", _env_file=None)
        planned = run_cli("plan", two_of_the_demo(tmp_path), settings, browser, capsys)
    finally:
        stop.set()
        thread.join(30)

    assert codes == [ExitCode.OK]
    assert planned.code == ExitCode.OK, planned.out
    assert "plan: binance · My Binance · Altrady main: to add 20" in planned.out
    assert "plan: huobi · My Huobi · Altrady main: to add 18 · already there 2/20" in planned.out
