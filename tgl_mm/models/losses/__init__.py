from .correspondence_loss import MemoryCorrespondenceLoss, correspondence_nll, token_labels
from .oss_loss import OSSLoss, dice_per_frame, sigmoid_focal_map

__all__ = ['OSSLoss', 'dice_per_frame', 'sigmoid_focal_map', 'MemoryCorrespondenceLoss',
           'correspondence_nll', 'token_labels']
