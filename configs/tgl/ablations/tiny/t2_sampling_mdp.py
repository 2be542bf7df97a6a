# Tab. 2 row 3 (59.4): moment-aware sampling + MDP (MFE, memory from M+, M+ first), no OSS.
# Tiny counterpart of configs/tgl/ablations/t2_sampling_mdp.py,
# on configs/tgl/tgl_tiny_synthetic.py; the full model (Tab. 2 row 5, Tab. 3 "both")
# is that recipe itself.
_base_ = ['../../tgl_tiny_synthetic.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_sampling_mdp',
    reference='configs/tgl/tgl_tiny_synthetic.py',
    changes=('train_dataloader.dataset.oss',))

train_dataloader = dict(dataset=dict(oss=False))
