from .sam2_image_encoder import SAM2ImageEncoder
from .text_encoder import (
                           DEFAULT_TEXT_MODEL,
                           HFTextEncoder,
                           resolve_text_model_dir,
                           save_tiny_text_encoder,
)

__all__ = ['SAM2ImageEncoder', 'HFTextEncoder', 'resolve_text_model_dir',
           'save_tiny_text_encoder', 'DEFAULT_TEXT_MODEL']
