"""One flow per exchange, registered here in one sorted list: a module each for the
exchanges with a way of their own, a profile each (flows/profiles.py) for the exchanges of
the generic bulk pattern, and an entry each for those ipbind only assists with."""

from flows.altrady import Altrady
from flows.base import Flow
from flows.binance import Binance
from flows.bittrex import Bittrex
from flows.bybit import Bybit
from flows.generic import assisted_flow_of, flow_of
from flows.huobi import Huobi
from flows.kraken import Kraken
from flows.poloniex import Poloniex
from flows.profiles import ASSISTED, PROFILES

ALL: list[type[Flow]] = [
    Binance,
    Bittrex,
    Bybit,
    Huobi,
    Kraken,
    Poloniex,
    *map(flow_of, PROFILES),
    *map(assisted_flow_of, ASSISTED),
]
FLOWS: dict[str, type[Flow]] = {flow.id: flow for flow in sorted(ALL, key=lambda flow: flow.id)}

# Other names an allocation may use for an exchange: one Bybit key serves Bybit Futures too.
ALIASES: dict[str, str] = {alias: flow.id for flow in FLOWS.values() for alias in flow.also}

# Every site ipbind signs in to: the exchanges, and Altrady, where the allocation comes from
# (`ipbind import altrady`). Settings (IPBIND_ALTRADY__…), the keyring and the sign-in take
# each alike.
SIGN_INS: dict[str, type[Flow]] = {**FLOWS, Altrady.id: Altrady}
