"""Where the store lives when it is not SQLite in the state directory (PostgreSQL)."""
