"""The Docker Engine (and Podman's Docker API) as a `Runtime`."""
