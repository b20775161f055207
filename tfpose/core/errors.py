"""Errors the CLI reports as one line (exit status 2) rather than a traceback."""


class TfposeError(ValueError):
    """Bad user input: a config, a file or a record that cannot be used as given."""


class ConfigError(TfposeError):
    """A config file or override that does not match the schema."""


class DataError(TfposeError):
    """An annotation file, image folder or dataset that cannot be read; names file and record."""


class StorageError(TfposeError):
    """A file that could not be written (disk full, no permission); names the file and says
    what earlier output is still intact."""
