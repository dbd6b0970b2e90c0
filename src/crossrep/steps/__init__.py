"""The pipeline's steps, one module per Snakemake rule (named after it), each with one
``run(*, ...)``: read the inputs, call the library, write the outputs atomically.

A step takes its paths and wildcards as keywords and ``params``: params.yaml, or any
sub-tree of it holding the keys the step reads. Which keys those are is said once, in
``crossrep.step_keys`` (the rules pass exactly those). Each module
imports only what its step runs, so ``crossrep.provenance`` can tell which jobs an edit
of the library touches; this package's ``__init__`` imports nothing.
"""
