"""Synthetic MeViS-M: appearance, event and motion expressions in the public MeViS layout."""
from .generate import format_statistics, make_synthetic_mevis_m, object_attributes
from .scene import FAMILIES, Event, Scene, SceneObject, make_scene, random_video, render
from .tracking import SyntheticTrackingDataset

__all__ = ['make_synthetic_mevis_m', 'format_statistics', 'object_attributes', 'FAMILIES',
           'Event', 'Scene', 'SceneObject', 'make_scene', 'random_video', 'render',
           'SyntheticTrackingDataset']
