"""Dataset-level settings of two training pipeline steps: the frame sampler and OSS.

mmengine's Python-config inheritance merges dicts key by key but replaces lists whole, so a child
config cannot change one step of its base's ``train_pipeline`` without restating the pipeline.
The two steps that TGL's ablations change (paper Tab. 2) are therefore also settings of the
dataset, which a child reaches with a plain dict merge::

    train_dataloader = dict(dataset=dict(frame_sampling=dict(mplus_ratio=0.0), oss=False))

- ``frame_sampling`` (dict or ``None``): arguments of the pipeline's frame sampler (its one step
  whose type is a :class:`~tgl_mm.datasets.transforms.frame_sampling.BaseFrameSampler`), e.g.
  ``dict(num_frames=4, mplus_ratio=0.5)`` for ``MomentAwareFrameSampler``.
- ``oss`` (bool or ``None``): ``enabled`` of the pipeline's ``ObjectSelectiveSupervision`` step.

``None`` leaves the pipeline as written (the default: pipelines built by hand are untouched).
A setting is merged into its step's config dict before the pipeline is built; the dataset's
``pipeline`` then shows the effective step. There is no silent precedence: a step that states
an argument the setting also states, with another value, is an error (so a child that restates
the pipeline while its base sets ``frame_sampling`` is told so instead of being overridden).
"""
from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tgl_mm.registry import TRANSFORMS

from .transforms.frame_sampling.base import BaseFrameSampler
from .transforms.oss import ObjectSelectiveSupervision

__all__ = ['apply_frame_sampling', 'apply_oss', 'apply_pipeline_settings']

Step = Mapping | Callable


def _step_class(step: Step) -> type | None:
    """The transform class of a pipeline step (config dict or built transform), or None when its
    type does not resolve in ``TRANSFORMS`` (the pipeline build reports that)."""
    if not isinstance(step, Mapping):
        return type(step)
    kind = step.get('type')
    if isinstance(kind, type):
        return kind
    return TRANSFORMS.get(kind) if isinstance(kind, str) else None


def _find_step(pipeline: Sequence[Step], base: type, setting: str, where: str) -> int:
    """Index of the single step of ``pipeline`` whose class derives from ``base``."""
    found = [i for i, step in enumerate(pipeline)
             if isinstance(_step_class(step), type) and issubclass(_step_class(step), base)]
    if len(found) != 1:
        what = 'no' if not found else f'{len(found)} (steps {found})'
        raise ValueError(f'{where}: `{setting}` is set but the pipeline has {what} '
                         f'{base.__name__} step(s); it needs exactly one (set `{setting}=None` '
                         'to use the pipeline as written)')
    if not isinstance(pipeline[found[0]], Mapping):
        raise ValueError(f'{where}: `{setting}` cannot change the already built '
                         f'{type(pipeline[found[0]]).__name__} at pipeline step {found[0]}; give '
                         f'that step as a config dict or set `{setting}=None`')
    return found[0]


def _accepted(cls: type) -> set[str] | None:
    """Keyword arguments of ``cls.__init__`` (None: it takes any)."""
    params = inspect.signature(cls.__init__).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params if p.name != 'self'
            and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}


def _merge_into_step(pipeline: Sequence[Step], index: int, values: Mapping[str, Any],
                     setting: str, where: str) -> list[Step]:
    """A copy of ``pipeline`` whose step ``index`` (a config dict) has ``values`` merged in;
    unknown arguments and arguments the step states with another value are errors."""
    step = pipeline[index]
    cls = _step_class(step)
    accepted = _accepted(cls)
    unknown = sorted(k for k in values if accepted is not None and k not in accepted)
    if unknown:
        raise ValueError(f'{where}: `{setting}` sets {unknown}, which {cls.__name__} (pipeline '
                         f'step {index}) does not take; it takes {sorted(accepted)}')
    clashes = sorted(k for k, v in values.items() if k in step and step[k] != v)
    if clashes:
        detail = ', '.join(f'{k}: step {step[k]!r} vs setting {values[k]!r}' for k in clashes)
        raise ValueError(f'{where}: pipeline step {index} ({cls.__name__}) states {detail}; '
                         f'change `{setting}` instead of the step (or set `{setting}=None` to '
                         'use the pipeline as written)')
    out = list(pipeline)
    out[index] = {**step, **values}
    return out


def apply_frame_sampling(pipeline: Sequence[Step], frame_sampling: Mapping[str, Any] | None,
                         where: str = 'dataset') -> list[Step]:
    """``pipeline`` with ``frame_sampling`` merged into its frame sampler step (a copy; the
    input is not changed). ``None`` returns the pipeline as it is."""
    if frame_sampling is None:
        return list(pipeline)
    if not isinstance(frame_sampling, Mapping):
        raise ValueError(f'{where}: `frame_sampling` must be a dict of frame-sampler arguments '
                         f'(e.g. dict(num_frames=8, mplus_ratio=0.5)) or None, got '
                         f'{frame_sampling!r}')
    index = _find_step(pipeline, BaseFrameSampler, 'frame_sampling', where)
    return _merge_into_step(pipeline, index, dict(frame_sampling), 'frame_sampling', where)


def apply_oss(pipeline: Sequence[Step], oss: bool | None, where: str = 'dataset') -> list[Step]:
    """``pipeline`` with ``enabled=oss`` on its ``ObjectSelectiveSupervision`` step (a copy).
    ``None`` returns the pipeline as it is."""
    if oss is None:
        return list(pipeline)
    if not isinstance(oss, bool):
        raise ValueError(f'{where}: `oss` must be True, False or None, got {oss!r}')
    index = _find_step(pipeline, ObjectSelectiveSupervision, 'oss', where)
    return _merge_into_step(pipeline, index, dict(enabled=oss), 'oss', where)


def apply_pipeline_settings(pipeline: Sequence[Step], *, frame_sampling: Mapping | None = None,
                            oss: bool | None = None, where: str = 'dataset') -> list[Step]:
    """Both settings (see the module docstring); ``where`` names the dataset in errors."""
    return apply_oss(apply_frame_sampling(pipeline, frame_sampling, where), oss, where)
