"""The Ref-DAVIS17 layout (converted to Ref-YouTube-VOS's): its four expression sets."""
from __future__ import annotations

__all__ = ['EXPRESSION_SETS']

#: the four expression sets, in the order of the converted meta_expressions (per object):
#: expression ``exp_id`` belongs to set ``int(exp_id) % 4``
EXPRESSION_SETS = ('anno1_first_frame', 'anno1_full_video', 'anno2_first_frame',
                   'anno2_full_video')
