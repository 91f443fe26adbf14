"""`ipbind assist FILE`: the person enters the list, ipbind helps and checks.

For an exchange ipbind has no flow for, or one whose page changed (exit 4): a visible
browser opens the exchange's API page with a panel beside it holding each account's
addresses, a copy button for each (ticked once copied, like Altrady's own dialog) and a
"copy all" button for each separator the exchange takes. The person signs in and enters
the list as usual. When they say done (Enter at the terminal, or "Done" in the panel),
ipbind reloads the page they are on, reads every address it shows (text and fields), and
reports which allocated addresses it sees and which it does not.

ipbind types nothing into the page here: the person does everything, so any page of the
exchange (`--url`) will do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from assistant import browser as browsers
from assistant import trace as traces
from assistant.allocation import Account, load
from assistant.errors import BadInput, BrowserMissing, ExitCode, UserActionNeeded
from assistant.human import interactive
from assistant.net import unreachable_hint
from assistant.opening import origin_of
from assistant.output import ConsoleReporter
from assistant.settings import BaseIpbindSettings, load_settings
from flows import FLOWS
from flows.base import NETWORK_ERROR, ips_in
from flows.settle import Settler

PANEL_ID = "ipbind-assist-panel"
SEPARATOR_NAMES = {",": "comma", " ": "space", "\n": "new line"}
SETTLE_MS = 15000  # how long a page that never quiets is waited for before it is read as it is
# The person's part, for tests: what they do on the page before saying done.
Person = Callable[[Page], None]


@dataclass
class Seen:
    account: Account
    seen: list[str]

    @property
    def missing(self) -> list[str]:
        return [ip for ip in self.account.ips if ip not in self.seen]


def assist(
    file: Path,
    *,
    url: str | None = None,
    exchanges: list[str] | None = None,
    settings: BaseIpbindSettings | None = None,
    allow_count: bool = False,
    person: Person | None = None,
    reporter: ConsoleReporter | None = None,
    chromium: Browser | None = None,
    run_dir: Path | None = None,
) -> ExitCode:
    """Opens each exchange of `file` (or only `exchanges`) in turn, in `chromium` when given
    (a visible one: the tests launch theirs), else in a visible browser of its own; exit 0
    when every address shows on the pages, 1 when some do not. With `run_dir` (-v), a trace
    per exchange goes there, scrubbed as apply's are."""
    reporter = reporter or ConsoleReporter()
    try:
        settings = settings or load_settings()
        accounts = accounts_of(file, url, exchanges, allow_count)
        pages = {
            ex: page_url(ex, url, settings) for ex in dict.fromkeys(a.exchange for a in accounts)
        }
        results: list[Seen] = []

        def each(browser: Browser) -> None:
            for exchange, address in pages.items():
                mine = [a for a in accounts if a.exchange == exchange]
                results.extend(
                    assist_exchange(browser, exchange, address, mine, reporter, person, run_dir)
                )

        # A visible browser, whatever the settings say: the person works in it.
        window = "`ipbind assist`"
        with browsers.opened(settings, headless=False, window=window, given=chromium) as own:
            each(own)
    except (BadInput, UserActionNeeded, BrowserMissing) as err:
        reporter.error(err, None)
        return err.exit_code
    return report(results, reporter)


def accounts_of(
    file: Path, url: str | None, exchanges: list[str] | None, allow_count: bool
) -> list[Account]:
    """The allocation's accounts to assist with. With `--url`, any exchange name will do
    (the page is given); without, the exchange must be one ipbind knows the page of."""
    allocation = load(
        file,
        exchanges=None if url else FLOWS,
        cidr={fid: flow.cidr for fid, flow in FLOWS.items()},
        max_ips={fid: flow.max_ips for fid, flow in FLOWS.items()},
        allow_count=allow_count,
    )
    accounts = [a for a in allocation.accounts if not exchanges or a.exchange in exchanges]
    if url and len({a.exchange for a in accounts}) > 1:
        raise BadInput("--url gives one page: the file names several exchanges")
    return accounts


