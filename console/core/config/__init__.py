"""Configuration: one TOML file parsed into frozen dataclasses, each section in its own module,
then checked as a whole (`checks`). `load` finds and reads the file; `schema` is the shape.
A section module checks only its own keys and never imports `schema` back; what spans sections
is checked in `checks`. pyproject.toml's import contracts keep config free of circles and of ops.
"""
