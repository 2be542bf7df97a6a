"""Motion-word finder: word-level precision/recall on labelled MeViS-style expressions."""
import pytest
import torch

from tgl_mm.models.utils.motion_words import MotionWordFinder, spans_to_token_mask, verb_lemma
from tgl_mm.registry import TASK_UTILS

# (expression, motion words in order). Labelling guideline (docs/model_text.md): verbs of motion
# or action in any form (incl. participles used as adjectives), direction particles that belong to
# the verb ("flies away", "turning left", "moving to the left", "picks up the cup"), and motion
# states ("standing still", "stationary"). Not labelled: copulas/auxiliaries, appearance verbs
# ("wearing"), locatives not attached to a verb ("on the left", "leftmost"), prepositions that
# head a path noun phrase ("climbing up the tree"), nouns ("the swing").
# The labels describe what a careful annotator marks, not what the rules find: a few are known
# misses of the rules (e.g. "bending its neck down", where the particle follows the object).
LABELLED = [
    ('the bird that flies away', ['flies', 'away']),
    ('cat jumping to the left', ['jumping', 'left']),
    ('the car turning then stopping', ['turning', 'stopping']),
    ('the person on the right', []),
    ('the leftmost elephant', []),
    ('The dog running and jumping over the fence', ['running', 'jumping']),
    ('monkey eating food', ['eating']),
    ('the horse standing still', ['standing', 'still']),
    ('bear walking to the right', ['walking', 'right']),
    ('the fish swimming forward', ['swimming', 'forward']),
    ('the first cow to move', ['move']),
    ('the lizard that stops moving', ['stops', 'moving']),
    ('sheep moved from left to right', ['moved', 'left', 'right']),
    ('the parked white car', ['parked']),
    ('a man riding a bike', ['riding']),
    ('the cat lying on the sofa', ['lying']),
    ('the bird which flew off first', ['flew', 'off']),
    ('the giraffe bending its neck down', ['bending', 'down']),
    ('the tiger that is walking around', ['walking', 'around']),
    ('puppy playing with a ball', ['playing']),
    ('the man wearing a red shirt', []),
    ('the second elephant from the left', []),
    ('the rabbit hopping', ['hopping']),
    ('the boat sailing across the lake', ['sailing']),
    ('the person who picks up the cup', ['picks', 'up']),
    ('the cow that gets up', ['gets', 'up']),
    ('the black dog chasing the white dog', ['chasing']),
    ('the car that was overtaken', ['overtaken']),
    ('a duck floating on the water', ['floating']),
    ('the penguin sliding down the ice', ['sliding']),
    ('the man leaning against the wall', ['leaning']),
    ('the goat climbing up the rock', ['climbing']),
    ('the elephant that turned around and walked away', ['turned', 'around', 'walked', 'away']),
    ('the parrot pecking at the seeds', ['pecking']),
    ('the girl dancing', ['dancing']),
    ('cat sitting still then jumping down', ['sitting', 'still', 'jumping', 'down']),
    ('the zebra grazing', ['grazing']),
    ('the kid on the swing', []),
    ('the bus in the middle', []),
    ('the lamb that is being carried', ['carried']),
    ('the airplane taking off', ['taking', 'off']),
    ('the person who falls', ['falls']),
    ('the stationary truck', ['stationary']),
    ('the motionless cat on the right', ['motionless']),
    ('the dog that does not move', ['move']),
    ('the horse galloping fast', ['galloping']),
    ('the biggest bear', []),
    ('the man drinking water', ['drinking']),
    ('the one which appears last', ['appears']),
    ('the car parked in the parking lot', ['parked']),
    ('the turtle crawling slowly to the left', ['crawling', 'left']),
    ('the rightmost sheep', []),
    ('the bird in the cage', []),
    ('the man shaking hands with the woman', ['shaking']),
    ('the fish that swims fastest', ['swims']),
    ('monkey hanging from the branch', ['hanging']),
    ('the dog who is lying down', ['lying', 'down']),
    ('the ball rolling towards the goal', ['rolling']),
    ('the baby elephant following its mother', ['following']),
    ('the person pushing a stroller', ['pushing']),
    ('the duck that dives into the water', ['dives']),
    ('the cat being held by a girl', ['held']),
    ('the panda that rolls over', ['rolls', 'over']),
    ('the red car', []),
    ('the two birds fighting each other', ['fighting']),
    ('the cow that lies down then gets up', ['lies', 'down', 'gets', 'up']),
    ('the man who left the room', ['left']),
    ('the bicycle on the left moving right', ['moving', 'right']),
    ('the skier going downhill', ['going', 'downhill']),
    ('the dog looking back', ['looking', 'back']),
    ('the squirrel running up the tree', ['running']),
    ('the woman with the umbrella walking past the bench', ['walking']),
    ('the horse that kicks', ['kicks']),
    ('the last deer to leave', ['leave']),
    ('the man waving his hand', ['waving']),
    ('the cat staring at the camera', ['staring']),
    ('the boy throwing a ball', ['throwing']),
    ('the lion resting', ['resting']),
    ('the animal moving fastest', ['moving']),
    ('the vehicle that is reversing', ['reversing']),
    ('the puppy that moves left and right', ['moves', 'left', 'right']),
    ('Duck swimming in circles', ['swimming']),
    ('the cat shaking its head', ['shaking']),
    # written after the rules and scored blind (P 1.0, R 0.87); the misses it revealed were
    # lexicon gaps (spray, remain) that were then filled, and two remaining known misses
    ('the white rabbit eating grass then hopping away', ['eating', 'hopping', 'away']),
    ('car moving slowly forward', ['moving', 'forward']),
    ('the man who is standing up from the chair', ['standing', 'up']),
    ('the bird perched on the branch', ['perched']),
    ('the elephant spraying water', ['spraying']),
    ('two dogs playing together', ['playing', 'together']),
    ('the kitten that was chased by the dog', ['chased']),
    ('the sheep that turns its head to the left', ['turns', 'left']),
    ('the horse walking in a circle', ['walking']),
    ('the third car from the right', []),
    ('the monkey sitting on top of the rock', ['sitting']),
    ('the person that gets off the bus', ['gets', 'off']),
    ('the cow in the back', []),
    ('the fish swimming upward', ['swimming', 'upward']),
    ('the truck driving past the house', ['driving']),
    ('the girl riding the horse around the field', ['riding']),
    ('the puppy wagging its tail', ['wagging']),
    ('the bird that lands on the fence', ['lands']),
    ('the tiger jumps into the pool', ['jumps']),
    ('the cat that remains still', ['remains', 'still']),
    ('the lead horse', []),
    ('the bear that stood up', ['stood', 'up']),
    ('the parrot flapping its wings', ['flapping']),
    ('the man opening the door', ['opening']),
    ('the car that slows down', ['slows', 'down']),
    ('yellow bus coming towards us', ['coming']),
    ('the panda rolling on the ground', ['rolling']),
    ('the duck that flies over the lake', ['flies']),
    ('the goose walking away from the camera', ['walking', 'away']),
    ('the small boat drifting', ['drifting']),
]

