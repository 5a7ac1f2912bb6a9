"""The networking step's I/O: reading the rows a decision needs (:mod:`.read`) and writing a
decision (:mod:`.write`). The decision itself is :mod:`reconfigurator.networking`."""
