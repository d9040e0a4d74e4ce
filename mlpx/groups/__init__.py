"""Groups of runs: a sweep (a parameter over values and seeds) and a cross-validation (one
run per fold), planned by :mod:`.plan`, run by :mod:`.runner` through an executor of
:mod:`.executors`, summarised by :mod:`.results`."""
