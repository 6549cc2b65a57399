"""HAProxy as a proxy driver: the runtime API on the admin socket, never a reload."""
