"""What streaming inference asks of a segmentor: :class:`StreamingSegmentor`.

:mod:`tgl_mm.apis` (``segment_video``, ``segment_expressions``, ``infer_video``) and the demo
app (:mod:`tgl_mm.app`) talk to the model only through this interface: they never read its
parts (``head``, ``data_preprocessor``, ``tam``, ...) and never change it. In particular the
grounding of a request is passed to :meth:`StreamingSegmentor.predict_expressions` with the call,
so requests with different groundings can share one model, even at the same time.

:class:`~tgl_mm.models.segmentors.TGLSAM2` implements it; a downstream segmentor that has these
members works with the inference API, the tools and the app as they are (``isinstance(model,
StreamingSegmentor)`` checks that the members exist, not their signatures).

Shapes: T frames in the video, S the model's square input size (:attr:`input_size`), (H, W) a
sample's original frame size (``metainfo['ori_shape']``).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from torch import Tensor

from tgl_mm.models.segmentors.shared_features import FrameLoader
from tgl_mm.structures import VideoDataSample

if TYPE_CHECKING:
    from tgl_mm.models.grounding.base import BaseGrounding, GroundingResult

#: ``on_frame(k, t, mask, object_score)``: sentence k's mask of frame t, bool (H, W) on the CPU,
#: and SAM2's object-score logit (<= 0: object absent)
FrameSink = Callable[[int, int, Tensor, float], None]


@runtime_checkable
class StreamingSegmentor(Protocol):
    """A referring video segmentor that streams a video chunk by chunk.

    Frames reach the model as uint8 RGB (n, 3, S, S): resized so the long side is S, and padded
    at the bottom and right (``VideoResizePad``); :meth:`normalize` turns them into what the
    encoders read. :meth:`predict_expressions` segments K sentences of one video side by side,
    asking ``load`` for frames chunk by chunk and handing out every mask as soon as it exists,
    so memory does not grow with T.
    """

    @property
    def input_size(self) -> int:
        """S: the side of the square frames the model reads."""

    @property
    def has_tam(self) -> bool:
        """Whether the model carries a Temporal Alignment Module, i.e. can ground a sentence
        itself (groundings with ``needs_frame_scores`` need one)."""

    @property
    def grounding_cfg(self) -> dict:
        """The configured test-time grounding (``test_cfg.grounding``, a ``GROUNDINGS``
        config); what :meth:`predict_expressions` runs when no grounding is passed."""

    def normalize(self, frames: Tensor) -> Tensor:
        """uint8 RGB (n, 3, S, S) -> normalised float (n, 3, S, S) on the model's device."""

    def build_grounding(self, grounding: str | dict | BaseGrounding | None) -> BaseGrounding:
        """A grounding strategy for this model: a name or config is built from ``GROUNDINGS``,
        a built strategy is taken as it is, None is the configured one; the model is not
        changed. Raises ``ValueError`` for a grounding this model cannot run (one that needs a
        TAM, on a model without)."""

    def truncated_sentence(self, text: str) -> tuple[int, int, str] | None:
        """``(tokens, limit, kept)`` when the text encoder reads only part of ``text``: its
        token count, how many tokens the encoder reads (special tokens included) and the part
        of ``text`` it keeps; None when it reads all of it (or cannot tell)."""

    def predict_expressions(self, load: FrameLoader, num_frames: int,
                            samples: Sequence[VideoDataSample], on_frame: FrameSink,
                            grounding: str | dict | BaseGrounding | None = None
                            ) -> tuple[list[GroundingResult], dict[str, int]]:
        """Segment K sentences of one video, streaming.

        Args:
            load: :data:`FrameLoader`: ``load(frames)`` gives the frames of those indices,
                normalised float (n, 3, S, S) on the model's device (e.g.
                ``model.normalize(spill.load(frames))``).
            num_frames: T.
            samples: K samples (metainfo ``text``, ``ori_shape`` (H, W), ``img_shape`` (the
                resized frame inside the padded S x S), ``frame_names``; plus what the grounding
                reads, e.g. ``gt_mplus`` bool (T,) for ``oracle``).
            on_frame: :data:`FrameSink`, called in processing order (not temporal order).
            grounding: this call's grounding (see :meth:`build_grounding`); the model's own
                is left as it is.

        Returns:
            the K grounding results (``mplus`` bool (T,); ``frame_scores`` float (T,) TAM
            relevance logits, or None) and the encoder work counts (``trunk_frames``:
            image-encoder passes; ``raw_frames``; ``adapted_frames``).
        """


__all__ = ['StreamingSegmentor', 'FrameLoader', 'FrameSink']
