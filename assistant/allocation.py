"""The allocation: which Altrady IP addresses belong to which exchange API key.

Read from TOML (or JSON of the same shape) and validated completely before any browser
starts, so a bad file changes nothing anywhere. The format is a public interface:

    [[accounts]]
    exchange = "binance"        # an exchange id (`ipbind exchanges`)
    name = "My Binance"         # the Altrady trading account, free text
    key = "Altrady main"        # the key's label/name on the exchange, or its API key (prefix)
    extra_keys = []             # further keys that get the same list
    ips = \"\"\"
    203.0.113.10
    203.0.113.11, 203.0.113.12
    \"\"\"                        # or a list; commas, spaces and newlines all separate
"""

from __future__ import annotations

import ipaddress
import json
import re
import tomllib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from assistant.errors import BadInput
from assistant.words import count

ALTRADY_IPS_PER_KEY = 20

# RFC 5737 / RFC 3849 documentation ranges: the mock sites' sample data uses them, and
# they can never be a real Altrady address.
DOCUMENTATION_NETS = [
    ipaddress.ip_network(n)
    for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]
SHARED_NETS = [ipaddress.ip_network("100.64.0.0/10")]  # carrier-grade NAT
# Altrady's addresses are single hosts; a range wider than this is a typo, not an allocation.
WIDEST_PREFIX = {4: 16, 6: 32}

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def split_block(value: Any) -> Any:
    """The block exactly as copied from Altrady: one string, any of , ; space newline."""
    if isinstance(value, str):
        return [token for token in re.split(r"[\s,;]+", value) if token]
    return value


def within(net: IpNetwork, outer: IpNetwork) -> bool:
    return net.version == outer.version and net.subnet_of(outer)  # type: ignore[arg-type]


def is_documentation(net: IpNetwork) -> bool:
    return any(within(net, doc) for doc in DOCUMENTATION_NETS)


def never_altrady(net: IpNetwork) -> str | None:
    """Why an address (or any address of a range) can never be one of Altrady's (public,
    unicast) addresses, if so."""
    for addr in {net.network_address, net.broadcast_address}:
        if why := never_altrady_address(net, addr):
            return why
    return None


def never_altrady_address(net: IpNetwork, addr: IpAddress) -> str | None:
    if addr.is_unspecified:
        return "the unspecified address"
    if addr.is_loopback:
        return "a loopback address"
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if is_documentation(net):
        return None  # decided per target: allowed against a local mock site only
    if addr.is_reserved:
        return "a reserved address"
    if any(within(net, n) for n in SHARED_NETS):
        return "a carrier-grade NAT address"
    if addr.is_private:
        return "a private address"
    return None


