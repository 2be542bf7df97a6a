# Tab. 2 row 3 (59.4): moment-aware sampling + MDP (MFE, memory from M+, M+ first), no OSS.
# The full model (Tab. 2 row 5 / Tab. 3 row 4, 60.8) is configs/tgl/tgl_hiera-b_mevis-m.py.
_base_ = ['../tgl_hiera-b_mevis-m.py']

# which row this is and the only keys in which it differs from its reference
# (checked by tests/test_ablation_configs.py)
ablation = dict(
    row='t2_sampling_mdp',
    reference='configs/tgl/tgl_hiera-b_mevis-m.py',
    changes=('train_dataloader.dataset.oss',))

train_dataloader = dict(dataset=dict(oss=False))
