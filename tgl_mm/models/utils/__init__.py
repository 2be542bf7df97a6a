from .motion_words import MotionWordFinder, spans_to_token_mask, verb_lemma
from .sam2_checkpoint import load_sam2_part, load_sam2_state_dict
from .sam2_settings import OFFICIAL_ARCHS, SAM2_ARCHS, get_sam2_settings

__all__ = ['MotionWordFinder', 'spans_to_token_mask', 'verb_lemma', 'load_sam2_part',
           'load_sam2_state_dict', 'OFFICIAL_ARCHS', 'SAM2_ARCHS', 'get_sam2_settings']