class Account(BaseModel):
    """One Altrady trading account's key on one exchange, and its allocated addresses."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    exchange: str
    name: str = Field(min_length=1)
    key: str = Field(min_length=1)
    extra_keys: list[Annotated[str, Field(min_length=1)]] = []
    ips: Annotated[list[str], BeforeValidator(split_block)]
    # Exchanges that bind a key to Altrady instead of taking a list (Bybit): no `ips`, and
    # the key's permissions (the exchange's default when not given).
    permissions: tuple[str, ...] = Field(default=(), validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def binding_or_list(cls, data: Any, info: ValidationInfo) -> Any:
        """A key bound to an app has no `ips` and no extra keys; a key with a list has no
        `permissions`."""
        if not isinstance(data, dict) or not isinstance(data.get("exchange"), str):
            return data
        ctx = info.context or {}
        exchange = ctx.get("aliases", {}).get(data["exchange"].lower(), data["exchange"].lower())
        if exchange not in ctx.get("bindings", {}):
            if "permissions" in data:
                raise ValueError(
                    f"permissions: only for exchanges whose keys are bound to Altrady "
                    f"(not {exchange}, whose keys get the addresses in `ips`)"
                )
            return data
        problems = []
        if "ips" in data:
            problems.append(
                f"ips: {exchange} takes no IP addresses: the key is bound to Altrady, and "
                f"{exchange} then accepts Altrady's shared pool of addresses. Remove `ips`."
            )
        if data.get("extra_keys"):
            problems.append(f"extra_keys: each {exchange} key is an account entry of its own")
        if problems:
            raise ValueError("\n".join(problems))
        return {**data, "ips": []}

    @field_validator("exchange")
    @classmethod
    def known_exchange(cls, value: str, info: ValidationInfo) -> str:
        value = value.lower()
        ctx = info.context or {}
        known = ctx.get("exchanges")
        aliases = ctx.get("aliases", {})
        if known is not None and value not in known and value not in aliases:
            names = sorted({*known, *aliases})
            raise ValueError(f"unknown exchange {value!r}; supported: {', '.join(names)}")
        return aliases.get(value, value)

    @field_validator("permissions", mode="before")
    @classmethod
    def known_permissions(cls, value: Any, info: ValidationInfo) -> tuple[str, ...]:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ValueError("a list of permission names")
        rules = (info.context or {}).get("bindings", {}).get(info.data.get("exchange"))
        return rules(list(value)) if rules else tuple(value)

    @field_validator("ips")
    @classmethod
    def valid_addresses(cls, values: list[str], info: ValidationInfo) -> list[str]:
        """Every problem of the list, one per line (see `describe`), not just the first."""
        ctx = info.context or {}
        exchange = info.data.get("exchange")  # absent when the exchange itself is wrong
        if exchange in ctx.get("bindings", {}):
            return []  # a key bound to an app: no list (see binding_or_list)
        out, problems = normalise_all(values, ctx.get("cidr", {}).get(exchange, False))
        if not values:
            problems.append("the list is empty")
        elif len(values) != ALTRADY_IPS_PER_KEY and not ctx.get("allow_count"):
            problems.append(
                f"{count(len(values), 'address')}, but Altrady allocates "
                f"{ALTRADY_IPS_PER_KEY} per key (copy the whole list, or pass --allow-count)"
            )
        limit = ctx.get("max_ips", {}).get(exchange)
        if limit is not None and len(values) > limit:
            problems.append(
                f"{count(len(values), 'address')}, but {exchange} allows at most {limit} "
                "per key; nothing was changed"
            )
            if limit < ALTRADY_IPS_PER_KEY:  # the exchange's cap, not the user's list
                problems.append(
                    f"{exchange} takes fewer addresses per key than the {ALTRADY_IPS_PER_KEY} "
                    "Altrady allocates, so no key there can hold the whole list. Altrady's "
                    "advice: leave this key unrestricted (take it out of the file) and use "
                    f"extra keys; or ask Altrady support which {limit} of them to use and list "
                    "only those (with --allow-count)"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return out

    @field_validator("extra_keys")
    @classmethod
    def keys_once_here(cls, extra: list[str], info: ValidationInfo) -> list[str]:
        keys = [info.data.get("key"), *extra]
        dupes = sorted({k for k in keys if k is not None and keys.count(k) > 1})
        if dupes:
            raise ValueError(f"{', '.join(map(repr, dupes))} named twice")
        return extra

    @property
    def keys(self) -> list[str]:
        return [self.key, *self.extra_keys]

    @property
    def binds(self) -> bool:
        """A key bound to Altrady (no list); its permissions are always set then."""
        return bool(self.permissions)


class Allocation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    accounts: list[Account] = Field(min_length=1)

    @model_validator(mode="after")
    def keys_once(self) -> Allocation:
        clashes = key_clashes(list(enumerate(self.accounts)))
        if clashes:
            raise ValueError("\n".join(clashes))
        return self


def key_clashes(accounts: list[tuple[int, Account]]) -> list[str]:
    """A key given two lists: each (exchange, key) may appear in one account only. A key
    bound to Altrady may serve several accounts (Bybit and Bybit Futures), with one set of
    permissions."""
    seen: dict[tuple[str, str], tuple[str, Account]] = {}
    clashes = []
    for index, account in accounts:
        here = here_of(index, account)
        fields = ["key"] + ["extra_keys"] * len(account.extra_keys)
        for field, key in zip(fields, account.keys, strict=True):
            first = seen.setdefault((account.exchange, key), (here, account))
            if first[1] is account:
                continue
            if not account.binds:
                clashes.append(
                    f"{here} {field}: key {key!r} on {account.exchange} is already in "
                    f"{first[0]}; each key gets one list"
                )
            elif first[1].permissions != account.permissions:
                clashes.append(
                    f"{here} permissions: key {key!r} on {account.exchange} is also in "
                    f"{first[0]}, with other permissions; one key has one set"
                )
    return clashes


def here_of(index: int, account: Account) -> str:
    return f"accounts[{index}] ({account.name!r})"


def valid_accounts(data: Any, context: dict[str, Any]) -> list[tuple[int, Account]]:
    """The accounts of a file that has problems that are valid on their own, by index: to
    find clashes between them as well, in the same report."""
    raw = data.get("accounts") if isinstance(data, dict) else None
    found = []
    for index, item in enumerate(raw if isinstance(raw, list) else []):
        try:
            found.append((index, Account.model_validate(item, context=context)))
        except ValidationError:
            continue
    return found


def normalise_all(values: list[str], cidr_ok: bool) -> tuple[list[str], list[str]]:
    """The canonical addresses, and a problem for each one that is wrong or repeated."""
    out: list[str] = []
    problems: list[str] = []
    for raw in values:
        try:
            ip = normalise(raw, cidr_ok)
        except ValueError as err:
            problems.append(str(err))
            continue
        if ip in out:
            problems.append(f"{ip} is listed twice")
        else:
            out.append(ip)
    return out, problems


def normalise(raw: str, cidr_ok: bool) -> str:
    """The canonical text of an address (or, where allowed, a CIDR range); ValueError if not."""
    token = raw.strip()
    if "/" in token:
        net = parse_range(token, cidr_ok)
    else:
        try:
            if "%" in token:  # an IPv6 zone id ("%eth0") means something on one machine only
                raise ValueError(token)
            net = ipaddress.ip_network(ipaddress.ip_address(token))
        except ValueError:
            raise ValueError(f"{token!r} is not a valid IP address") from None
    why = never_altrady(net)
    if why:
        raise ValueError(f"{token} is {why} and can never be one of Altrady's")
    return str(net.network_address) if net.prefixlen == net.max_prefixlen else str(net)


def parse_range(token: str, cidr_ok: bool) -> IpNetwork:
    if not cidr_ok:
        raise ValueError(f"{token} is a range (CIDR); this exchange takes single addresses")
    try:
        net = ipaddress.ip_network(token, strict=False)
    except ValueError:
        raise ValueError(f"{token!r} is not a valid IP address or range") from None
    if net.network_address != ipaddress.ip_address(token.split("/")[0]):
        raise ValueError(f"{token} has host bits set; the range would be {net}")
    widest = WIDEST_PREFIX[net.version]
    if net.prefixlen < widest:
        raise ValueError(f"{token} is wider than /{widest} and can never be Altrady's")
    return net


def documentation_ips(account: Account) -> list[str]:
    return [ip for ip in account.ips if is_documentation(ipaddress.ip_network(ip))]


NO_ACCOUNTS = (
    "no account in it: each key is an [[accounts]] entry with exchange, name, key and ips "
    "(see the README: Use it on your exchange)"
)


def read_file(path: Path) -> Any:
    """The file's data; BadInput in words for a file that is not one (a folder, no text)."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadInput(f"{path}: a folder, not an allocation file (TOML or JSON)") from None
    except OSError as err:
        raise BadInput(f"{path}: cannot read it ({err.strerror or err})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise BadInput(
            f"{path}: not UTF-8 text (byte {err.start + 1}); an allocation file is TOML or "
            "JSON, saved as plain text"
        ) from None
    if not text.strip():
        raise BadInput(f"{path}: the file is empty; {NO_ACCOUNTS}")
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as err:
        kind = "JSON" if path.suffix.lower() == ".json" else "TOML"
        raise BadInput(f"{path}: not valid {kind}: {err}") from None


