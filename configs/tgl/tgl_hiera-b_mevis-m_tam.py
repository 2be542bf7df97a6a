# TGL with the Temporal Alignment Module (paper A.2.2, Tab. 7): TAM trained jointly from the
# moment annotations; at test time it grounds M+ itself (no external VLM or oracle).
_base_ = ['./tgl_hiera-b_mevis-m.py']

model = dict(
    # the base has tam=None: `_delete_` replaces it instead of merging into it
    tam=dict(_delete_=True, type='TemporalAlignmentModule', in_channels=256, text_dim=768,
             embed_dim=256, num_heads=8, detach_inputs=False, loss_weight=1.0),
    test_cfg=dict(grounding=dict(type='tam', mode='threshold', threshold=0.5)))
# the RefCOCO start (load_from of the base) has no TAM: its weights may be missing from it
load_allow_missing = ('tam.',)
