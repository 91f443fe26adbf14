"""One flow per exchange, registered here in one sorted list."""

from flows.base import Flow
from flows.binance import Binance
from flows.bittrex import Bittrex
from flows.huobi import Huobi
from flows.kraken import Kraken
from flows.poloniex import Poloniex

FLOWS: dict[str, type[Flow]] = {
    flow.id: flow
    for flow in [
        Binance,
        Bittrex,
        Huobi,
        Kraken,
        Poloniex,
    ]
}
