"""Request observability (OpsML 3's ``opsml.scouter.observe``, from scouter-ml)."""

from typing import TYPE_CHECKING

from opsml._compat import scouter_required

with scouter_required():
    import scouter

if TYPE_CHECKING:
    from scouter.observe import LatencyMetrics, ObservabilityMetrics, Observer, RouteMetrics
else:
    # scouter-ml 0.10.0's own ``scouter/observe/__init__.py`` imports itself and fails; the
    # classes live in its compiled module, which ``import scouter`` binds to scouter.observe.
    LatencyMetrics = scouter.observe.LatencyMetrics
    ObservabilityMetrics = scouter.observe.ObservabilityMetrics
    Observer = scouter.observe.Observer
    RouteMetrics = scouter.observe.RouteMetrics

__all__ = ["LatencyMetrics", "ObservabilityMetrics", "Observer", "RouteMetrics"]
