from .inference import SegmentationResult, build_sample, init_model, read_frames, segment_video

__all__ = ['init_model', 'segment_video', 'read_frames', 'build_sample', 'SegmentationResult']
