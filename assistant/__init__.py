"""ipbind: whitelists the IP addresses Altrady allocates to exchange API keys."""

__version__ = "0.1.0"
