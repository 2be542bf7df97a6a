"""Frame-text relevance with a local CLIP: the VLM keyframe scores of the paper's Tab. 4.

The scores feed :class:`~tgl_mm.models.grounding.KeyframeGrounding` through a JSON-lines file
written by ``tools/grounding/clip_keyframe_scores.py``. The model is read from a local directory in
Hugging Face format (``CLIPModel`` weights, tokenizer and image-processor files); nothing is
downloaded.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch


def _projected(output: torch.Tensor | object) -> torch.Tensor:
    """transformers 4.x returns the projected features; 5.x wraps them in ``pooler_output``."""
    return output if isinstance(output, torch.Tensor) else output.pooler_output


class CLIPFrameScorer:
    """Cosine similarity between a sentence and each frame, scaled by CLIP's logit scale.

    Args:
        model_dir: local directory of a transformers CLIP checkpoint (e.g. a saved
            ``openai/clip-vit-large-patch14-336``).
        device: torch device for the forward passes.
        batch_size: frames per forward pass.
    """

    def __init__(self, model_dir: str | Path, device: str = 'cpu', batch_size: int = 32) -> None:
        from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel

        model_dir = Path(model_dir)
        if not (model_dir / 'config.json').is_file():
            raise FileNotFoundError(
                f'CLIP model directory {model_dir} has no config.json: save a transformers CLIP '
                'model there (CLIPModel.save_pretrained + tokenizer + image processor)')
        self.model = CLIPModel.from_pretrained(model_dir, local_files_only=True).to(device).eval()
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True)
        self.image_processor = AutoImageProcessor.from_pretrained(model_dir, local_files_only=True)
        self.device = device
        self.batch_size = batch_size

    @torch.no_grad()
    def encode_frames(self, frames: Sequence[np.ndarray]) -> torch.Tensor:
        """RGB ``uint8`` frames ``(H, W, 3)`` → L2-normalised features ``(T, D)``."""
        feats = []
        for i in range(0, len(frames), self.batch_size):
            pixels = self.image_processor(images=list(frames[i:i + self.batch_size]),
                                          return_tensors='pt')['pixel_values']
            out = self.model.get_image_features(pixel_values=pixels.to(self.device))
            feats.append(_projected(out).float())
        return torch.nn.functional.normalize(torch.cat(feats), dim=-1).cpu()

    @torch.no_grad()
    def encode_texts(self, texts: Sequence[str]) -> torch.Tensor:
        """Sentences → L2-normalised features ``(E, D)``."""
        tokens = self.tokenizer(list(texts), return_tensors='pt', padding=True, truncation=True)
        out = self.model.get_text_features(**{k: v.to(self.device) for k, v in tokens.items()})
        return torch.nn.functional.normalize(_projected(out).float(), dim=-1).cpu()

    def scores(self, frame_feats: torch.Tensor, text_feats: torch.Tensor) -> torch.Tensor:
        """Relevance logits ``(E, T)`` of each sentence for each frame."""
        scale = self.model.logit_scale.exp().item()
        return scale * text_feats @ frame_feats.T