def page_url(exchange: str, url: str | None, settings: BaseIpbindSettings) -> str:
    if url:
        if urlsplit(url).scheme not in ("http", "https"):
            raise BadInput(f"--url: {url!r} is not an http(s) URL")
        return url
    return origin_of(settings, exchange) + FLOWS[exchange].api_path


def separators_of(exchange: str) -> str:
    flow = FLOWS.get(exchange)
    return flow.separators if flow else ",\n"


def assist_exchange(
    chromium: Browser,
    exchange: str,
    address: str,
    accounts: list[Account],
    reporter: ConsoleReporter,
    person: Person | None,
    run_dir: Path | None = None,
) -> list[Seen]:
    context = chromium.new_context(locale="en-US", no_viewport=True)
    if run_dir is not None:
        traces.start(context, f"ipbind assist {exchange}")
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(address))
    with suppress(PlaywrightError):  # without these permissions the panel falls back
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    context.add_init_script(panel_script(exchange, accounts))
    page = context.new_page()
    settler = Settler(page)  # the same wait for a settled page as every flow's
    name = FLOWS[exchange].name if exchange in FLOWS else exchange
    try:
        page.goto(address)
        reporter.say(
            f"{name}: the page is open at {address}, with your addresses in a panel. Sign in, "
            "enter them on each key, save; then press Enter here (or Done in the panel).",
            "bold",
        )
        if person is not None:
            person(page)
        wait_for_done(page)
        page.reload()
        settler.settle(SETTLE_MS, name)  # the list, not its skeleton
        shown = ips_in(page.evaluate(PAGE_TEXT_JS, PANEL_ID))
    except PlaywrightError as err:
        if "closed" in str(err):
            raise UserActionNeeded(f"{exchange}: the browser was closed before Done") from None
        if network := NETWORK_ERROR.search(str(err)):
            raise UserActionNeeded(
                f"{name}: could not open {address} ({network.group(0)})",
                hint=unreachable_hint(origin),
            ) from None
        raise
    finally:
        # scrubbed: what the person typed (a password, a code) is masked, as in apply's
        trace = run_dir / f"trace-{exchange}.zip" if run_dir else None
        if trace and traces.save_if_possible(context, trace):
            reporter.say(f"Trace (secrets scrubbed): {trace}", "dim", error=True)
        context.close()
    return [Seen(a, [ip for ip in a.ips if ip in shown]) for a in accounts]


def wait_for_done(page: Page) -> None:
    """Until "Done" is pressed in the panel, or Enter at the terminal."""
    entered = threading.Event()
    if interactive():

        def read_enter() -> None:
            input()
            entered.set()

        threading.Thread(target=read_enter, daemon=True).start()
    while not entered.is_set():
        try:
            page.wait_for_function(
                "() => sessionStorage.getItem('ipbind-done') === '1'", timeout=500
            )
            return
        except PlaywrightTimeout:
            continue
        except PlaywrightError as err:  # the page navigated meanwhile: look again
            if "closed" in str(err):
                raise
            time.sleep(0.2)


def report(results: list[Seen], reporter: ConsoleReporter) -> ExitCode:
    for result in results:
        account, total = result.account, len(result.account.ips)
        line = f"{account.exchange}: {account.name}: {len(result.seen)} of {total} addresses seen"
        reporter.say(line, "green" if not result.missing else "yellow")
        if result.missing:
            reporter.say(f"  not seen: {', '.join(result.missing)}", "yellow")
    if any(r.missing for r in results):
        reporter.say(
            "Addresses not seen are not on the page you were on when you pressed Done (or it "
            "shows only part of a list): check them on the exchange, then run assist again.",
            "dim",
        )
        return ExitCode.NOT_VERIFIED
    reporter.say(
        "Every address shows on the exchange's page. Last step, in Altrady: Settings > "
        "Exchange API Keys, edit the trading account and click Update.",
        "bold",
    )
    return ExitCode.OK


