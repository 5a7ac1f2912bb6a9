"""Simulations and generated workloads: the disk-expungement race, and large rack states."""
