"""Analyses that read both a dataset and its scores: the rule baselines of synthetic MeViS-M.

This floor sits above :mod:`tgl_mm.datasets` and :mod:`tgl_mm.evaluation` (it imports both);
nothing below imports it (``docs/design.md``).
"""
from .rule_baselines import RULES, format_rule_table, score_rules

__all__ = ['RULES', 'format_rule_table', 'score_rules']
