"""Synthetic MeViS-M: motion-centric look-alike scenes in the public MeViS layout."""
from .generate import format_statistics, make_synthetic_mevis_m
from .scene import Scene, make_scene, render

__all__ = ['make_synthetic_mevis_m', 'format_statistics', 'Scene', 'make_scene', 'render']
