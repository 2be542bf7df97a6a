"""Pure metric functions: DAVIS J&F, moment retrieval, keyframe accuracy, assignment."""
from .davis_jf import as_bool_masks, boundary_radius, disk_rectangles, j_and_f
from .davis_reference import j_and_f_reference, seg2bmap

__all__ = ['j_and_f', 'j_and_f_reference', 'seg2bmap', 'boundary_radius', 'disk_rectangles',
           'as_bool_masks']
