"""Tools over recorded runs: run a scenario, replay a time range, backtest, rehearse, report."""
