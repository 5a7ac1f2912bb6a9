"""``python -m reconfigurator`` is the same as ``recon``."""

from reconfigurator.cli.main import main

main()
