"""Compile: a validated pack becomes one typed, immutable plan (``plan``), the only thing a
back-end reads.

``compiler.compile_pack`` runs the per-concept compilers — ``parameters``, ``windows``,
``facts``, ``exclusions``, ``criteria``, ``scores``, ``groups``, ``rollups``, ``measures``,
``history``, ``allocation``, ``procedures``, ``validity``, ``review``, ``calendar`` — over a
shared ``context`` (the pack, its problems, locations and scopes); ``expressions`` checks
every expression against a typed scope and keeps its tree.

May import ``errors``, ``time``, ``records`` and ``pack``; never a back-end.
"""
