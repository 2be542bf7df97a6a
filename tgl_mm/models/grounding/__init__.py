from .base import BaseGrounding, GroundingResult, registered_groundings, sample_qid
from .basic import NoGrounding, OracleGrounding
from .clip_scorer import CLIPFrameScorer
from .prediction_files import (
                               HybridGrounding,
                               KeyframeGrounding,
                               MomentRetrievalGrounding,
                               PredictionFileError,
                               load_jsonl_by_qid,
)
from .span_ops import largest_span, topk_mask, windows_to_mask
from .tam_grounding import TAM_MODES, TAMGrounding, tam_mplus

__all__ = [
    'BaseGrounding', 'GroundingResult', 'registered_groundings', 'sample_qid', 'NoGrounding',
    'OracleGrounding',
    'MomentRetrievalGrounding', 'KeyframeGrounding', 'HybridGrounding', 'TAMGrounding',
    'PredictionFileError', 'load_jsonl_by_qid', 'CLIPFrameScorer', 'windows_to_mask',
    'topk_mask',
    'largest_span', 'TAM_MODES', 'tam_mplus'
]
