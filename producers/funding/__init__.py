"""Funding series from FRED, the New York Fed and the Treasury as ``FundingObservation``s."""
