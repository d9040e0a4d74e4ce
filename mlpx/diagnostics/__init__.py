"""Diagnostics: commands that check mlpx's arithmetic rather than train a model.

:mod:`mlpx.diagnostics.gradcheck` compares the NumPy backend's hand-written gradients with
finite differences and PyTorch autograd (``mlpx gradcheck``);
:mod:`mlpx.diagnostics.backprop` runs one forward and one backward pass through a tiny
network given with its weights and shows every number (``mlpx backprop``);
:mod:`mlpx.diagnostics.crossentropy` shows why cross-entropy is computed through log-sum-exp
(``mlpx crossentropy-demo``).
"""
