"""Load official SAM2 / SAM2.1 checkpoints (``.pt``) into the parts of our model, by key prefix.

An official file holds ``{"model": state_dict}`` in sam2's layout: ``image_encoder.trunk.*``,
``image_encoder.neck.*`` (the image encoder, :data:`IMAGE_ENCODER_PREFIX`) and, for the video
machinery held by the MDP head, ``memory_attention.*``, ``memory_encoder.*``,
``sam_mask_decoder.*``, ``sam_prompt_encoder.*``, ``obj_ptr_proj.*``, ``obj_ptr_tpos_proj.*``,
``mask_downsample.*`` and the bare parameters ``maskmem_tpos_enc``, ``no_mem_embed``,
``no_mem_pos_enc``, ``no_obj_ptr``, ``no_obj_embed_spatial`` (:data:`HEAD_PREFIXES`,
:data:`HEAD_KEYS`). Files are read with ``torch.load(..., weights_only=True)``: no pickled code
runs.
"""
from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Mapping

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

IMAGE_ENCODER_PREFIX = 'image_encoder.'
HEAD_PREFIXES = ('memory_attention.', 'memory_encoder.', 'sam_mask_decoder.',
                 'sam_prompt_encoder.', 'obj_ptr_proj.', 'obj_ptr_tpos_proj.', 'mask_downsample.')
HEAD_KEYS = ('maskmem_tpos_enc', 'no_mem_embed', 'no_mem_pos_enc', 'no_obj_ptr',
             'no_obj_embed_spatial')

_HINT = ('Official files (sam2_hiera_*.pt, sam2.1_hiera_*.pt) come from '
         'https://github.com/facebookresearch/sam2; put them in checkpoints/ (see '
         'docs/model_sam2.md).')


def file_sha256(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            digest.update(block)
    return digest.hexdigest()


def load_sam2_state_dict(path: str | os.PathLike, sha256: str | None = None
                         ) -> dict[str, Tensor]:
    """Read a SAM2 checkpoint file and return its ``"model"`` state dict (on CPU).

    Args:
        path: the ``.pt`` file.
        sha256: expected hex SHA-256 of the file (checked before it is read), or None.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: the file is not a weights-only loadable ``{"model": state_dict}``, or its
            SHA-256 is not ``sha256``.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'SAM2 checkpoint not found: {path!r}. {_HINT}')
    if sha256 is not None and file_sha256(path) != sha256.lower():
        raise ValueError(f'{path!r} has SHA-256 {file_sha256(path)}, expected {sha256}: the '
                         'file is not the one the config names (remake it with the command '
                         'its documentation gives, or fix checkpoint_sha256)')
    try:
        ckpt = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as err:  # torch raises many types for foreign or corrupt files
        raise ValueError(f'{path!r} is not a SAM2 checkpoint readable with weights_only=True '
                         f'({type(err).__name__}: {str(err).splitlines()[0][:200]})') from err
    if not isinstance(ckpt, Mapping) or not isinstance(ckpt.get('model'), Mapping):
        found = sorted(ckpt)[:10] if isinstance(ckpt, Mapping) else type(ckpt).__name__
        raise ValueError(f'{path!r} is not a SAM2 checkpoint: expected a dict with the weights '
                         f'under "model" (sam2 layout), found {found}. {_HINT}')
    state = ckpt['model']
    if not any(key.startswith(IMAGE_ENCODER_PREFIX) or key.startswith(HEAD_PREFIXES)
               for key in state):
        raise ValueError(f'{path!r} is not a SAM2 checkpoint: its "model" holds none of the '
                         f'SAM2 keys ({IMAGE_ENCODER_PREFIX}*, {", ".join(HEAD_PREFIXES)}*)')
    return dict(state)


def select_part(state: Mapping[str, Tensor], prefix: str,
                exclude: tuple[str, ...] = ()) -> dict[str, Tensor]:
    """Keys of ``state`` that start with ``prefix`` (stripped), minus those starting with
    any of ``exclude`` (tested on the full key)."""
    return {key[len(prefix):]: value for key, value in state.items()
            if key.startswith(prefix) and not (exclude and key.startswith(exclude))}


def load_sam2_part(module: nn.Module, checkpoint: str | os.PathLike | Mapping[str, Tensor],
                   prefix: str, part: str, exclude: tuple[str, ...] = (),
                   target_prefix: str = '', sha256: str | None = None
                   ) -> tuple[list[str], list[str]]:
    """Load one part of a SAM2 checkpoint into ``module`` (non-strict) and log what did not match.

    Args:
        module: receives ``{target_prefix + key[len(prefix):]: tensor}``.
        checkpoint: a file path (see :func:`load_sam2_state_dict`) or an already-read state dict.
        prefix: the part's key prefix in the file (``'image_encoder.'``, or ``''``).
        part: human-readable name for messages (``'image encoder'``).
        exclude: file keys starting with these belong to other parts and are ignored.
        target_prefix: prefix of the part inside ``module`` (e.g. ``'sam2.'``).
        sha256: expected SHA-256 of the file (see :func:`load_sam2_state_dict`).

    Returns:
        ``(missing, unexpected)``: module keys the file lacks, file keys the module lacks.

    Raises:
        ValueError: the file has no key of this part, or a tensor's shape differs (e.g. a
            ``hiera_l`` file loaded into a ``hiera_b+`` model).
    """
    source = os.fspath(checkpoint) if not isinstance(checkpoint, Mapping) else 'state dict'
    state = (checkpoint if isinstance(checkpoint, Mapping)
             else load_sam2_state_dict(checkpoint, sha256))
    selected = {target_prefix + key: value
                for key, value in select_part(state, prefix, exclude).items()}
    if not selected:
        raise ValueError(f'{source!r} holds no {part} weights (no "{prefix}*" keys)')
    own = module.state_dict()
    mismatched = [f'{key}: file {tuple(value.shape)} vs model {tuple(own[key].shape)}'
                  for key, value in selected.items()
                  if key in own and own[key].shape != value.shape]
    if mismatched:
        raise ValueError(f'{source!r} does not fit the {part} (wrong SAM2 arch?); shape '
                         f'mismatches: {mismatched[:5]}{" ..." if len(mismatched) > 5 else ""}')
    result = module.load_state_dict(selected, strict=False)
    # parameters outside the target part (e.g. other heads sharing the module) are not "missing"
    missing = [key for key in result.missing_keys if key.startswith(target_prefix)]
    unexpected = list(result.unexpected_keys)
    loaded = len(selected) - len(unexpected)
    print_log(f'SAM2 {part}: loaded {loaded} tensors from {source}', logger='current',
              level=logging.INFO)
    if missing:
        print_log(f'SAM2 {part}: missing keys in {source} (left as initialised): {missing}',
                  logger='current', level=logging.WARNING)
    if unexpected:
        print_log(f'SAM2 {part}: unexpected keys in {source} (ignored): {unexpected}',
                  logger='current', level=logging.WARNING)
    return missing, unexpected
