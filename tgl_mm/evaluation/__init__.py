"""Evaluation: exact and fast J&F, temporal-grounding metrics, the Runner metric, offline MeViS
evaluation, Ref-DAVIS17 protocol, submissions and reports."""
from tgl_mm.formats import read_mask_png, write_expression_masks

from .functional import j_and_f, j_and_f_reference, keyframe_top1_accuracy, moment_retrieval_metrics
from .metrics import RVOSMetric, expression_record
from .report import load_report, summarize, write_report

__all__ = [
    'j_and_f', 'j_and_f_reference', 'moment_retrieval_metrics', 'keyframe_top1_accuracy',
    'RVOSMetric', 'expression_record', 'read_mask_png', 'write_expression_masks', 'summarize',
    'write_report', 'load_report',
]
