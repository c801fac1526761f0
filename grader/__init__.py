"""Autograder for the `exploding_gradients` assignment.

Modules, in the order a submission meets them: ``submission`` (load it), ``policy``
(read its code), ``sandbox`` and ``worker`` (run it in another process), ``cases``
(hidden inputs), ``checks`` (one check per contract function), ``compare`` (numbers),
``mistakes`` (diagnose known errors), ``results`` (reports), ``cli``.
"""
