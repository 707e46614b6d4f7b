"""Key accounts: import, the business register, and the work a KAM records."""
