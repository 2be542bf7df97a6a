# The Table 2 baseline (configs/tgl/ablations/tiny/t2_baseline.py) with the adapter's temporal
# half switched on: Hierarchical Selective Attention with patch sizes 8 / 4 / 2, exactly as
# configs/tgl/tgl_tiny_synthetic_hsa.py switches it on for the tiny recipe. With the tiny
# recipe and its HSA twin it measures HSA and motion expressions (issue 19) in
# benchmarks/synthetic_ablation.py (rows `baseline+hsa`, `tgl+hsa`). The shipped image
# pretraining has no HSA weights: allow_missing keeps them at their identity start.
_base_ = ['../tiny/t2_baseline.py']

model = dict(
    neck=dict(hsa=dict(_delete_=True, patch_sizes=(8, 4, 2))),  # replaces the base's None
    pretrained=dict(allow_missing=('neck.layers.0.hsa.', 'neck.layers.1.hsa.',
                                   'neck.layers.2.hsa.')))
