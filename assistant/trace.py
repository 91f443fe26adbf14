"""Playwright traces of a verbose run (`-v`), one per browser context, with the secrets
scrubbed out before a trace reaches the run's folder.

A trace holds what was typed: the `fill` calls, every input's value in each DOM snapshot,
the bodies of the page's requests, the session cookies. So a trace is recorded only when
asked for, with DOM snapshots but never screenshots (a screencast frame shows a typed code,
and no scrub can find text in a JPEG), and before it is written out every entry of the zip
is scrubbed of every secret the redactor knows (as typed, and as it shows up inside JSON,
URL-encoded or HTML-escaped text), of every cookie value, of the value of every password
field in a snapshot, and of every secret-looking field of a request body (a password or code
a person typed by hand, which ipbind never knew).

    playwright show-trace <run folder>/trace-binance.zip
"""

from __future__ import annotations

import html
import json
import os
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode

from loguru import logger
from playwright.sync_api import BrowserContext
from playwright.sync_api import Error as PlaywrightError

from assistant.errors import first_line
from assistant.logs import MASK, redactor

# Entries written as JSON lines by Playwright: scrubbed value by value (a code that happens
# to equal a number in the trace, a timestamp say, must not break the JSON).
JSON_LINES = (".trace", ".network", ".stacks")
# Fields of a request body that hold what a person typed to prove who they are.
SECRET_FIELD = re.compile(r"pass|secret|code|otp|2fa|token", re.I)
COOKIE_HEADERS = {"cookie", "set-cookie"}
# A call that types its `value` into the field its selector names (a script playing the
# person types a password this way, which no value scrub knows).
TYPING = {"fill", "type", "pressSequentially"}
TYPED = re.compile(r'\b(fill|type|pressSequentially)\("(?:[^"\\]|\\.)*"\)')  # its call log

Scrub = Callable[[str], str]


def start(context: BrowserContext, title: str) -> None:
    """Records the context from now on: actions, DOM snapshots, the network; no screenshots."""
    context.tracing.start(title=title, snapshots=True, screenshots=False, sources=False)


def save(context: BrowserContext, path: Path) -> Path:
    """Stops the context's trace and writes it, scrubbed, to `path` (0600). The raw trace
    only ever lives in a private temporary folder, removed at once."""
    with tempfile.TemporaryDirectory(prefix="ipbind-trace-") as folder:  # 0700
        raw = Path(folder) / "raw.zip"
        context.tracing.stop(path=raw)
        scrub_zip(raw, path, redactor.values())
    return path


def save_if_possible(context: BrowserContext, path: Path) -> Path | None:
    """`save`; None (and a line in the debug log) when it cannot be: the browser closed
    under it (a Ctrl-C, the person), a full disk."""
    try:
        return save(context, path)
    except (PlaywrightError, OSError) as err:
        logger.info("no trace {}: {}", path.name, first_line(err))
        return None


def forms_of(secret: str) -> set[str]:
    """`secret` as it may show up in a trace: as typed, JSON-escaped (a request body; a
    snapshot), URL-encoded (a query string, a form body, `encodeURIComponent`), HTML-escaped;
    and each of those once more (a JSON body inside a JSON trace line)."""
    encoders: list[Callable[[str], str]] = [
        lambda s: json.dumps(s)[1:-1],
        lambda s: json.dumps(s, ensure_ascii=False)[1:-1],
        lambda s: quote(s, safe=""),
        lambda s: quote(s, safe="-_.!~*'()"),  # encodeURIComponent
        lambda s: quote_plus(s, safe=""),
        lambda s: quote_plus(s, safe="*-._"),  # URLSearchParams
        lambda s: html.escape(s, quote=True),
        lambda s: html.escape(s, quote=False),
    ]
    once = {secret} | {encode(secret) for encode in encoders}
    return once | {encode(form) for form in once for encode in encoders}


def scrubber(secrets: Iterable[str]) -> tuple[Scrub, Callable[[bytes], bytes]]:
    """Replacers for text and for bytes of every form of every secret. A code (all digits)
    is replaced only where it stands alone, not inside a longer number; codes are looked up
    in a set rather than tried one by one, since a run may know many."""
    forms = {f for s in secrets if s for f in forms_of(s)}
    codes = {f for f in forms if f.isdigit()}
    words = sorted(forms - codes, key=len, reverse=True)  # longest first: a secret whole
    pattern = "|".join([*map(re.escape, words), r"(?P<n>(?<!\d)\d{4,}(?!\d))"])
    text_pattern, bytes_pattern = re.compile(pattern), re.compile(pattern.encode())
    byte_codes, mask = {c.encode() for c in codes}, MASK.encode()

    def text(found: re.Match[str]) -> str:
        return found[0] if found["n"] and found[0] not in codes else MASK

    def data(found: re.Match[bytes]) -> bytes:
        return found[0] if found["n"] and found[0] not in byte_codes else mask

    return (lambda t: text_pattern.sub(text, t)), (lambda d: bytes_pattern.sub(data, d))


