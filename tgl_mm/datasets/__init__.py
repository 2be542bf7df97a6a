"""Datasets, moments, frame samplers and pipeline transforms for RVOS.

Importing this package registers every dataset (``DATASETS``) and transform / frame sampler
(``TRANSFORMS``) in the ``tgl_mm`` scope.
"""
from tgl_mm.formats import (
    DataFormatError,
    ExpressionMeta,
    ExpressionMoments,
    MomentFile,
    VideoMeta,
    load_moments,
    validate_moments,
)

from . import synthetic, transforms  # noqa: F401  (register)
from .base_rvos_dataset import BaseRVOSDataset
from .mask_store import RLEStore
from .mevis import MeViSDataset, MeViSObjectTracks
from .ref_davis17 import RefDAVIS17Dataset
from .ref_ytvos import RefYouTubeVOSDataset
from .refcoco import RefCOCODataset
from .transforms import (
    LoadExpressionMasks,
    LoadVideoFrames,
    ObjectSelectiveSupervision,
    PackVideoInputs,
    VideoColorJitter,
    VideoRandomFlip,
    VideoResizePad,
)
from .transforms.frame_sampling import AllFramesSampler, MomentAwareFrameSampler, RandomFrameSampler
from .video_batch_sampler import VideoBatchSampler
from .wrappers import ConcatDataset

__all__ = [
    'BaseRVOSDataset', 'ConcatDataset', 'MeViSDataset', 'MeViSObjectTracks',
    'RefYouTubeVOSDataset', 'RefDAVIS17Dataset', 'RefCOCODataset', 'RLEStore', 'DataFormatError',
    'ExpressionMeta', 'VideoMeta',
    'ExpressionMoments', 'MomentFile', 'load_moments', 'validate_moments',
    'MomentAwareFrameSampler', 'RandomFrameSampler', 'AllFramesSampler', 'LoadVideoFrames',
    'LoadExpressionMasks', 'ObjectSelectiveSupervision', 'VideoResizePad', 'VideoRandomFlip',
    'VideoColorJitter', 'PackVideoInputs', 'VideoBatchSampler',
]
