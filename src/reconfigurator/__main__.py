"""``python -m reconfigurator`` is the same as ``recon``."""

from reconfigurator.cli.entry import main

main()
