"""Text prompt (Eq. 2): rho = MLP(concat(E_cls, E_motion)) as sparse prompt tokens for SAM2."""
from __future__ import annotations

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from tgl_mm.registry import MODELS


def masked_mean(feats: Tensor, mask: Tensor) -> Tensor:
    """Mean of ``feats`` (B, L, D) over the tokens where ``mask`` (B, L) is True; zeros for a row
    with no True token."""
    weights = mask.to(feats.dtype).unsqueeze(-1)
    return (feats * weights).sum(1) / weights.sum(1).clamp(min=1.0)


def motion_embedding(text_feats: Tensor, motion_mask: Tensor | None, content_mask: Tensor
                     ) -> Tensor:
    """E_motion (B, D): the mean of the motion-word tokens.

    Fallback for an expression with no motion word (``motion_mask`` row all False, or no mask
    at all): the mean of all its content tokens (real, non-special tokens), i.e. the expression
    as a whole. An expression with no content token at all (empty text) gets zeros.

    Args:
        text_feats: (B, L, D) adapted text tokens E_Adp.
        motion_mask: bool (B, L) motion-word tokens, or ``None``.
        content_mask: bool (B, L) real non-special tokens.
    """
    content_mask = content_mask.bool()
    if motion_mask is None:
        return masked_mean(text_feats, content_mask)
    motion_mask = motion_mask.bool() & content_mask
    has_motion = motion_mask.any(dim=1, keepdim=True)                   # (B, 1)
    chosen = motion_mask | (~has_motion & content_mask)
    return masked_mean(text_feats, chosen)


@MODELS.register_module()
class TextPrompt(BaseModule):
    """Sparse text prompt for the SAM2 mask decoder (Eq. 2).

    ``rho = MLP(concat(E_cls, E_motion))`` where ``E_cls`` is the adapted first token
    ([CLS] / <s>) and ``E_motion`` the mean of the adapted motion-word tokens (fallback: all
    content tokens, see :func:`motion_embedding`). SAMWISE maps the [CLS] token alone through an
    MLP ``768 -> 256 -> 256 -> 256``; here the input is the concatenation ``2 D`` and the
    output ``num_tokens * prompt_dim`` is split into ``num_tokens`` prompt tokens
    (``num_layers`` linear layers, ReLU between them): ``1536 -> 256 -> 256 -> 256`` for
    RoBERTa-base and SAM2's hidden dim 256.

    Args:
        text_dim: D, text hidden size (768 RoBERTa-base, 384 MiniLM).
        prompt_dim: SAM2 hidden dim (256 for the official models, 64 for ``tiny``).
        hidden_dim: MLP hidden width (256).
        num_layers: MLP depth (3).
        num_tokens: P, prompt tokens produced (1).
        init_cfg: mmengine init config.
    """

    def __init__(self, text_dim: int = 768, prompt_dim: int = 256, hidden_dim: int = 256,
                 num_layers: int = 3, num_tokens: int = 1, init_cfg: dict | list | None = None
                 ) -> None:
        super().__init__(init_cfg=init_cfg)
        if num_layers < 1 or num_tokens < 1:
            raise ValueError(f'TextPrompt: num_layers and num_tokens must be >= 1, got '
                             f'{num_layers}, {num_tokens}')
        dims = [2 * text_dim] + [hidden_dim] * (num_layers - 1) + [num_tokens * prompt_dim]
        layers: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < num_layers - 1:
                layers.append(nn.ReLU(inplace=True))
        self.mlp = nn.Sequential(*layers)
        self.text_dim = text_dim
        self.prompt_dim = prompt_dim
        self.num_tokens = num_tokens

    def forward(self, text_feats: Tensor, content_mask: Tensor,
                motion_mask: Tensor | None = None) -> Tensor:
        """Prompt tokens from the adapted text.

        Args:
            text_feats: (B, L, D) E_Adp; token 0 is [CLS] / <s>.
            content_mask: bool (B, L) real non-special tokens (``HFTextEncoder.tokenize``).
            motion_mask: bool (B, L) motion-word tokens (``HFTextEncoder.tokenize``), or
                ``None`` to use the fallback for every expression.

        Returns:
            (B, P, prompt_dim) sparse prompt embeddings.
        """
        if text_feats.shape[-1] != self.text_dim:
            raise ValueError(f'TextPrompt: text features have {text_feats.shape[-1]} channels, '
                             f'expected text_dim={self.text_dim}')
        e_cls = text_feats[:, 0]
        e_motion = motion_embedding(text_feats, motion_mask, content_mask)
        rho = self.mlp(torch.cat([e_cls, e_motion], dim=-1))  # psi = concatenation
        return rho.view(text_feats.shape[0], self.num_tokens, self.prompt_dim)


__all__ = ['TextPrompt', 'motion_embedding', 'masked_mean']
