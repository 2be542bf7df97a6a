# The paper's Hybrid grounding (Tab. 4c-e) with the model's own TAM as the keyframe scorer: M+ is
# the TAM's top-4 frames inside a moment-retrieval model's span. Set the span file:
#   python tools/test.py configs/tgl/tgl_tiny_synthetic_tam_hybrid.py CKPT_TAM \
#       --cfg-options model.test_cfg.grounding.span.pred_file=PREDICTIONS.jsonl
# (CKPT_TAM: a checkpoint with a TAM from tools/train_tam.py; see tgl_tiny_synthetic_tam.py)
_base_ = ['./tgl_tiny_synthetic_tam.py']

model = dict(test_cfg=dict(grounding=dict(
    _delete_=True, type='hybrid', top_k=4, keyframes=None,
    span=dict(type='moment_retrieval', pred_file='moment_retrieval_predictions.jsonl'))))
