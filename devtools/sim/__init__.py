"""What streaming saves over batch sync, measured on one seeded demand trace (docs/KPIS.md).

`python -m devtools.sim` generates the trace (`trace`), replays it through one event-driven
model of the retailer (`model`) once per sync policy, batch refreshes every N minutes and
Tally's streaming at its measured latency (`stack` drives the real worker to measure it and
to check the model's ledger accounting against the real one), and writes the report
(`report`): a JSON file and a PNG plot in devtools/sim/results/.
"""
