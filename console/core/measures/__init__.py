"""What is measured of each colour and turned into figures: traffic through the proxy,
data parity between colours, and resources (CPU, memory, I/O, database size)."""
