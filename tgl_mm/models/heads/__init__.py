from .mdp_head import MDPHead, postprocess_mask_logits, upsample_mask_logits
from .tam import TemporalAlignmentModule
from .text_prompt import TextPrompt, motion_embedding

__all__ = ['MDPHead', 'postprocess_mask_logits', 'upsample_mask_logits',
           'TemporalAlignmentModule', 'TextPrompt', 'motion_embedding']
