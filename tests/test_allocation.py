"""The allocation file: its documented TOML/JSON shape, and every refusal, each naming the
file, the account (index and name), the field and the offending value. No browser."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from assistant.allocation import ALTRADY_IPS_PER_KEY, Allocation, load
from assistant.errors import BadInput, ExitCode
from assistant.runner import load_allocation

EXCHANGES = {"binance", "kraken", "bittrex"}
CIDR = {"binance": False, "kraken": True, "bittrex": False}
MAX_IPS = {"binance": 30, "kraken": 30, "bittrex": 30}

# Twenty TEST-NET-3 addresses: accepted by `load` (the engine decides per target site).
IPS = [f"203.0.113.{n}" for n in range(10, 30)]
# Public, non-documentation addresses, for the rules that must not depend on TEST-NET.
PUBLIC = [f"8.8.{n}.8" for n in range(20)]


def account(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "exchange": "binance",
        "name": "My Binance",
        "key": "Altrady main",
        "ips": list(IPS),
    }
    base.update(fields)
    return base


def toml_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, str) and "\n" in value:
        return '"""\n' + value + '"""'
    return json.dumps(value)  # a TOML basic string/int/bool for these simple values


def write_toml(tmp_path: Path, *accounts: dict[str, Any], name: str = "alloc.toml") -> Path:
    parts = []
    for acc in accounts:
        parts.append("[[accounts]]")
        parts.extend(f"{key} = {toml_value(value)}" for key, value in acc.items())
        parts.append("")
    path = tmp_path / name
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def write_json(tmp_path: Path, *accounts: dict[str, Any], name: str = "alloc.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"accounts": list(accounts)}), encoding="utf-8")
    return path


def load_it(path: Path, **kwargs: Any) -> Allocation:
    options: dict[str, Any] = {"exchanges": EXCHANGES, "cidr": CIDR, "max_ips": MAX_IPS}
    return load(path, **{**options, **kwargs})


def refusal(path: Path, **kwargs: Any) -> str:
    with pytest.raises(BadInput) as info:
        load_it(path, **kwargs)
    assert info.value.exit_code == ExitCode.BAD_INPUT == 2
    message = info.value.message
    assert str(path) in message, message
    # The rest is checked without the path, whose folder is named after the test.
    return message.replace(str(path), "<file>")


def assert_names(message: str, index: int, name: str, *words: str) -> None:
    assert f"accounts[{index}] ({name!r})" in message, message
    for word in words:
        assert word in message, f"{word!r} not in {message!r}"


# --- the documented shape -------------------------------------------------------------


def test_documented_toml_with_pasted_block(tmp_path: Path) -> None:
    path = tmp_path / "alloc.toml"
    block = "\n".join(IPS[:5]) + "\n" + ", ".join(IPS[5:10]) + "\n" + " ".join(IPS[10:15])
    block += "\n" + ";".join(IPS[15:18]) + " ;\t" + IPS[18] + ",\n\n" + IPS[19] + "\n"
    path.write_text(
        f'''# as in the README
[[accounts]]
exchange = "binance"          # id from SITES.md
name = "My Binance"
key = "Altrady main"
extra_keys = []
ips = """
{block}"""
''',
        encoding="utf-8",
    )
    alloc = load_it(path)
    assert len(alloc.accounts) == 1
    acc = alloc.accounts[0]
    assert (acc.exchange, acc.name, acc.key, acc.extra_keys) == (
        "binance",
        "My Binance",
        "Altrady main",
        [],
    )
    assert acc.ips == IPS  # order kept, every separator understood
    assert acc.keys == ["Altrady main"]


def test_toml_with_a_list_and_extra_keys(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        account(name="A", key="k1", extra_keys=["k2", "k3"]),
        account(exchange="Kraken", name="B", key="main", ips=PUBLIC),
    )
    alloc = load_it(path)
    assert [a.keys for a in alloc.accounts] == [["k1", "k2", "k3"], ["main"]]
    assert alloc.accounts[1].exchange == "kraken"  # exchange ids are case-insensitive
    assert alloc.accounts[1].ips == PUBLIC


@pytest.mark.parametrize("ips", [IPS, "\n".join(IPS), ", ".join(IPS)])
def test_json_of_the_same_shape(tmp_path: Path, ips: Any) -> None:
    path = write_json(tmp_path, account(ips=ips, extra_keys=["spare"]))
    acc = load_it(path).accounts[0]
    assert acc.ips == IPS
    assert acc.keys == ["Altrady main", "spare"]


def test_fields_are_trimmed(tmp_path: Path) -> None:
    path = write_json(tmp_path, account(name="  My Binance ", key=" Altrady main\t", ips=IPS))
    acc = load_it(path).accounts[0]
    assert (acc.name, acc.key) == ("My Binance", "Altrady main")


def test_ipv6_is_stored_in_canonical_text(tmp_path: Path) -> None:
    ips = ["2001:DB8:0:0::1", "2001:0db8:0000:0000:0000:0000:0000:0002", *IPS[2:]]
    acc = load_it(write_toml(tmp_path, account(ips=ips))).accounts[0]
    assert acc.ips[:2] == ["2001:db8::1", "2001:db8::2"]


def test_documentation_ranges_are_accepted_by_load(tmp_path: Path) -> None:
    ips = [f"192.0.2.{n}" for n in range(1, 8)]
    ips += [f"198.51.100.{n}" for n in range(1, 7)]
    ips += [f"2001:db8::{n:x}" for n in range(1, 8)]
    assert len(ips) == ALTRADY_IPS_PER_KEY
    assert load_it(write_toml(tmp_path, account(ips=ips))).accounts[0].ips == ips


# --- refusals ----------------------------------------------------------------------------


def test_unknown_exchange(tmp_path: Path) -> None:
    path = write_toml(tmp_path, account(), account(exchange="FooEx", name="Foo", key="k9"))
    message = refusal(path)
    assert_names(message, 1, "Foo", "exchange", "'fooex'", "binance")


def test_malformed_ip(tmp_path: Path) -> None:
    ips = [*IPS[:19], "203.0.113.300"]
    message = refusal(write_toml(tmp_path, account(ips=ips)))
    assert_names(message, 0, "My Binance", "ips", "203.0.113.300", "not a valid IP")


@pytest.mark.parametrize("bad", ["203.0.113", "hello", "203.0.113.1.5", "::g", "2001:db8:::1"])
def test_malformed_ip_variants(tmp_path: Path, bad: str) -> None:
    message = refusal(write_json(tmp_path, account(ips=[*IPS[:19], bad])))
    assert_names(message, 0, "My Binance", "ips", bad)


def test_duplicate_ip(tmp_path: Path) -> None:
    ips = [*IPS[:19], IPS[3]]
    message = refusal(write_toml(tmp_path, account(ips=ips)))
    assert_names(message, 0, "My Binance", "ips", IPS[3], "twice")


def test_duplicate_ipv6_written_two_ways(tmp_path: Path) -> None:
    ips = ["2001:db8::1", *IPS[:18], "2001:0DB8:0:0:0:0:0:1"]
    message = refusal(write_toml(tmp_path, account(ips=ips)))
    assert_names(message, 0, "My Binance", "ips", "2001:db8::1", "twice")


@pytest.mark.parametrize("count", [19, 21, 1])
def test_count_other_than_20(tmp_path: Path, count: int) -> None:
    ips = [f"203.0.113.{n}" for n in range(1, count + 1)]
    path = write_toml(tmp_path, account(ips=ips))
    message = refusal(path)
    noun = "address" if count == 1 else "addresses"  # counted as a person counts
    assert_names(message, 0, "My Binance", "ips", f"{count} {noun}", "--allow-count")
    assert load_it(path, allow_count=True).accounts[0].ips == ips


def test_empty_list_refused_even_with_allow_count(tmp_path: Path) -> None:
    message = refusal(write_toml(tmp_path, account(ips=[])), allow_count=True)
    assert_names(message, 0, "My Binance", "ips", "empty")


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("169.254.10.1", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("100.127.255.254", "carrier-grade NAT"),
    ],
)
def test_addresses_that_can_never_be_altrady(tmp_path: Path, address: str, why: str) -> None:
    message = refusal(write_toml(tmp_path, account(ips=[*PUBLIC[:19], address])))
    assert_names(message, 0, "My Binance", "ips", address, why)


def test_cgnat_neighbours_are_public(tmp_path: Path) -> None:
    ips = ["100.63.255.255", "100.128.0.0", *PUBLIC[:18]]
    assert load_it(write_toml(tmp_path, account(ips=ips))).accounts[0].ips == ips


def test_scoped_ipv6_address_refused(tmp_path: Path) -> None:
    # A zone id ("%eth0") only means something on the user's own machine.
    ips = [*PUBLIC[:19], "2001:4860::1%eth0"]
    message = refusal(write_toml(tmp_path, account(ips=ips)))
    assert_names(message, 0, "My Binance", "ips", "2001:4860::1%eth0")


def test_cidr_refused_where_the_exchange_takes_single_addresses(tmp_path: Path) -> None:
    ips = [*PUBLIC[:19], "8.8.100.0/24"]
    message = refusal(write_toml(tmp_path, account(exchange="binance", ips=ips)))
    assert_names(message, 0, "My Binance", "ips", "8.8.100.0/24", "CIDR")
    # also when nothing says the exchange takes ranges
    with pytest.raises(BadInput, match="CIDR"):
        load(write_toml(tmp_path, account(exchange="binance", ips=ips)), allow_count=True)


def test_cidr_accepted_where_the_exchange_takes_ranges(tmp_path: Path) -> None:
    ips = [*PUBLIC[:18], "8.8.100.0/24", "2001:4860:0:0::/64"]
    path = write_toml(tmp_path, account(exchange="kraken", name="K", key="main", ips=ips))
    assert load_it(path).accounts[0].ips == [*PUBLIC[:18], "8.8.100.0/24", "2001:4860::/64"]


def test_single_address_cidr_is_the_address(tmp_path: Path) -> None:
    ips = [*PUBLIC[:19], f"{PUBLIC[0]}/32"]
    path = write_toml(tmp_path, account(exchange="kraken", name="K", key="main", ips=ips))
    assert_names(refusal(path), 0, "K", "ips", PUBLIC[0], "twice")


def test_cidr_range_of_private_addresses_refused(tmp_path: Path) -> None:
    ips = [*PUBLIC[:19], "10.1.0.0/16"]
    path = write_toml(tmp_path, account(exchange="kraken", name="K", key="main", ips=ips))
    assert_names(refusal(path), 0, "K", "ips", "10.1.0.0/16", "private")


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("64.0.0.0/2", ("64.0.0.0/2", "wider than /16")),  # holds 127/8 and more
        ("2000::/3", ("2000::/3", "wider than /32")),
        ("8.8.100.5/24", ("8.8.100.5/24", "host bits set", "8.8.100.0/24")),
    ],
)
def test_ranges_that_cannot_be_an_allocation_refused(
    tmp_path: Path, entry: str, words: tuple[str, ...]
) -> None:
    path = write_toml(
        tmp_path, account(exchange="kraken", name="K", key="main", ips=[*PUBLIC[:19], entry])
    )
    assert_names(refusal(path), 0, "K", "ips", *words)


def test_over_the_exchange_maximum(tmp_path: Path) -> None:
    path = write_toml(tmp_path, account(ips=PUBLIC))
    message = refusal(path, max_ips={"binance": 10})
    assert_names(message, 0, "My Binance", "ips", "20 addresses", "at most 10")
    few = write_toml(tmp_path, account(ips=PUBLIC[:12]), name="few.toml")
    message = refusal(few, max_ips={"binance": 10}, allow_count=True)
    assert_names(message, 0, "My Binance", "ips", "12 addresses", "at most 10")
    assert len(load_it(few, max_ips={"binance": 12}, allow_count=True).accounts[0].ips) == 12


def test_key_named_twice_across_accounts(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        account(name="First", key="Altrady main"),
        account(name="Second", key="other", extra_keys=["Altrady main"], ips=PUBLIC),
    )
    message = refusal(path)
    assert_names(message, 1, "Second", "extra_keys", "'Altrady main'")
    assert "accounts[0] ('First')" in message


def test_same_key_name_on_different_exchanges_is_fine(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        account(name="First", key="main"),
        account(exchange="kraken", name="Second", key="main", ips=PUBLIC),
    )
    assert [a.exchange for a in load_it(path).accounts] == ["binance", "kraken"]


def test_key_named_twice_within_an_account(tmp_path: Path) -> None:
    path = write_toml(tmp_path, account(key="main", extra_keys=["spare", "main"]))
    assert_names(refusal(path), 0, "My Binance", "extra_keys", "'main'", "twice")


def test_unknown_field_in_an_account(tmp_path: Path) -> None:
    path = write_toml(tmp_path, account(), account(name="Typo", key="k2", ip_list=["1.1.1.1"]))
    assert_names(refusal(path), 1, "Typo", "ip_list", "not a known field")


def test_unknown_top_level_field(tmp_path: Path) -> None:
    path = tmp_path / "alloc.json"
    path.write_text(json.dumps({"accounts": [account()], "acounts": []}), encoding="utf-8")
    message = refusal(path)
    assert "acounts" in message and "not a known field" in message


@pytest.mark.parametrize("missing", ["exchange", "name", "key", "ips"])
def test_missing_field(tmp_path: Path, missing: str) -> None:
    acc = account(name="Short")
    del acc[missing]
    message = refusal(write_json(tmp_path, acc))
    assert f"{missing}: is missing" in message
    assert "accounts[0]" in message


def test_no_accounts(tmp_path: Path) -> None:
    path = tmp_path / "alloc.toml"
    path.write_text("accounts = []\n", encoding="utf-8")
    assert "accounts" in refusal(path)


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        account(name="One", exchange="nope"),
        account(name="Two", key="k2", ips=[*IPS[:19], "127.0.0.1"]),
    )
    message = refusal(path)
    assert_names(message, 0, "One", "exchange", "'nope'")
    assert_names(message, 1, "Two", "ips", "127.0.0.1", "loopback")
    assert len(message.splitlines()) == 2


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    assert "no such file" in refusal(path)


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "alloc.toml"
    path.write_text('[[accounts]]\nexchange = "binance\n', encoding="utf-8")
    assert "not valid TOML" in refusal(path)


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "alloc.json"
    path.write_text('{"accounts": [', encoding="utf-8")
    assert "not valid JSON" in refusal(path)


def test_json_that_is_not_an_object(tmp_path: Path) -> None:
    path = tmp_path / "alloc.json"
    path.write_text(json.dumps([account()]), encoding="utf-8")
    refusal(path)


def test_bundled_demo_allocation_loads() -> None:
    demo = Path(__file__).resolve().parent.parent / "fixtures" / "allocations" / "demo.toml"
    alloc = load_allocation(demo, allow_count=False)  # with every flow's rules
    assert all(len(a.ips) == ALTRADY_IPS_PER_KEY for a in alloc.accounts if not a.binds)
    assert [a.exchange for a in alloc.accounts if a.binds] == ["bybit"]


def test_every_problem_of_an_account_is_listed_at_once(tmp_path: Path) -> None:
    ips = [*PUBLIC[:15], "8.8.8.300", "127.0.0.1", PUBLIC[0], "nonsense"]
    path = write_toml(tmp_path, account(name="Many", key="k", extra_keys=["k"], ips=ips))
    lines = refusal(path).splitlines()

    for expected in (
        "'8.8.8.300' is not a valid IP address",
        "127.0.0.1 is a loopback address",
        f"{PUBLIC[0]} is listed twice",
        "'nonsense' is not a valid IP address",
        "19 addresses, but Altrady allocates 20",
        "extra_keys: 'k' named twice",
    ):
        [line] = [line for line in lines if expected in line]
        assert line.startswith("<file>: accounts[0] ('Many') "), line
    assert len(lines) == 6


def test_key_clashes_are_listed_with_the_other_accounts_problems(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        account(name="First", key="main"),
        account(name="Broken", key="other", ips=[*PUBLIC[:19], "10.0.0.1"]),
        account(name="Third", key="main", ips=PUBLIC),
        account(name="Fourth", key="spare", extra_keys=["main"], ips=PUBLIC),
    )
    message = refusal(path)

    assert_names(message, 1, "Broken", "ips", "10.0.0.1", "private")
    assert_names(message, 2, "Third", "key: key 'main' on binance is already in accounts[0]")
    assert_names(message, 3, "Fourth", "extra_keys: key 'main' on binance is already in")
    assert len(message.splitlines()) == 3


# --- a file that is not an allocation file, in words -------------------------------------


def test_an_empty_file_says_it_is_empty_and_what_goes_in_it(tmp_path: Path) -> None:
    for name in ("alloc.toml", "alloc.json"):
        path = tmp_path / name
        path.write_text("\n  \n", encoding="utf-8")
        message = refusal(path)
        assert "<file>: the file is empty" in message, message
        assert "[[accounts]]" in message and "is missing" not in message, message


def test_a_file_without_accounts_says_so_in_words(tmp_path: Path) -> None:
    path = tmp_path / "alloc.toml"
    path.write_text('title = "mine"\n', encoding="utf-8")
    message = refusal(path)
    assert "<file>: no account in it" in message and "is missing" not in message, message


def test_a_folder_is_named_as_one_not_an_errno(tmp_path: Path) -> None:
    folder = tmp_path / "alloc.toml"
    folder.mkdir()
    message = refusal(folder)
    assert message == "<file>: a folder, not an allocation file (TOML or JSON)", message


def test_bytes_that_are_not_utf8_say_where(tmp_path: Path) -> None:
    path = tmp_path / "alloc.toml"
    path.write_bytes(b"ab\xc5\x00\xff garbage")
    message = refusal(path)
    assert "<file>: not UTF-8 text (byte 3)" in message, message
    assert "codec" not in message and "0xc5" not in message, message
