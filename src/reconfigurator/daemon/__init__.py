"""``recon run`` as a daemon: the background loops, with their status, metrics and health
served over HTTP.

- :mod:`~reconfigurator.daemon.status`: the status document of both loops (``/status``);
- :mod:`~reconfigurator.daemon.metrics`: Prometheus metrics in a registry of their own
  (``/metrics``);
- :mod:`~reconfigurator.daemon.probes`: liveness and readiness (``/healthz``, ``/readyz``);
- :mod:`~reconfigurator.daemon.http_server`: the HTTP server that serves them;
- :mod:`~reconfigurator.daemon.service`: the daemon itself, which starts and stops them in order.
"""

from reconfigurator.daemon.http_server import StatusServer
from reconfigurator.daemon.metrics import DaemonMetrics
from reconfigurator.daemon.service import Daemon

__all__ = ["Daemon", "DaemonMetrics", "StatusServer"]
