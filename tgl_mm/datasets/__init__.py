"""Datasets, moments, frame samplers and pipeline transforms for RVOS.

Importing this package registers every dataset (``DATASETS``) and transform / frame sampler
(``TRANSFORMS``) in the ``tgl_mm`` scope.
"""
from . import samplers, synthetic, transforms  # noqa: F401  (register)
from .base_rvos_dataset import BaseRVOSDataset
from .mask_store import RLEStore
from .mevis import MeViSDataset, MeViSObjectTracks
from .mevis_io import DataFormatError, ExpressionMeta, VideoMeta
from .moments import ExpressionMoments, MomentFile, load_moments, validate_moments
from .ref_davis17 import RefDAVIS17Dataset
from .ref_ytvos import RefYouTubeVOSDataset
from .refcoco import RefCOCODataset
from .samplers import AllFramesSampler, MomentAwareFrameSampler, RandomFrameSampler
from .transforms import (
    LoadExpressionMasks,
    LoadVideoFrames,
    ObjectSelectiveSupervision,
    PackVideoInputs,
    VideoColorJitter,
    VideoRandomFlip,
    VideoResizePad,
)
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
