"""``python -m batchtts``: the same as the ``batchtts`` command."""

from batchtts.cli import main

main()
