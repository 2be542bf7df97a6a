# The tiny recipe with its Temporal Alignment Module (paper A.2.2): the TAM grounds M+ itself.
# Train TGL with tgl_tiny_synthetic.py, then the TAM on that checkpoint (frozen) with
#   python tools/train_tam.py configs/tgl/tgl_tiny_synthetic_tam.py CKPT --out CKPT_TAM
# and test with --grounding tam (the default here). See docs/grounding.md, "TAM".
_base_ = ['./tgl_tiny_synthetic.py']

model = dict(
    # the base has tam=None: `_delete_` replaces it instead of merging into it
    tam=dict(_delete_=True, type='TemporalAlignmentModule', in_channels=128, text_dim=384,
             embed_dim=64, num_heads=4),
    test_cfg=dict(grounding=dict(type='tam', mode='threshold')))

# tools/train_tam.py: whole training videos (20-28 frames) or contiguous crops of >= 8 frames;
# the threshold is chosen on 20 % of the training videos, held out
tam_train = dict(iters=1500, batch_size=16, lr=1e-3, crop_prob=0.5, min_frames=8, held_out=0.2)
