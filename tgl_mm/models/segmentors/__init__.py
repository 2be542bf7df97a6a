from .chunked_features import ChunkedFeatures, path_chunks
from .sam2_pretrainer import SAM2Pretrainer, export_sam2_checkpoint
from .tgl_sam2 import TGLSAM2

__all__ = ['TGLSAM2', 'SAM2Pretrainer', 'export_sam2_checkpoint', 'ChunkedFeatures',
           'path_chunks']
