"""Minute bars from yfinance and ccxt as ``PriceTick`` records."""
