"""The store: what the console decided (live colour, deployments, events, series), in SQLite.
`store.Store` is the one entry point; the other modules are its tables and plumbing."""
