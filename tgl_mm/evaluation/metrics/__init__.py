"""Runner metrics (registered in ``tgl_mm.registry.METRICS``)."""
from .rvos_metric import RVOSMetric, expression_record
from .tracking_metric import TrackingMetric, tracking_scores

__all__ = ['RVOSMetric', 'expression_record', 'TrackingMetric', 'tracking_scores']