def scrub_zip(source: Path, target: Path, secrets: Iterable[str]) -> None:
    """Writes `source` (a trace zip) to `target` (created 0600), every entry scrubbed."""
    scrub_text, scrub_bytes = scrubber(secrets)
    with zipfile.ZipFile(source) as zin:
        entries = {info.filename: zin.read(info) for info in zin.infolist()}
    bodies = request_bodies(entries)
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    part = target.with_name(f".{target.name}.part")
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for name, data in entries.items():
            if name.endswith(JSON_LINES):
                data = scrub_json_lines(data, scrub_text)
            elif name in bodies:
                data = scrub_bytes(scrub_body(data))
            else:
                data = scrub_bytes(data)
            zout.writestr(name, data)
    os.replace(part, target)


def scrub_json_lines(data: bytes, scrub_text: Scrub) -> bytes:
    lines: list[str] = []
    typed_secret: set[str] = set()  # the calls that typed into a secret's field
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            lines.append(scrub_text(line))
            continue
        event = scrub_value(event, scrub_text)
        if isinstance(event, dict):
            if event.get("params", {}).get("value") == MASK and event.get("method") in TYPING:
                typed_secret.add(str(event.get("callId")))
            if event.get("type") == "log" and str(event.get("callId")) in typed_secret:
                event["message"] = TYPED.sub(rf'\1("{MASK}")', str(event.get("message", "")))
        lines.append(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def scrub_value(value: Any, scrub_text: Scrub) -> Any:
    """Every string in a trace event scrubbed; cookie values and the values of password
    fields in DOM snapshots masked whatever they are."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [scrub_value(v, scrub_text) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: scrub_value(v, scrub_text) for k, v in value.items()}
    if str(out.get("name", "")).lower() in COOKIE_HEADERS and "value" in out:
        out["value"] = MASK  # a header {name, value}
    if isinstance(out.get("cookies"), list):
        out["cookies"] = [
            {**c, "value": MASK} if isinstance(c, dict) else c for c in out["cookies"]
        ]
    if str(out.get("type", "")).lower() == "password" and "__playwright_value_" in out:
        out["__playwright_value_"] = MASK  # a snapshot's attributes of <input type=password>
    params = out.get("params")
    if (
        out.get("method") in TYPING
        and isinstance(params, dict)
        and "value" in params
        and SECRET_FIELD.search(str(params.get("selector", "")))
    ):
        out["params"] = {**params, "value": MASK}  # typed into a field a secret goes in
    post = out.get("postData")
    if isinstance(post, dict):  # a request body kept inline in the network log
        if isinstance(post.get("text"), str):
            post["text"] = scrub_body(post["text"].encode()).decode()
        if isinstance(post.get("params"), list):
            post["params"] = [
                {**p, "value": MASK}
                if isinstance(p, dict) and SECRET_FIELD.search(str(p.get("name", "")))
                else p
                for p in post["params"]
            ]
    return out


def request_bodies(entries: dict[str, bytes]) -> set[str]:
    """The resources holding the bodies of the page's requests (named in the network log)."""
    found: set[str] = set()
    for name, data in entries.items():
        if not name.endswith(".network"):
            continue
        for line in data.decode("utf-8", errors="replace").splitlines():
            try:
                post = json.loads(line)["snapshot"]["request"]["postData"]
            except (ValueError, KeyError, TypeError):
                continue
            if isinstance(post, dict) and post.get("_file"):
                found.add(str(post["_file"]))
            elif isinstance(post, dict) and post.get("_sha1"):
                found.add(f"resources/{post['_sha1']}")
    return found


def scrub_body(data: bytes) -> bytes:
    """A request body (JSON, or a form) with every secret-looking field masked: what a
    person typed into the page by hand never went through ipbind, so no value scrub knows
    it."""
    text = data.decode("utf-8", errors="replace")
    try:
        return json.dumps(mask_fields(json.loads(text)), ensure_ascii=False).encode()
    except ValueError:
        pass
    if "=" in text and not text.lstrip().startswith(("<", "{", "[")):
        pairs = parse_qsl(text, keep_blank_values=True)
        masked = [(k, MASK if SECRET_FIELD.search(k) else v) for k, v in pairs]
        return urlencode(masked).encode()
    return data


def mask_fields(value: Any) -> Any:
    if isinstance(value, list):
        return [mask_fields(v) for v in value]
    if isinstance(value, dict):
        return {
            k: MASK if SECRET_FIELD.search(k) and isinstance(v, str | int) else mask_fields(v)
            for k, v in value.items()
        }
    return value
