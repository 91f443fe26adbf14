"""One flow per exchange, registered here in one sorted list."""

from flows.base import Flow
from flows.binance import Binance
from flows.bittrex import Bittrex
from flows.bybit import Bybit
from flows.huobi import Huobi
from flows.kraken import Kraken
from flows.poloniex import Poloniex

FLOWS: dict[str, type[Flow]] = {
    flow.id: flow
    for flow in [
        Binance,
        Bittrex,
        Bybit,
        Huobi,
        Kraken,
        Poloniex,
    ]
}

# Other names an allocation may use for an exchange: one Bybit key serves Bybit Futures too.
ALIASES: dict[str, str] = {alias: flow.id for flow in FLOWS.values() for alias in flow.also}