# The page's text and its fields' values, without the panel.
PAGE_TEXT_JS = """(panelId) => {
  const panel = document.getElementById(panelId);
  if (panel) panel.remove();
  const values = [...document.querySelectorAll('input, textarea')].map((i) => i.value);
  const text = document.body.innerText + ' ' + values.join(' ');
  if (panel) document.body.append(panel);
  return text;
}"""


def panel_script(exchange: str, accounts: list[Account]) -> str:
    """The panel, added to every page the context loads (the person may sign in first)."""
    data = {
        "id": PANEL_ID,
        "exchange": FLOWS[exchange].name if exchange in FLOWS else exchange,
        "accounts": [{"name": a.name, "keys": a.keys, "ips": a.ips} for a in accounts],
        "separators": [
            [sep, SEPARATOR_NAMES.get(sep, repr(sep))] for sep in separators_of(exchange)
        ],
    }
    return PANEL_JS.replace("__DATA__", json.dumps(data))


PANEL_JS = """(() => {
const DATA = __DATA__;
async function copy(text) {
  try { await navigator.clipboard.writeText(text); return; } catch (e) { /* fall back */ }
  const area = document.createElement('textarea');
  area.value = text;
  document.body.append(area);
  area.select();
  document.execCommand('copy');
  area.remove();
}
function button(label, name, onCopied) {
  const b = document.createElement('button');
  b.type = 'button';
  b.textContent = label;
  b.setAttribute('aria-label', name);
  b.style.cssText = 'margin:1px 4px;font:inherit;cursor:pointer';
  b.addEventListener('click', async (ev) => {
    ev.stopPropagation();
    await onCopied();
    b.textContent = '\\u2713 ' + label.replace(/^\\u2713 /, '');
    b.setAttribute('aria-label', 'Copied: ' + name);
  });
  return b;
}
function build() {
  if (document.getElementById(DATA.id) || !document.body) return;
  const panel = document.createElement('aside');
  panel.id = DATA.id;
  panel.setAttribute('aria-label', 'ipbind: addresses to whitelist');
  panel.style.cssText = 'position:fixed;top:8px;right:8px;z-index:2147483647;max-height:90vh;' +
    'overflow:auto;background:#fffbe6;border:2px solid #d4a017;padding:8px;font:13px sans-serif;' +
    'color:#000;width:300px;box-shadow:0 2px 8px rgba(0,0,0,.3)';
  // The page makes room for the panel: its own controls are never under it.
  document.body.style.marginRight = '324px';
  const title = document.createElement('strong');
  title.textContent = 'ipbind: ' + DATA.exchange;
  panel.append(title);
  for (const account of DATA.accounts) {
    const head = document.createElement('p');
    const keys = account.keys.length === 1 ? ' \\u2014 key: ' : ' \\u2014 keys: ';
    head.textContent = account.name + keys + account.keys.join(', ');
    panel.append(head);
    for (const [sep, sepName] of DATA.separators) {
      panel.append(button('Copy all (' + sepName + ')', 'Copy all of ' + account.name +
        ' (' + sepName + ')', () => copy(account.ips.join(sep))));
    }
    const list = document.createElement('ul');
    list.style.cssText = 'list-style:none;padding:0;margin:4px 0';
    for (const ip of account.ips) {
      const item = document.createElement('li');
      item.append(document.createTextNode(ip));
      item.append(button('Copy', 'Copy ' + ip, () => copy(ip)));
      list.append(item);
    }
    panel.append(list);
  }
  const done = document.createElement('button');
  done.type = 'button';
  done.textContent = 'Done';
  done.style.cssText = 'font-weight:bold;margin-top:6px';
  done.addEventListener('click', () => {
    sessionStorage.setItem('ipbind-done', '1');
    done.textContent = 'Done: ipbind is reading the page';
  });
  panel.append(done);
  document.body.append(panel);
}
if (sessionStorage.getItem('ipbind-done') === '1') return;  // read back without the panel
if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', build);
else build();
new MutationObserver(build).observe(document.documentElement, { childList: true, subtree: true });
})();"""
