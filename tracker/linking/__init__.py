"""Links between notice buyers and key accounts, and their decisions."""
