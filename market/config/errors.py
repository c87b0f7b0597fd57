"""The one exception of the config package: an input the user must fix."""


class ConfigError(ValueError):
    """An invalid scenario, sweep or thesis file, or an invalid override. The message is meant for the user."""
