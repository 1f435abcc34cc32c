"""Packaged configuration data of the registry (YAML), read with importlib.resources."""