# Justified thresholds. The rules are deterministic, so the figures on this list are exact:
# 113 expressions, 145 labelled words, precision 1.0 and recall 0.979 (3 known misses: a particle
# after the object twice, "opening" left out of the lexicon because "open" is mostly an adjective).
# The blind part above scored recall 0.87 before its lexicon gaps were filled, an honest estimate
# for unseen expressions. The thresholds leave a margin of about three words each way so that a
# lexicon tweak trading one error for another does not fail CI, while a broken rule falls below
# them (no particle rules: recall 0.73; no noun filter: precision 0.95; see
# test_thresholds_catch_broken_rules).
MIN_PRECISION = 0.97
MIN_RECALL = 0.96


def _word_multiset_scores(finder: MotionWordFinder) -> tuple[float, float, list]:
    """Micro precision/recall over (expression, position-matched word) pairs."""
    tp = fp = fn = 0
    errors = []
    for text, gold in LABELLED:
        found = [m.word.lower() for m in finder.find(text)]
        remaining = list(gold)
        for w in found:
            if w in remaining:
                remaining.remove(w)
                tp += 1
            else:
                fp += 1
                errors.append((text, 'FP', w))
        fn += len(remaining)
        errors += [(text, 'FN', w) for w in remaining]
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    return precision, recall, errors


