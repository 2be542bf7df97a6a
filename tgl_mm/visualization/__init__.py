"""Visualisation: the RVOS visualizer and hook, mask overlays, report figures."""
from .local_visualizer import RVOSLocalVisualizer
from .overlay import PALETTE, encode_png, overlay_mask, put_title, render_frame_grid, select_frames
from .video_frames import frames_from_inputs, sample_frames
from .vis_hook import RVOSVisualizationHook

__all__ = [
    'RVOSLocalVisualizer', 'RVOSVisualizationHook', 'PALETTE', 'overlay_mask', 'put_title',
    'render_frame_grid', 'select_frames', 'encode_png', 'frames_from_inputs',
    'sample_frames',
]
