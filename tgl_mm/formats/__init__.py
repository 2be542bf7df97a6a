"""Data formats on disk, the floor below :mod:`tgl_mm.datasets` and :mod:`tgl_mm.evaluation`.

One module per format, one function per meaning; pure numpy / pycocotools / PIL, no torch:

- :mod:`~tgl_mm.formats.common`: :class:`DataFormatError`, strict JSON loading;
- :mod:`~tgl_mm.formats.mevis`: the MeViS / Ref-YouTube-VOS layout (``meta_expressions.json``,
  ``mask_dict.json``, frame paths);
- :mod:`~tgl_mm.formats.frames`: frame image files (uint8 RGB, damaged files refused);
- :mod:`~tgl_mm.formats.masks`: masks as COCO RLE and as PNG (the submission layout);
- :mod:`~tgl_mm.formats.moments`: MeViS-M moment files;
- :mod:`~tgl_mm.formats.spans`: inclusive frame spans <-> per-frame flags;
- :mod:`~tgl_mm.formats.families`: the expression families file;
- :mod:`~tgl_mm.formats.ref_davis`: Ref-DAVIS17's expression sets.
"""
from .common import DataFormatError, load_json
from .families import FAMILIES_FILE, load_families
from .frames import image_damage, read_rgb, read_rgb_frames
from .masks import (
    as_bool_masks,
    check_counts,
    check_name,
    check_rle,
    decode_counts,
    decode_rle,
    expression_dir,
    mask_to_png,
    polygons_to_rle,
    read_mask_png,
    rle_run_lengths,
    rle_size,
    write_expression_masks,
)
from .mevis import (
    ExpressionMeta,
    VideoMeta,
    check_expression_annotations,
    expression_target,
    frame_path,
    load_mask_dict,
    load_meta_expressions,
    normalize_expression,
    parse_mask_dict,
    parse_meta_expressions,
    video_frame_size,
)
from .moments import (
    MOMENT_FORMAT,
    MOMENT_VERSION,
    ExpressionMoments,
    MomentFile,
    Span,
    check_moment_file,
    check_moment_ids,
    load_moments,
    moments_to_json,
    parse_moments,
    validate_expression_moments,
    validate_moments,
)
from .ref_davis import EXPRESSION_SETS
from .spans import mask_to_spans, spans_to_mask

__all__ = [
    'DataFormatError', 'load_json', 'FAMILIES_FILE', 'load_families', 'image_damage', 'read_rgb',
    'read_rgb_frames', 'as_bool_masks',
    'check_counts', 'check_name', 'check_rle', 'decode_counts', 'decode_rle', 'expression_dir',
    'mask_to_png', 'polygons_to_rle', 'read_mask_png', 'rle_run_lengths', 'rle_size',
    'write_expression_masks', 'ExpressionMeta', 'VideoMeta', 'check_expression_annotations',
    'expression_target', 'frame_path', 'load_mask_dict', 'load_meta_expressions',
    'normalize_expression', 'parse_mask_dict', 'parse_meta_expressions', 'video_frame_size',
    'MOMENT_FORMAT', 'MOMENT_VERSION', 'ExpressionMoments', 'MomentFile', 'Span',
    'check_moment_file', 'check_moment_ids', 'load_moments', 'moments_to_json', 'parse_moments',
    'validate_expression_moments', 'validate_moments', 'EXPRESSION_SETS', 'mask_to_spans',
    'spans_to_mask',
]
