# Tiny counterpart of configs/tgl/ablations/t2_sampling_oss.py (Tab. 2 row 4, Tab. 3 row 1): moment-aware sampling + OSS, no MDP.
_base_ = ['../../tgl_tiny_synthetic.py']

model = dict(head=dict(mfe=False, memory_from='all', order='temporal'))
