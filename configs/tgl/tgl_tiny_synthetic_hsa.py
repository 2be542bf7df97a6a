# The tiny recipe (tgl_tiny_synthetic.py) with the adapter's temporal half switched on:
# Hierarchical Selective Attention with patch sizes 8 / 4 / 2 for the three adapted stages, as
# SAMWISE's MeViS recipe and our paper configs (at 128 px the adapted maps are 16, 8 and 4 wide:
# 2 x 2 patches at every stage). It differs from the tiny recipe only in this switch. The shipped
# image pretraining (the RefCOCO step) was trained without HSA, as SAMWISE's is, so its parts
# checkpoint has no HSA weights: allow_missing lets them keep their identity start.
_base_ = ['./tgl_tiny_synthetic.py']

model = dict(
    neck=dict(hsa=dict(_delete_=True, patch_sizes=(8, 4, 2))),  # replaces the base's None
    pretrained=dict(allow_missing=('neck.layers.0.hsa.', 'neck.layers.1.hsa.',
                                   'neck.layers.2.hsa.')))
