from .chunked_features import ChunkedFeatures, path_chunks
from .tgl_sam2 import TGLSAM2

__all__ = ['TGLSAM2', 'ChunkedFeatures', 'path_chunks']
