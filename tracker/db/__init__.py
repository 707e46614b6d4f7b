"""The database: engine and sessions, models, migrations, runs, locks, write checks."""
