"""Opening an exchange, the one way every command does (plan, apply and verify; login;
assist; doctor):

    origin_of       where it is reached: its own origin, or a loopback BASE_URL (a mock)
    credentials_of  the sign-in and the flow's other secrets, masked in every log line
    codes_for       authenticator codes: from the TOTP secret, else asked at the terminal
    open_exchange   a browser context (the saved session, a trace) and the flow on its page

The browser itself is launched in `assistant.browser` (`opened`, `launch_for`) alone. The
flow types credentials only on the origin given here (`Flow.check_origin`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Browser, StorageState

from assistant import browser as browsers
from assistant import signin
from assistant import trace as traces
from assistant.errors import BadInput
from assistant.logs import redactor
from assistant.mail import Mailbox, senders_of
from assistant.settings import BaseIpbindSettings, site_origin
from assistant.targets import fixes_of
from assistant.twofa import CLOCK, Ask, Codes, PromptedCodes, StepMemory, TotpCodes
from flows import SIGN_INS
from flows.base import Credentials, Flow, Human

TOTP_STEPS_FILE = "totp-steps.json"


def origin_of(settings: BaseIpbindSettings, exchange: str) -> str:
    """Where `exchange` is reached: its real origin, or the BASE_URL set for it."""
    conf = settings.exchange(exchange)
    return site_origin(
        conf.base_url, SIGN_INS[exchange].origins, f"IPBIND_{exchange.upper()}__BASE_URL"
    )


def credentials_of(settings: BaseIpbindSettings, exchange: str) -> Credentials | None:
    """The username and password (and the flow's other secrets) when both are set; None:
    the person signs in. Every secret of the exchange is masked in the logs from here on."""
    conf = settings.exchange(exchange)
    redactor.add(*conf.secret_values())
    if not (conf.username and conf.password):
        return None
    secrets = {name: getattr(conf, name, None) for name in SIGN_INS[exchange].secrets}
    source = signin.source_of(conf)
    return Credentials(
        conf.username,
        conf.password,
        {k: v for k, v in secrets.items() if v},
        source=source,
        check=signin.check_for(exchange, source),
        accepted=conf._on_taken,  # typed at the terminal: the keyring's offer waits for this
    )


def codes_for(
    settings: BaseIpbindSettings,
    exchange: str,
    origin: str,
    *,
    ask: Ask | None,
    nap: Callable[[float], None] | None = None,
    tell: Callable[[str], None] | None = None,
) -> Codes:
    """Codes from the TOTP secret when one is set (waiting out a spent step with `nap`, and
    saying so with `tell` when a run before this one spent it), else asked (`ask`: a prompt
    at the terminal, whose countdown says it). A step a run just before this one spent is
    spent for this one too (`StepMemory`)."""
    conf = settings.exchange(exchange)
    memory = StepMemory(settings.state_home / TOTP_STEPS_FILE, origin)
    totp = conf.totp()
    if totp is not None:
        secret = totp.secret.get_secret_value()
        sleep = nap or CLOCK.sleep
        return TotpCodes(secret, totp.period, totp.digits, sleep=sleep, memory=memory, tell=tell)
    if ask is None:
        raise BadInput(
            f"{SIGN_INS[exchange].name} needs an authenticator code and there is no terminal to "
            f"ask: set IPBIND_{exchange.upper()}__TOTP_SECRET"
        )
    return PromptedCodes(SIGN_INS[exchange].name, conf.totp_period, ask, memory=memory)


def open_exchange(
    browser: Browser,
    settings: BaseIpbindSettings,
    exchange: str,
    human: Human,
    *,
    origin: str | None = None,
    codes: Codes | None = None,
    ask: Ask | None = None,
    saved_session: bool = True,
    trace: bool = False,
    state: StorageState | None = None,
) -> Flow:
    """`exchange`'s flow on a new page of `browser`, in a context of its own: English, with
    the session `ipbind login` kept (unless `saved_session` is False: a fresh sign-in), and
    a trace when asked (-v; scrubbed of secrets when it is saved); `state`: the session of a
    window closed earlier in this run, in its place. Nothing is opened yet:
    `Flow.open` goes to the API page, signing in on the exchange's origin."""
    origin = origin or origin_of(settings, exchange)
    saved = browsers.session_file(settings.state_home, exchange)
    kept: StorageState | Path | None = state
    if kept is None and saved_session and saved.is_file():
        kept = saved
    context = browser.new_context(locale="en-US", storage_state=kept)
    if trace:
        traces.start(context, f"ipbind {exchange}")
    flow = SIGN_INS[exchange](
        context.new_page(),
        origin,
        credentials_of(settings, exchange),
        codes or codes_for(settings, exchange, origin, ask=ask),
        human,
        timeout=settings.timeout,
    )
    flow.headed = not settings.headless
    flow.fixes = fixes_of(exchange)  # a renamed control, shown to ipbind once
    if settings.mail is not None and flow.mail:  # codes and links from the person's mailbox
        flow.mailbox = Mailbox(
            settings.mail,
            flow.name,
            senders_of(flow.allowed_origins, exchange),
            flow.allowed_origins,
            checkpoint=lambda: flow.checkpoint() if flow.checkpoint is not None else None,
        )
    return flow
