"""The ``recon`` command line (Typer + Rich). The only layer that prints."""
