"""nginx as a proxy driver: live mode (Lua shared dict, no reload) and reload mode."""
