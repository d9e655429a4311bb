"""Forced liquidations from six venues (Binance USD-M, Bybit, OKX, Gate, HTX, Deribit; ccxt.pro)
as ``Liquidation`` records (``venues.VENUES``)."""
