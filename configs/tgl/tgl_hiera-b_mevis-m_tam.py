# TGL with the Temporal Alignment Module (paper A.2.2, Tab. 7): at test time the TAM grounds M+
# itself (no external VLM or oracle). The TAM trains after TGL, on the trained model's features
# of whole training videos, as it is used (docs/grounding.md, "TAM"):
#   tools/dist_train.sh configs/tgl/tgl_hiera-b_mevis-m.py 4
#   python tools/train_tam.py configs/tgl/tgl_hiera-b_mevis-m_tam.py work_dirs/.../epoch_1.pth \
#       --out work_dirs/.../epoch_1_tam.pth
#   python tools/test.py configs/tgl/tgl_hiera-b_mevis-m_tam.py work_dirs/.../epoch_1_tam.pth
_base_ = ['./tgl_hiera-b_mevis-m.py']

model = dict(
    # the base has tam=None: `_delete_` replaces it instead of merging into it
    tam=dict(_delete_=True, type='TemporalAlignmentModule', in_channels=512, text_dim=768,
             embed_dim=256, num_heads=8),
    test_cfg=dict(grounding=dict(type='tam', mode='threshold')))

# tools/train_tam.py: whole training videos or contiguous crops of >= 16 frames (MeViS videos
# have tens to hundreds of frames); the threshold is chosen on 20 % of the training videos
tam_train = dict(iters=3000, batch_size=16, lr=1e-3, crop_prob=0.5, min_frames=16,
                 held_out=0.2)
