from .cross_modal_adapter import (
                                  SAMWISE_TEXT_LAYER_ENDS,
                                  AdapterLayer,
                                  CrossModalAdapter,
                                  proportional_text_layer_ends,
)
from .lockstep_encoder import LockstepOutput, lockstep_encode

__all__ = ['CrossModalAdapter', 'AdapterLayer', 'proportional_text_layer_ends',
           'SAMWISE_TEXT_LAYER_ENDS', 'lockstep_encode', 'LockstepOutput']
