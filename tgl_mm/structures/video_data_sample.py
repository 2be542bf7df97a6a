"""The data sample that travels from the dataset pipeline through the model to the metric."""
from __future__ import annotations

import torch
from mmengine.structures import BaseDataElement


def _tensor_property(name: str, dtype: torch.dtype | None, doc: str) -> property:
    """A typed data field: stored as ``_name``; setter checks the type (and dtype if given)."""
    private = f'_{name}'

    def getter(self: BaseDataElement) -> torch.Tensor:
        return getattr(self, private)

    def setter(self: BaseDataElement, value: torch.Tensor) -> None:
        if not isinstance(value, torch.Tensor):
            raise TypeError(f'VideoDataSample.{name} must be a torch.Tensor, got {type(value)}')
        if dtype is not None and value.dtype != dtype:
            raise TypeError(f'VideoDataSample.{name} must have dtype {dtype}, got {value.dtype}')
        self.set_field(value, private, dtype=torch.Tensor)

    def deleter(self: BaseDataElement) -> None:
        delattr(self, private)

    return property(getter, setter, deleter, doc)


class VideoDataSample(BaseDataElement):
    """One referring expression on one video: a training clip or a whole test video.

    ``T`` is the number of frames carried by the sample (the sampled clip at training time, every
    frame of the video at test time); ``S`` the square model input size; ``(H, W)`` the original
    frame size. ``N`` the number of objects the expression refers to.

    Meta information (``sample.metainfo``):
        - ``video_id`` (str), ``exp_id`` (str), ``text`` (str, the expression after transforms,
          e.g. with left/right swapped by a flip), ``dataset_name`` (str), ``split`` (str)
        - ``frame_names`` (list[str], length T): names of the frames carried, in temporal order
        - ``frame_inds`` (list[int], length T): their indices in the video
        - ``num_video_frames`` (int): frames in the whole video, ``T_V``
        - ``obj_ids`` (list[int], length N)
        - ``ori_shape`` (H, W), ``img_shape`` (h, w) after the keep-ratio resize,
          ``pad_shape`` (S, S), ``scale_factor`` (w_scale, h_scale), ``flip`` (bool)

    Ground-truth fields (set by the dataset pipeline):
        - ``gt_masks``: bool (T, S, S) at training time: per-frame target, the union of the
          objects kept by object-level selective supervision (OSS), resized and padded like the
          frames. At test time bool (T, H, W) at the original size (absent when the split has no
          masks, e.g. MeViS ``valid``).
        - ``gt_mplus``: bool (T,): frame is in M+ (union of the objects' moments). All True when the
          dataset has no moment annotation.
        - ``gt_obj_mplus``: bool (N, T): frame is in the moment M_i of object i.
        - ``gt_obj_keep``: bool (N,): object i kept by OSS (its M_i meets the clip).

    Prediction fields (set by the model in ``predict`` mode):
        - ``pred_masks``: bool (T, H, W) at the original size.
        - ``pred_mplus``: bool (T,): the M+ the grounding strategy chose for inference.
        - ``pred_object_scores``: float (T,): SAM2 object-score logits (<= 0: object absent).
        - ``pred_frame_scores``: float (T,): per-frame relevance from a grounding strategy
          (e.g. TAM logits), when it produces one.
    """

    gt_masks = _tensor_property('gt_masks', torch.bool, 'Target masks, see class doc.')
    gt_mplus = _tensor_property('gt_mplus', torch.bool, 'M+ flags per frame (T,).')
    gt_obj_mplus = _tensor_property('gt_obj_mplus', torch.bool, 'Per-object moment flags (N, T).')
    gt_obj_keep = _tensor_property('gt_obj_keep', torch.bool, 'Objects kept by OSS (N,).')
    pred_masks = _tensor_property('pred_masks', torch.bool, 'Predicted masks (T, H, W).')
    pred_mplus = _tensor_property('pred_mplus', torch.bool, 'M+ used at inference (T,).')
    pred_object_scores = _tensor_property(
        'pred_object_scores', None, 'Object-score logits per frame (T,).')
    pred_frame_scores = _tensor_property(
        'pred_frame_scores', None, 'Grounding relevance per frame (T,).')
