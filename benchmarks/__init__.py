"""The batchtts benchmark suite: ``python -m benchmarks [--quick]`` from the repository root.

Sections, each a module: ``throughput`` (batchtts and the naive SDK script against an in-process
emulator with latency), ``faults`` (the same under busy/5xx/cut faults: wall time, whole clips,
credits billed), ``client_cost`` (batchtts' own CPU and memory beside the minimal client's, emulator apart),
``rerun`` (the nightly re-run of a manifest that is already done), ``head_of_line`` (a backlog
on one model group must not hold back another group's jobs), ``startup`` (``batchtts --version``
and ``--help`` beside the interpreter's floor) and ``plan_scale`` (``batchtts plan`` of a
1,000,000-row manifest). Shared parts: ``manifests`` (CSV manifests), ``naive_sdk`` (the script a
typical user writes with the official SDK), ``minimal_client`` (the least an aiohttp client can do
to write the same files: the physical reference), ``procs`` (child processes and their resource
usage), ``emulated`` (in-process emulator helpers) and ``tables`` (aligned text tables, machine
facts).
"""
