"""Forced liquidations from Binance USD-M, Bybit and OKX (ccxt.pro) as ``Liquidation`` records."""
