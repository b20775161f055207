"""The ``tfpose`` command line: one click group, one thin command per job.

Commands import TensorFlow lazily, inside their bodies, so ``tfpose --help`` answers at once.
Library code raises ordinary exceptions; ``main`` turns the expected ones (bad config, bad
input) into a one-line error and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import sys

import click

from tfpose import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="tfpose")
def cli():
    """tfpose: MPII joint localisation and pose-aware action classification (double CNN)."""


# -- data --------------------------------------------------------------------------------------

# -- pose --------------------------------------------------------------------------------------

# -- training and evaluation -------------------------------------------------------------------

# -- export and prediction ---------------------------------------------------------------------


def main(argv=None):
    from tfpose.errors import TfposeError

    try:
        cli.main(args=argv, prog_name="tfpose", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except (TfposeError, FileNotFoundError) as err:
        click.echo(f"Error: {err}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
