"""Bid/no-bid: competitions, scoring (pure), selection and decisions."""