def load(
    path: Path,
    *,
    exchanges: Iterable[str] | None = None,
    cidr: dict[str, bool] | None = None,
    max_ips: dict[str, int] | None = None,
    allow_count: bool = False,
    aliases: dict[str, str] | None = None,
    bindings: dict[str, Callable[[list[str]], tuple[str, ...]]] | None = None,
) -> Allocation:
    """Parse and validate an allocation file; BadInput names the account, field and value.
    `aliases`: other names of an exchange; `bindings`: the exchanges that bind a key to
    Altrady instead of taking a list, each with its check of `permissions`."""
    data = read_file(path)
    context = {
        "exchanges": set(exchanges) if exchanges is not None else None,
        "cidr": cidr or {},
        "max_ips": max_ips or {},
        "allow_count": allow_count,
        "aliases": aliases or {},
        "bindings": bindings or {},
    }
    try:
        return Allocation.model_validate(data, context=context)
    except ValidationError as err:
        problems = describe(path, data, err)
    clashes = [f"{path}: {c}" for c in key_clashes(valid_accounts(data, context))]
    raise BadInput("\n".join(dict.fromkeys(problems + clashes)))


def describe(path: Path, data: Any, err: ValidationError) -> list[str]:
    """One line per problem: file, account (by index and name), field, what is wrong."""
    lines: list[str] = []
    for problem in err.errors():
        loc = list(problem["loc"])
        if loc == ["accounts"] and problem["type"] in ("missing", "too_short"):
            lines.append(f"{path}: {NO_ACCOUNTS}")
            continue
        where = str(path)
        if len(loc) >= 2 and loc[0] == "accounts" and isinstance(loc[1], int):
            index = loc[1]
            where += f": accounts[{index}]"
            name = account_name(data, index)
            if name:
                where += f" ({name!r})"
            loc = loc[2:]
        if loc:
            where += " " + ".".join(str(part) for part in loc)
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "missing":
            message = "is missing"
        elif problem["type"] == "extra_forbidden":
            message = "is not a known field"
        lines.extend(f"{where}: {line}" for line in message.splitlines())
    return lines


def account_name(data: Any, index: int) -> str | None:
    try:
        name = data["accounts"][index].get("name")
    except (KeyError, IndexError, TypeError, AttributeError):
        return None
    return name if isinstance(name, str) else None
