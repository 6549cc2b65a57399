"""Configuration: one TOML file parsed into frozen dataclasses, each section in its own module,
then checked as a whole (`checks`). `load` finds and reads the file; `schema` is the shape."""
