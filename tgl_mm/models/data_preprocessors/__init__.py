from .video_data_preprocessor import SAM2_MEAN, SAM2_STD, VideoDataPreprocessor

__all__ = ['SAM2_MEAN', 'SAM2_STD', 'VideoDataPreprocessor']
