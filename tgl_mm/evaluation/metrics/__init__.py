"""Runner metrics (registered in ``tgl_mm.registry.METRICS``)."""
from .rvos_metric import RVOSMetric, expression_record

__all__ = ['RVOSMetric', 'expression_record']