def test_labelled_list_is_large_and_mixed():
    assert len(LABELLED) >= 40
    assert sum(1 for _, gold in LABELLED if not gold) >= 8  # expressions with no motion word


def test_precision_recall_on_labelled_expressions():
    precision, recall, errors = _word_multiset_scores(MotionWordFinder())
    assert precision >= MIN_PRECISION, errors
    assert recall >= MIN_RECALL, errors


def test_thresholds_catch_broken_rules(monkeypatch):
    """Dropping the particle rules or the noun filter falls well below the thresholds."""
    no_particles = MotionWordFinder()
    monkeypatch.setattr(no_particles, '_particles', lambda *a, **k: None)
    assert _word_multiset_scores(no_particles)[1] < MIN_RECALL
    no_noun_filter = MotionWordFinder()
    monkeypatch.setattr(no_noun_filter, '_is_noun', lambda *a, **k: False)
    assert _word_multiset_scores(no_noun_filter)[0] < MIN_PRECISION


@pytest.mark.parametrize('text, expected', [
    ('the bird that flies away', [('flies', 14, 19, 'verb', 'fly'), ('away', 20, 24, 'particle',
                                                                      'away')]),
    ('cat jumping to the left', [('jumping', 4, 11, 'verb', 'jump'),
                                 ('left', 19, 23, 'particle', 'left')]),
    ('the car turning then stopping', [('turning', 8, 15, 'verb', 'turn'),
                                       ('stopping', 21, 29, 'verb', 'stop')]),
    ('the person on the right', []),
    ('the leftmost elephant', []),
    ('the horse standing still', [('standing', 10, 18, 'verb', 'stand'),
                                  ('still', 19, 24, 'state', 'still')]),
    ('The man who left', [('left', 12, 16, 'verb', 'leave')]),
])
def test_exact_spans(text, expected):
    found = [(m.word, m.start, m.end, m.kind, m.lemma) for m in MotionWordFinder().find(text)]
    assert found == expected
    for word, start, end, _, _ in found:
        assert text[start:end] == word


@pytest.mark.parametrize('word, lemma', [
    ('moving', 'move'), ('running', 'run'), ('lying', 'lie'), ('flies', 'fly'),
    ('carried', 'carry'), ('stopped', 'stop'), ('pushes', 'push'), ('moves', 'move'),
    ('flew', 'fly'), ('travelling', 'travel'), ('goes', 'go'),
    ('thing', None), ('red', None), ('wearing', None), ('is', None), ('string', None),
])
def test_verb_lemma(word, lemma):
    assert verb_lemma(word) == lemma


def test_extra_and_excluded_verbs():
    assert MotionWordFinder().spans('the man wearing a hat') == []
    finder = MotionWordFinder(extra_verbs=['wear'], exclude_verbs=['walk'])
    assert [m.word for m in finder.find('the man wearing a hat walking')] == ['wearing']
    built = TASK_UTILS.build(dict(type='MotionWordFinder', extra_verbs=['wear']))
    assert built.spans('wears') == [(0, 5)]


def test_spans_to_token_mask_uses_offsets_and_skips_special_tokens():
    # "[CLS] the bird fl ##ies away [SEP] [PAD]": word pieces of "flies" both selected
    offsets = torch.tensor([[0, 0], [0, 3], [4, 8], [9, 11], [11, 14], [15, 19], [0, 0], [0, 0]])
    mask = spans_to_token_mask([(9, 14), (15, 19)], offsets)
    assert mask.tolist() == [False, False, False, True, True, True, False, False]
    valid = torch.tensor([0, 1, 1, 1, 0, 1, 0, 0], dtype=torch.bool)
    assert spans_to_token_mask([(9, 14)], offsets, valid).tolist() == [
        False, False, False, True, False, False, False, False]


def test_token_mask_batch_and_no_motion_row():
    finder = MotionWordFinder()
    texts = ['bird flies', 'the red car']
    offsets = torch.tensor([[[0, 0], [0, 4], [5, 10], [0, 0]],
                            [[0, 0], [0, 3], [4, 7], [8, 11]]])
    mask = finder.token_mask(texts, offsets)
    assert mask.tolist() == [[False, False, True, False], [False, False, False, False]]
    with pytest.raises(ValueError, match='2 texts but offsets for 1'):
        finder.token_mask(texts, offsets[:1])
