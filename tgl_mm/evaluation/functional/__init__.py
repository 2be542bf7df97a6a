"""Pure metric functions: DAVIS J&F, moment retrieval, keyframe accuracy, assignment, paired
differences over seeds."""
from .assignment import linear_sum_assignment
from .davis_jf import as_bool_masks, boundary_radius, disk_rectangles, j_and_f, jf_backend
from .davis_reference import j_and_f_reference, seg2bmap
from .moment_retrieval import (
                               MR_IOU_THRESHOLDS,
                               average_precision_at,
                               keyframe_top1_accuracy,
                               keyframe_top1_hits,
                               moment_retrieval_metrics,
                               spans_to_windows,
                               temporal_iou,
)
from .paired_stats import PairedDifference, paired_difference, student_t_quantile

__all__ = [
    'j_and_f', 'jf_backend', 'j_and_f_reference', 'seg2bmap', 'boundary_radius', 'disk_rectangles',
    'as_bool_masks', 'MR_IOU_THRESHOLDS', 'temporal_iou', 'spans_to_windows',
    'moment_retrieval_metrics', 'average_precision_at', 'keyframe_top1_hits',
    'keyframe_top1_accuracy', 'linear_sum_assignment', 'PairedDifference', 'paired_difference',
    'student_t_quantile',
]
