"""Pipeline transforms for referring video object segmentation (registered in ``TRANSFORMS``)."""
from .formatting import PackVideoInputs
from .geometric import VideoRandomFlip, VideoResizePad, keep_ratio_shape
from .loading import LoadExpressionMasks, LoadVideoFrames
from .oss import ObjectSelectiveSupervision, oss_keep
from .photometric import VideoColorJitter
from .text import swap_left_right

__all__ = ['PackVideoInputs', 'VideoRandomFlip', 'VideoResizePad', 'keep_ratio_shape',
           'LoadExpressionMasks', 'LoadVideoFrames', 'ObjectSelectiveSupervision', 'oss_keep',
           'VideoColorJitter', 'swap_left_right']
