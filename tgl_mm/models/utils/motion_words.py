"""Offline finder of the motion words of a referring expression (for E_motion, Eq. 2).

The text prompt of TGL pools the adapted text tokens of the *verb-related* words of the
expression ("the bird that **flies away**", "cat **jumping** to the **left**"). SAMWISE found its
verb with a spaCy model, which cannot be installed here and assumed exactly one verb. This module
finds every motion word with a lexicon and a few rules, with no model and no download:

1. **Verbs** of motion or action in any form: base (``move``), third person (``moves``,
   ``flies``, ``pushes``), present participle (``moving``, ``running``, ``lying``), past
   (``moved``, ``stopped``, ``carried``) and common irregular forms (``flew``, ``ran``, ``held``).
   A form is a verb when its lemma, found by these morphology rules, is in :data:`MOTION_VERBS`.
   Copulas, auxiliaries and appearance verbs (``is``, ``has``, ``wearing``) are not in it.
   A base or third-person form right after a determiner or a size/colour word is a noun
   (``the swing``, ``a big jump``); an ``-ing`` word that starts a known noun compound is too
   (``parking lot``, ``swimming pool``).
2. **Direction particles** after a motion verb: ``away``, ``off``, ``up``, ``down``, ``back``,
   ``around``, ``forward``, ``left``, ``right``, ... directly after the verb (an ``-ly`` adverb or
   ``fast``/``slowly`` may come between), after ``to the``/``towards the`` (then only
   ``left``/``right``), in ``from left to right``, or chained with ``and``/``or``
   (``left and right``). A particle followed by a noun phrase is a preposition and is skipped
   (``climbing up the tree``) unless verb + particle is a known phrasal verb (``picks up the
   cup``, ``takes off``).
3. **Motion states**: ``still`` after ``stand``/``sit``/``lie``/``stay``/``remain``/``keep``,
   and ``stationary``/``motionless``/``immobile`` anywhere.
4. ``left`` is the verb *leave* right after ``that``/``who``/``which``/``and``/``then``/...
   (``the man who left``); otherwise it is a direction (a particle by rule 2, or nothing:
   ``the person on the left``).

Character spans are mapped to token indices through the fast tokenizer's offset mapping
(:func:`spans_to_token_mask`). When an expression has no motion word, the caller falls back to
pooling all content tokens (see ``TextPrompt``); :meth:`MotionWordFinder.token_mask` itself just
returns an all-False row.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from tgl_mm.registry import TASK_UTILS


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Lemmas of verbs that describe motion or an action an object performs. MeViS expressions are
# motion-centric; appearance/possession verbs (wear, have, contain, colour) are deliberately absent.
MOTION_VERBS: frozenset[str] = _wordset('''
    accelerate advance appear approach arrive ascend attack bend bite blink blow bob bounce bow
    brake bring brush bump burrow canter carry catch charge chase chew circle clap climb collide
    come crash crawl creep cross crouch cuddle dance dart dash descend dig dip disappear dive
    dodge drag draw drift drink drive drop eat emerge enter escape exit fall feed fight flap
    flee flick flip float flock flutter fly follow gallop gather get glide go grab graze grip
    groom hang head hide hit hold hop hover hug hunt hurry jog join juggle jump kick kiss kneel
    knock land lead lean leap leave lick lie lift limp look lower lunge march merge move munch
    nibble nod nudge nuzzle overtake paddle park pass pat paw peck perch pick pivot play poke
    pounce pour pull push put race raise reach rear recede remain rest retreat return reverse
    ride rise roam roll rotate row rub run rush sail scamper scratch scurry scuttle shake shift
    shove shuffle sink sip sit skate ski skid skip slide slither slow sniff snuggle soar speed
    spin splash spray spread sprint squat squeeze stagger stand stare stay steer step stomp stop
    stretch stride stroll struggle suckle surf swerve swim swing swoop tackle take tap throw
    tilt toss touch tow trail travel trot tug tumble turn twirl twist wade wag walk wander watch
    wave weave whip wiggle wobble wrestle yawn zigzag
''')

# Irregular forms (and a few regular ones the suffix rules would miss) -> lemma. Forms that are
# far more often nouns or adjectives in referring expressions (dove, rose, bit, drunk, broken)
# are deliberately absent.
IRREGULAR_FORMS: dict[str, str] = {
    'ran': 'run', 'flew': 'fly', 'flown': 'fly', 'swam': 'swim', 'swum': 'swim', 'sat': 'sit',
    'stood': 'stand', 'fell': 'fall', 'fallen': 'fall', 'rode': 'ride', 'ridden': 'ride',
    'drove': 'drive', 'driven': 'drive', 'ate': 'eat', 'eaten': 'eat', 'held': 'hold',
    'caught': 'catch', 'threw': 'throw', 'thrown': 'throw', 'took': 'take', 'taken': 'take',
    'went': 'go', 'gone': 'go', 'goes': 'go', 'led': 'lead', 'came': 'come', 'got': 'get',
    'gotten': 'get', 'lay': 'lie', 'lain': 'lie', 'hung': 'hang', 'swung': 'swing',
    'slid': 'slide', 'spun': 'spin', 'bitten': 'bite', 'shook': 'shake', 'shaken': 'shake',
    'drew': 'draw', 'drawn': 'draw', 'dug': 'dig', 'fought': 'fight', 'crept': 'creep',
    'fled': 'flee', 'leapt': 'leap', 'rose': 'rise', 'risen': 'rise', 'sank': 'sink',
    'sunk': 'sink', 'blew': 'blow', 'blown': 'blow', 'overtook': 'overtake',
    'overtaken': 'overtake', 'sped': 'speed', 'drank': 'drink', 'bent': 'bend',
    'brought': 'bring', 'strode': 'stride',
    'lying': 'lie', 'dying': 'die', 'tying': 'tie',
}

# Direction words that can follow a motion verb as a particle.
DIRECTION_PARTICLES: frozenset[str] = _wordset('''
    away off up down out over around round back forward forwards backward backwards left right
    along aside ahead apart together downhill uphill upward upwards downward downwards sideways
    inside outside across past through in
''')
# Of those, the ones that are prepositions when a noun phrase follows ("up the tree").
PREPOSITIONAL_PARTICLES: frozenset[str] = _wordset(
    'up down off out over around round along across past through inside outside in')
# verb lemma -> particles that form a phrasal verb even when an object follows.
PHRASAL_VERBS: dict[str, frozenset[str]] = {
    lemma: _wordset(parts) for lemma, parts in {
        'pick': 'up', 'put': 'down up', 'get': 'up off out down', 'sit': 'down up',
        'stand': 'up', 'lie': 'down', 'turn': 'around round over back away',
        'look': 'around round back up down away', 'take': 'off', 'lift': 'up', 'knock': 'over down',
        'push': 'away over', 'pull': 'away out', 'throw': 'away', 'lay': 'down',
    }.items()}
# Verbs after which "still" is the motion state "not moving".
STILL_VERBS: frozenset[str] = _wordset('stand sit lie stay remain keep hold')
# Words that are motion states on their own.
MOTION_STATES: frozenset[str] = _wordset('stationary motionless immobile')
# Words that may sit between a verb and its particle.
_ADVERBS: frozenset[str] = _wordset('fast quickly slowly very too again also just far')
# Words after which "left" is the past of "leave".
_LEAVE_MARKERS: frozenset[str] = _wordset(
    'that who which and then first has have had just already finally later')
# A base or -s form right after one of these is a noun ("the swing", "two turns", "a big jump").
_NOUN_MARKERS: frozenset[str] = _wordset('''
    the a an this these those its his her their my your our each every another one two three
    four five several many some no big small little large huge tiny long short high low
    white black brown red blue green yellow grey gray orange pink purple golden dark light
''')
# Nouns that make an -ing word the first part of a compound noun ("parking lot").
_COMPOUND_HEADS: frozenset[str] = _wordset('''
    lot lots pool pools stick sticks room rooms table tables door doors board boards track
    tracks area areas space spaces field fields machine machines path paths shoes suit suits
    ring pen pens bag bags line lines
''')
# Prepositions: a base or -s form right after one is a noun ("in circles", "with hands").
_PREPOSITIONS: frozenset[str] = _wordset(
    'in on at with of from by near under behind above below beside between into onto')
# Words after which a direction word is still a particle ("flew off first", "turns around and").
_PARTICLE_FOLLOWERS: frozenset[str] = _wordset('''
    and or then while when but as at to from with in on of into onto towards toward until after
    before first second third last again together now later too fast slowly quickly
''')
_WORD_RE = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class MotionWord:
    """A motion word found in an expression.

    Attributes:
        word: the word as written.
        start, end: its character span ``text[start:end]``.
        kind: ``'verb'``, ``'particle'`` or ``'state'``.
        lemma: the verb lemma (the word itself for particles and states).
    """

    word: str
    start: int
    end: int
    kind: str
    lemma: str


def verb_lemma(word: str, lexicon: Iterable[str] = MOTION_VERBS) -> str | None:
    """The lemma of ``word`` if it is a form of a verb in ``lexicon``, else ``None``.

    Tries the irregular table, the word itself, then suffix rules: ``-ing`` (``moving`` ->
    ``move``, ``running`` -> ``run``), ``-ied``/``-ies`` (``carried``, ``flies``), ``-ed``
    (``moved``, ``stopped``), ``-es``/``-s`` (``pushes``, ``moves``). A candidate lemma counts
    only if it is in the lexicon, so ``thing`` or ``red`` never become verbs.
    """
    w = word.lower()
    lexicon = lexicon if isinstance(lexicon, (set, frozenset)) else frozenset(lexicon)
    if w in IRREGULAR_FORMS:
        lemma = IRREGULAR_FORMS[w]
        return lemma if lemma in lexicon else None
    if w in lexicon:
        return w
    candidates: list[str] = []
    if w.endswith('ing') and len(w) > 4:
        stem = w[:-3]
        candidates += [stem, stem + 'e']
        if len(stem) > 2 and stem[-1] == stem[-2]:
            candidates.append(stem[:-1])
    elif w.endswith('ied') and len(w) > 4:
        candidates.append(w[:-3] + 'y')
    elif w.endswith('ed') and len(w) > 3:
        stem = w[:-2]
        candidates += [stem, w[:-1]]
        if len(stem) > 2 and stem[-1] == stem[-2]:
            candidates.append(stem[:-1])
    elif w.endswith('ies') and len(w) > 4:
        candidates.append(w[:-3] + 'y')
    elif w.endswith('es') and len(w) > 3:
        candidates += [w[:-2], w[:-1]]
    elif w.endswith('s') and not w.endswith('ss') and len(w) > 2:
        candidates.append(w[:-1])
    for cand in candidates:
        if cand in lexicon:
            return cand
    return None


@TASK_UTILS.register_module()
class MotionWordFinder:
    """Find the motion words of an expression with a lexicon and rules (no model, no download).

    See the module docstring for the rules. Registered in ``TASK_UTILS`` so that configs can
    swap it (``text_backbone.motion_finder=dict(type='MotionWordFinder', extra_verbs=[...])``).

    Args:
        extra_verbs: verb lemmas to add to :data:`MOTION_VERBS`.
        exclude_verbs: verb lemmas to remove from it.
    """

    def __init__(self, extra_verbs: Sequence[str] = (), exclude_verbs: Sequence[str] = ()):
        self.lexicon = (MOTION_VERBS | {v.lower() for v in extra_verbs}) - {
            v.lower() for v in exclude_verbs}

    def find(self, text: str) -> list[MotionWord]:
        """All motion words of ``text`` in order, with their character spans."""
        words = [(m.group(0), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
        low = [w.lower() for w, _, _ in words]
        found: dict[int, MotionWord] = {}

        def add(i: int, kind: str, lemma: str) -> None:
            if i not in found:
                found[i] = MotionWord(words[i][0], words[i][1], words[i][2], kind, lemma)

        for i, w in enumerate(low):
            prev = low[i - 1] if i > 0 else ''
            if w in MOTION_STATES:
                add(i, 'state', w)
                continue
            if w == 'left':
                if prev in _LEAVE_MARKERS and 'leave' in self.lexicon:
                    add(i, 'verb', 'leave')
                    self._particles(low, i, 'leave', add)
                continue
            lemma = verb_lemma(w, self.lexicon)
            if lemma is None or self._is_noun(low, i):
                continue
            add(i, 'verb', lemma)
            self._particles(low, i, lemma, add)
        return [found[i] for i in sorted(found)]

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Character spans ``(start, end)`` of the motion words of ``text``."""
        return [(m.start, m.end) for m in self.find(text)]

    def token_mask(self, texts: Sequence[str], offsets: torch.Tensor,
                   valid: torch.Tensor | None = None) -> torch.Tensor:
        """Motion-word tokens of a tokenised batch.

        Args:
            texts: the B expressions that were tokenised.
            offsets: (B, L, 2) character offsets per token (fast tokenizer offset mapping).
            valid: (B, L) bool, tokens that may be selected (real, non-special tokens);
                default: tokens with a non-empty offset span.

        Returns:
            bool (B, L): True on tokens that overlap a motion word. A row is all False when the
            expression has none (the prompt then falls back, see ``TextPrompt``).
        """
        if len(texts) != offsets.shape[0]:
            raise ValueError(f'MotionWordFinder.token_mask: {len(texts)} texts but offsets for '
                             f'{offsets.shape[0]} expressions')
        rows = [spans_to_token_mask(self.spans(t), offsets[b],
                                    None if valid is None else valid[b])
                for b, t in enumerate(texts)]
        return torch.stack(rows) if rows else offsets.new_zeros((0, offsets.shape[1]), dtype=bool)

    # -- rules ---------------------------------------------------------------------------------
    def _is_noun(self, low: list[str], i: int) -> bool:
        """Whether the verb-looking word at ``i`` is used as a noun (or a plain adjective)."""
        w, prev = low[i], low[i - 1] if i > 0 else ''
        nxt = low[i + 1] if i + 1 < len(low) else ''
        if w.endswith('ing') and w not in self.lexicon:
            # "parking lot"; otherwise a participle: "the running dog"
            return nxt in _COMPOUND_HEADS
        if w in IRREGULAR_FORMS:
            return prev in _NOUN_MARKERS  # "the fallen tree"
        if w.endswith('ed'):
            return False  # "the parked car": a participle, kept
        # base and -s forms: "the swing", "in circles", "shaking head"
        return (prev in _NOUN_MARKERS or prev in _PREPOSITIONS
                or (prev.endswith('ing') and verb_lemma(prev, self.lexicon) is not None))

    def _particles(self, low: list[str], i: int, lemma: str, add) -> None:
        """Add the direction particles (and ``still``) attached to the verb at ``i``."""
        j = i + 1
        skipped = 0
        while j < len(low) and skipped < 2 and (low[j] in _ADVERBS or (
                low[j].endswith('ly') and low[j] not in ('only', 'fly'))):
            j, skipped = j + 1, skipped + 1
        if j >= len(low):
            return
        w = low[j]
        if w == 'still':
            if lemma in STILL_VERBS:
                add(j, 'state', 'still')
            return
        if w in DIRECTION_PARTICLES:
            if self._is_preposition(low, j, lemma):
                return
            add(j, 'particle', w)
            # "left and right", "back and forth"
            while j + 2 < len(low) and low[j + 1] in ('and', 'or') and (
                    low[j + 2] in DIRECTION_PARTICLES or low[j + 2] == 'forth'):
                add(j + 2, 'particle', low[j + 2])
                j += 2
            return
        if w in ('to', 'towards', 'toward'):
            k = j + 1
            if k < len(low) and low[k] in ('the', 'its', 'their', 'his', 'her'):
                k += 1
            if k < len(low) and low[k] in ('left', 'right'):
                add(k, 'particle', low[k])
            return
        if w == 'from':
            # "from (the) left to (the) right"
            k = j + 1
            if k < len(low) and low[k] == 'the':
                k += 1
            if k + 1 < len(low) and low[k] in ('left', 'right') and low[k + 1] == 'to':
                m = k + 2
                if m < len(low) and low[m] == 'the':
                    m += 1
                if m < len(low) and low[m] in ('left', 'right'):
                    add(k, 'particle', low[k])
                    add(m, 'particle', low[m])

    @staticmethod
    def _is_preposition(low: list[str], j: int, lemma: str) -> bool:
        """Whether the particle at ``j`` heads a noun phrase ("up the tree") rather than ending
        the verb phrase ("flies away")."""
        w = low[j]
        if w not in PREPOSITIONAL_PARTICLES or w in PHRASAL_VERBS.get(lemma, ()):
            return False
        nxt = low[j + 1] if j + 1 < len(low) else ''
        return not (not nxt or nxt in _PARTICLE_FOLLOWERS or nxt.endswith('ly'))


def spans_to_token_mask(spans: Sequence[tuple[int, int]], offsets: torch.Tensor,
                        valid: torch.Tensor | None = None) -> torch.Tensor:
    """Tokens whose character span overlaps one of ``spans``.

    Args:
        spans: character spans ``(start, end)`` (end exclusive).
        offsets: (L, 2) token character offsets; special and padding tokens have ``(0, 0)``.
        valid: (L,) bool, tokens that may be selected; default: non-empty offset spans.

    Returns:
        bool (L,).
    """
    offsets = torch.as_tensor(offsets)
    start, end = offsets[:, 0], offsets[:, 1]
    mask = torch.zeros(offsets.shape[0], dtype=torch.bool, device=offsets.device)
    for s, e in spans:
        mask |= (start < e) & (end > s)
    mask &= end > start
    if valid is not None:
        mask &= valid.to(device=mask.device, dtype=torch.bool)
    return mask
